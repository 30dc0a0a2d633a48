#!/usr/bin/env bash
# Checks the example gateway rulesets (examples/firewall/) in network
# namespaces, without any Meerkat binary:
#   - a host outside the suspected set goes only to NFLOG (IDS path);
#   - a host in the set goes only to NFQUEUE (IPS path), and with nobody
#     listening on the queue its traffic still flows (--queue-bypass);
#   - for nftables on kernels without nft "queue", the mark + iptables
#     fallback is what gets loaded.
# Real traffic: OpenSSH client and paramiko (fake agent) against a real sshd.
#
# usage: tests/firewall-paths.sh [--firewall nftables|iptables]   (default: both)
# Exit status 0 when every check passed; skips (status 0, with a note) when
# not root or namespaces are unavailable.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KINDS=(nftables iptables)
if [[ ${1:-} == --firewall ]]; then
    KINDS=("${2:?--firewall needs nftables or iptables}")
elif [[ ${1:-} == --one ]]; then
    KIND="${2:?}"
    # shellcheck source=../scripts/lib/netns.sh
    source "$REPO/scripts/lib/netns.sh"
    FW_EXAMPLES="$REPO/examples/firewall"
    # shellcheck source=../examples/fake-ssh-agent/firewall.sh
    source "$REPO/examples/fake-ssh-agent/firewall.sh"
    PYTHON="${PYTHON:-/usr/bin/python3}"
    WORK="$(mktemp -d)"
    netns_on_cleanup "rm -rf '$WORK'"
    netns_setup_cleanup_trap
    FAILED=0
    check() { if eval "$2"; then echo "ok:   [$KIND] $1"; else echo "FAIL: [$KIND] $1 ($2)"; FAILED=1; fi; }

    netns_create_topology
    netns_start_sshd "$NS_SERVER" "$NETNS_SERVER_IP" "$WORK/sshd"
    fw_setup "$NS_GATEWAY" "$KIND"
    echo "      [$KIND] firewall mode: $FW_MODE"

    read -r q0 l0 < <(fw_path_counts "$NS_GATEWAY")
    netns_ssh "$NS_CLIENT" "$NETNS_SERVER_IP" true && ok_ssh=1 || ok_ssh=0
    sleep 0.5 # let the TCP teardown of the session pass the gateway
    read -r q1 l1 < <(fw_path_counts "$NS_GATEWAY")
    check "OpenSSH login from the client works" '[[ $ok_ssh -eq 1 ]]'
    check "client traffic went to NFLOG ($((l1 - l0)) packets)" '[[ $l1 -gt $l0 ]]'
    check "client traffic did not go to NFQUEUE ($((q1 - q0)) packets)" '[[ $q1 -eq $q0 ]]'

    fw_set_add "$NS_GATEWAY" "$NETNS_ATTACKER_IP" 60
    check "attacker is in the suspected set" 'fw_set_has "$NS_GATEWAY" "$NETNS_ATTACKER_IP"'
    check "client is not in the suspected set" '! fw_set_has "$NS_GATEWAY" "$NETNS_CLIENT_IP"'
    agent_out="$(netns_exec "$NS_ATTACKER" "$PYTHON" "$REPO/examples/fake-ssh-agent/fake_agent.py" \
        "$NETNS_SERVER_IP" --timeout 5)" && agent_rc=0 || agent_rc=$?
    echo "      $agent_out"
    read -r q2 l2 < <(fw_path_counts "$NS_GATEWAY")
    check "suspected host still connects with no sensor on the queue (bypass)" '[[ $agent_rc -eq 0 ]]'
    check "suspected host traffic went to NFQUEUE ($((q2 - q1)) packets)" '[[ $q2 -gt $q1 ]]'
    check "suspected host traffic did not go to NFLOG ($((l2 - l1)) packets)" '[[ $l2 -eq $l1 ]]'

    fw_set_del "$NS_GATEWAY" "$NETNS_ATTACKER_IP"
    check "attacker left the set" '! fw_set_has "$NS_GATEWAY" "$NETNS_ATTACKER_IP"'
    if [[ $KIND == nftables ]] && ! fw_nft_has_queue "$NS_GATEWAY"; then
        check "fallback mode chosen where nft queue is missing" '[[ $FW_MODE == nft-mark-fallback ]]'
    fi
    exit "$FAILED"
fi

if [[ $(id -u) -ne 0 ]] || ! ip netns list >/dev/null 2>&1; then
    echo "note: skipping firewall path tests: they need root and ip netns"
    exit 0
fi
rc=0
for k in "${KINDS[@]}"; do
    NETNS_SUFFIX="$$-${k:0:3}" bash "$0" --one "$k" || rc=1
done
if [[ $rc -eq 0 ]]; then echo "firewall-paths: all checks passed"; else echo "firewall-paths: FAILED"; fi
exit "$rc"
