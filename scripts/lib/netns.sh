# shellcheck shell=bash
# Network-namespace test topology for Meerkat tests, demos and benchmarks.
#
# Source this file from a bash script, then:
#
#   netns_require_root || exit 0          # prints a note and returns 1 when not possible
#   netns_setup_cleanup_trap              # cleanup on EXIT, INT, TERM (idempotent)
#   netns_create_topology                 # attacker + client -- gateway -- server
#   netns_spawn "$NS_GATEWAY" "$LOG" my-daemon --flag   # background, killed on cleanup
#   netns_start_sshd "$NS_SERVER" "$NETNS_SERVER_IP" "$WORKDIR"
#   netns_ssh "$NS_CLIENT" "$NETNS_SERVER_IP" true
#
# Layout (addresses from the documentation ranges only):
#
#   mk-attacker-PID  198.51.100.66/24  2001:db8:51::66/64  --+
#                                                            +-- br0 in mk-gateway-PID
#   mk-client-PID    198.51.100.10/24  2001:db8:51::10/64  --+   198.51.100.1/24 2001:db8:51::1/64
#   mk-server-PID    203.0.113.22/24   2001:db8:113::22/64 ----- eth-srv in mk-gateway-PID
#                                                                203.0.113.1/24  2001:db8:113::1/64
#
# Every veth is created directly inside its namespaces, so nothing is added to
# the caller's own network namespace. The gateway forwards (IPv4 and IPv6);
# netfilter rules are up to the caller. Names carry a unique suffix
# (NETNS_SUFFIX, default: the PID of the sourcing shell), so several runs can
# coexist.

NETNS_SUFFIX="${NETNS_SUFFIX:-$$}"
NS_ATTACKER="mk-attacker-${NETNS_SUFFIX}"
NS_CLIENT="mk-client-${NETNS_SUFFIX}"
NS_GATEWAY="mk-gateway-${NETNS_SUFFIX}"
NS_SERVER="mk-server-${NETNS_SUFFIX}"

NETNS_ATTACKER_IP=198.51.100.66
NETNS_CLIENT_IP=198.51.100.10
NETNS_GW_OUTSIDE_IP=198.51.100.1
NETNS_GW_INSIDE_IP=203.0.113.1
NETNS_SERVER_IP=203.0.113.22
NETNS_ATTACKER_IP6=2001:db8:51::66
NETNS_CLIENT_IP6=2001:db8:51::10
NETNS_GW_OUTSIDE_IP6=2001:db8:51::1
NETNS_GW_INSIDE_IP6=2001:db8:113::1
NETNS_SERVER_IP6=2001:db8:113::22

# Namespaces created by this shell, and background PIDs started by netns_spawn.
NETNS_CREATED=()
NETNS_PIDS=()
# Extra cleanup commands (strings run with eval, last registered runs first).
NETNS_CLEANUP_HOOKS=()
NETNS_CLEANED=0

netns_log() { printf '[netns] %s\n' "$*" >&2; }

# Returns 0 when namespaces can be used; otherwise prints why and returns 1.
netns_require_root() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "note: skipping: network namespaces need root (uid is $(id -u))" >&2
        return 1
    fi
    if ! command -v ip >/dev/null 2>&1; then
        echo "note: skipping: the 'ip' command (iproute2) is not installed" >&2
        return 1
    fi
    local probe="mk-probe-${NETNS_SUFFIX}-$RANDOM"
    if ! ip netns add "$probe" 2>/dev/null; then
        echo "note: skipping: 'ip netns add' does not work here (no CAP_SYS_ADMIN or no netns support)" >&2
        return 1
    fi
    ip netns del "$probe" 2>/dev/null || true
    return 0
}

# Runs a command inside a namespace.
netns_exec() {
    local ns="$1"
    shift
    ip netns exec "$ns" "$@"
}

# Creates one namespace and remembers it for cleanup. Loopback comes up.
netns_add() {
    local ns="$1"
    if ip netns list | awk '{print $1}' | grep -qx -- "$ns"; then
        netns_log "namespace $ns already exists: refusing to reuse it (set NETNS_SUFFIX to something unique)"
        return 1
    fi
    ip netns add "$ns" || return 1
    NETNS_CREATED+=("$ns")
    ip -n "$ns" link set lo up
}

