#!/usr/bin/env bash
# Checks that the shipped examples are accepted by the programs that read
# them:
#   - meerkat-sensor -T with examples/sensor.toml and the demo's IPS rules;
#   - meerkat-dom --check with examples/dom.toml and with a copy that
#     includes examples/dom-heuristics.toml;
#   - the firewall rulesets load into a scratch network namespace (root only;
#     the native nft "queue" ruleset is skipped, with a note, on kernels
#     without nft_queue);
#   - install.sh/uninstall.sh stage and remove everything under a temp DESTDIR.
#
# usage: tests/examples-check.sh [--bin-dir DIR]   (default: target/release)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="$REPO/target/release"
[[ ${1:-} == --bin-dir ]] && BIN_DIR="${2:?--bin-dir needs a directory}"
EX="$REPO/examples"
FAILED=0
pass() { echo "ok:   $*"; }
fail() { echo "FAIL: $*"; FAILED=1; }
TMP="$(mktemp -d)"
NS=""
cleanup() {
    [[ -n $NS ]] && ip netns del "$NS" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

# --- sensor config + rules
if out="$("$BIN_DIR/meerkat-sensor" -T -c "$EX/sensor.toml" -S "$EX/rules/fake-ssh-agents.rules" 2>&1)"; then
    pass "meerkat-sensor -T accepts examples/sensor.toml + rules/fake-ssh-agents.rules"
else
    fail "meerkat-sensor -T rejected the examples:"
    sed 's/^/      /' <<<"$out"
fi

# --- DOM config, alone and with the heuristic pack
if out="$("$BIN_DIR/meerkat-dom" --check -c "$EX/dom.toml" 2>&1)"; then
    pass "meerkat-dom --check accepts examples/dom.toml"
else
    fail "meerkat-dom --check rejected examples/dom.toml:"
    sed 's/^/      /' <<<"$out"
fi
if [[ -f $EX/dom-heuristics.toml ]]; then
    { echo "include = [\"$EX/dom-heuristics.toml\"]"; cat "$EX/dom.toml"; } >"$TMP/dom-with-pack.toml"
    if out="$("$BIN_DIR/meerkat-dom" --check -c "$TMP/dom-with-pack.toml" 2>&1)"; then
        pass "meerkat-dom --check accepts examples/dom.toml + dom-heuristics.toml ($out)"
    else
        fail "meerkat-dom --check rejected dom.toml with the heuristic pack:"
        sed 's/^/      /' <<<"$out"
    fi
fi

# --- firewall rulesets, in a scratch namespace
if [[ $(id -u) -eq 0 ]] && ip netns add "mk-excheck-$$" 2>/dev/null; then
    NS="mk-excheck-$$"
    nsx() { ip netns exec "$NS" "$@"; }
    nsx nft add table inet probe && nsx nft add chain inet probe c
    if nsx nft add rule inet probe c queue num 0 bypass 2>/dev/null; then
        nsx nft delete table inet probe
        nsx nft -f "$EX/firewall/nftables.nft" && nsx nft -f "$EX/firewall/nftables.nft" &&
            pass "firewall/nftables.nft loads (twice: idempotent)" || fail "firewall/nftables.nft does not load"
        nsx nft delete table inet meerkat
    else
        nsx nft delete table inet probe
        echo "note: this kernel has no nft queue expression: loading firewall/nftables.nft with 'queue' replaced by 'accept'"
        sed 's/queue num 0 bypass/accept/' "$EX/firewall/nftables.nft" >"$TMP/nftables-noqueue.nft"
        if nsx nft -f "$TMP/nftables-noqueue.nft" && nsx nft -f "$TMP/nftables-noqueue.nft"; then
            pass "firewall/nftables.nft loads apart from the queue statements"
        else
            fail "firewall/nftables.nft has errors besides the missing queue expression"
        fi
        nsx nft delete table inet meerkat
    fi
    nsx nft -f "$EX/firewall/nftables-mark-fallback.nft" && nsx nft -f "$EX/firewall/nftables-mark-fallback.nft" &&
        nsx iptables-restore --noflush <"$EX/firewall/iptables-mark-fallback.rules" &&
        nsx ip6tables-restore --noflush <"$EX/firewall/iptables-mark-fallback.rules" &&
        pass "firewall/nftables-mark-fallback.nft + iptables-mark-fallback.rules load" ||
        fail "the mark fallback rulesets do not load"
    nsx ipset restore -exist <"$EX/firewall/ipset.rules" &&
        nsx iptables-restore --noflush <"$EX/firewall/iptables-ipset.rules" &&
        nsx ip6tables-restore --noflush <"$EX/firewall/ip6tables-ipset.rules" &&
        pass "firewall/ipset.rules + iptables-ipset.rules + ip6tables-ipset.rules load" ||
        fail "the ipset/iptables rulesets do not load"
    nsx ipset destroy 2>/dev/null || true
else
    echo "note: firewall rulesets not loaded (needs root and ip netns)"
fi

# --- install / uninstall into a staging directory
if "$REPO/scripts/install.sh" --bin-dir "$BIN_DIR" --destdir "$TMP/stage" >"$TMP/install.log" 2>&1; then
    missing=0
    for f in usr/local/bin/meerkat-sensor usr/local/bin/meerkat-dom \
        etc/systemd/system/meerkat-sensor.service etc/systemd/system/meerkat-dom.service \
        usr/lib/sysusers.d/meerkat.conf etc/logrotate.d/meerkat \
        etc/meerkat/sensor.toml etc/meerkat/dom.toml etc/meerkat/rules/local.rules; do
        [[ -e $TMP/stage/$f ]] || { fail "install.sh did not install /$f"; missing=1; }
    done
    [[ $missing -eq 0 ]] && pass "install.sh --destdir installs binaries, units, sysusers, logrotate and configs"
    "$REPO/scripts/uninstall.sh" --destdir "$TMP/stage" --purge >/dev/null
    left="$(find "$TMP/stage" -type f | head -n 5)"
    [[ -z $left ]] && pass "uninstall.sh --purge removes every installed file" ||
        fail "uninstall.sh left files behind: $left"
else
    fail "install.sh --destdir failed:"
    sed 's/^/      /' "$TMP/install.log"
fi

if [[ $FAILED -ne 0 ]]; then
    echo "examples-check: FAILED"
    exit 1
fi
echo "examples-check: all checks passed"