# Connects namespace $1 (interface $2, address $3 + optional v6 $4) to the
# gateway bridge or gateway interface $5 (created as veth peer in gateway).
_netns_link() {
    local ns="$1" ifname="$2" addr4="$3" addr6="$4" gw_if="$5"
    ip -n "$NS_GATEWAY" link add "$gw_if" type veth peer name "$ifname" netns "$ns" || return 1
    ip -n "$ns" addr add "$addr4" dev "$ifname"
    ip -n "$ns" -6 addr add "$addr6" dev "$ifname" nodad
    ip -n "$ns" link set "$ifname" up
    ip -n "$NS_GATEWAY" link set "$gw_if" up
}

# Builds the four-namespace topology described at the top of this file.
netns_create_topology() {
    local ns
    for ns in "$NS_GATEWAY" "$NS_ATTACKER" "$NS_CLIENT" "$NS_SERVER"; do
        netns_add "$ns" || return 1
    done
    # Outside: a bridge in the gateway joins attacker and client.
    ip -n "$NS_GATEWAY" link add br0 type bridge || return 1
    ip -n "$NS_GATEWAY" link set br0 up
    ip -n "$NS_GATEWAY" addr add "$NETNS_GW_OUTSIDE_IP/24" dev br0
    ip -n "$NS_GATEWAY" -6 addr add "$NETNS_GW_OUTSIDE_IP6/64" dev br0 nodad
    _netns_link "$NS_ATTACKER" eth0 "$NETNS_ATTACKER_IP/24" "$NETNS_ATTACKER_IP6/64" veth-att || return 1
    _netns_link "$NS_CLIENT" eth0 "$NETNS_CLIENT_IP/24" "$NETNS_CLIENT_IP6/64" veth-cli || return 1
    ip -n "$NS_GATEWAY" link set veth-att master br0
    ip -n "$NS_GATEWAY" link set veth-cli master br0
    # Inside: one veth to the server.
    _netns_link "$NS_SERVER" eth0 "$NETNS_SERVER_IP/24" "$NETNS_SERVER_IP6/64" eth-srv || return 1
    ip -n "$NS_GATEWAY" addr add "$NETNS_GW_INSIDE_IP/24" dev eth-srv
    ip -n "$NS_GATEWAY" -6 addr add "$NETNS_GW_INSIDE_IP6/64" dev eth-srv nodad
    # Routes.
    for ns in "$NS_ATTACKER" "$NS_CLIENT"; do
        ip -n "$ns" route add default via "$NETNS_GW_OUTSIDE_IP"
        ip -n "$ns" -6 route add default via "$NETNS_GW_OUTSIDE_IP6"
    done
    ip -n "$NS_SERVER" route add default via "$NETNS_GW_INSIDE_IP"
    ip -n "$NS_SERVER" -6 route add default via "$NETNS_GW_INSIDE_IP6"
    # Forwarding in the gateway only.
    netns_exec "$NS_GATEWAY" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1
    # With br_netfilter loaded on the host, frames bridged between attacker
    # and client (neighbour discovery, MLD) would also cross the FORWARD
    # hooks; only routed traffic should. These sysctls are per namespace.
    local k
    for k in bridge-nf-call-iptables bridge-nf-call-ip6tables bridge-nf-call-arptables; do
        if netns_exec "$NS_GATEWAY" test -e "/proc/sys/net/bridge/$k"; then
            netns_exec "$NS_GATEWAY" sysctl -qw "net.bridge.$k=0" || true
        fi
    done
    # Quick reachability check across the gateway (no firewall yet), when
    # ping is installed (iputils-ping).
    if command -v ping >/dev/null 2>&1 &&
        ! netns_exec "$NS_CLIENT" ping -c1 -W2 "$NETNS_SERVER_IP" >/dev/null 2>&1; then
        netns_log "topology built but $NS_CLIENT cannot ping $NETNS_SERVER_IP through $NS_GATEWAY"
        return 1
    fi
    return 0
}

# Starts "$@" in namespace $1 in the background, output to file $2; its PID
# goes into NETNS_LAST_PID and is killed on cleanup.
netns_spawn() {
    local ns="$1" log="$2"
    shift 2
    ip netns exec "$ns" "$@" >>"$log" 2>&1 &
    NETNS_LAST_PID=$!
    NETNS_PIDS+=("$NETNS_LAST_PID")
}

# Registers a command string to run (with eval) at cleanup, before namespaces go.
netns_on_cleanup() {
    NETNS_CLEANUP_HOOKS+=("$1")
}

# Waits until a TCP port listens inside a namespace. Args: ns port [timeout_s]
netns_wait_listen() {
    local ns="$1" port="$2" timeout="${3:-10}" i
    for ((i = 0; i < timeout * 20; i++)); do
        if netns_exec "$ns" ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
            return 0
        fi
        sleep 0.05
    done
    netns_log "nothing listens on TCP port $port in $ns after ${timeout}s"
    return 1
}

# Starts a real OpenSSH sshd in namespace $1 listening on $2:22, with all
# files (host key, config, client key, pid file, log) under directory $3.
# Root may log in with the generated key only. Sets NETNS_SSH_KEY (client
# private key) and NETNS_SSHD_LOG.
netns_start_sshd() {
    local ns="$1" addr="$2" dir="$3"
    local sshd_bin="${SSHD:-/usr/sbin/sshd}"
    if [[ ! -x $sshd_bin ]]; then
        netns_log "sshd not found at $sshd_bin: install openssh-server"
        return 1
    fi
    mkdir -p "$dir" && chmod 700 "$dir"
    # sshd refuses to start without its privilege-separation directory.
    mkdir -p /run/sshd && chmod 755 /run/sshd
    ssh-keygen -q -t ed25519 -N '' -C meerkat-test-host -f "$dir/host_ed25519" || return 1
    ssh-keygen -q -t ed25519 -N '' -C meerkat-test-client -f "$dir/client_ed25519" || return 1
    cp "$dir/client_ed25519.pub" "$dir/authorized_keys"
    cat >"$dir/sshd_config" <<EOF
ListenAddress $addr
Port 22
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
PrintMotd no
LogLevel INFO
EOF
    NETNS_SSH_KEY="$dir/client_ed25519"
    NETNS_SSHD_LOG="$dir/sshd.log"
    netns_spawn "$ns" "$NETNS_SSHD_LOG" "$sshd_bin" -D -e -f "$dir/sshd_config"
    netns_wait_listen "$ns" 22 10
}

# Runs an OpenSSH client command from namespace $1 to root@$2, rest = remote command.
netns_ssh() {
    local ns="$1" addr="$2"
    shift 2
    netns_exec "$ns" ssh -F /dev/null -i "$NETNS_SSH_KEY" \
        -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 -o LogLevel=ERROR \
        "root@$addr" "$@"
}

# Kills everything started here and deletes the namespaces. Idempotent.
netns_cleanup() {
    [[ $NETNS_CLEANED -eq 1 ]] && return 0
    NETNS_CLEANED=1
    local i pid ns
    for ((i = ${#NETNS_CLEANUP_HOOKS[@]} - 1; i >= 0; i--)); do
        eval "${NETNS_CLEANUP_HOOKS[i]}" >/dev/null 2>&1 || true
    done
    for pid in "${NETNS_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for ns in "${NETNS_CREATED[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -TERM "$pid" 2>/dev/null || true
        done
    done
    # Give daemons a moment to exit cleanly, then force.
    for i in 1 2 3 4 5 6 7 8 9 10; do
        local alive=0
        for pid in "${NETNS_PIDS[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        for ns in "${NETNS_CREATED[@]}"; do
            [[ -n $(ip netns pids "$ns" 2>/dev/null) ]] && alive=1
        done
        [[ $alive -eq 0 ]] && break
        sleep 0.2
    done
    for ns in "${NETNS_CREATED[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
    done
    for pid in "${NETNS_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for ns in "${NETNS_CREATED[@]}"; do
        ip netns del "$ns" 2>/dev/null || netns_log "could not delete namespace $ns (delete it with: ip netns del $ns)"
    done
    NETNS_CREATED=()
    NETNS_PIDS=()
}

# Installs a trap that cleans up on exit and on INT/TERM (exit status 130/143).
netns_setup_cleanup_trap() {
    trap 'netns_cleanup' EXIT
    trap 'netns_cleanup; trap - EXIT; exit 130' INT
    trap 'netns_cleanup; trap - EXIT; exit 143' TERM
}
