# shellcheck shell=bash
# The three-namespace gateway of bench/sensor.sh and bench/flame.sh
# (source bench/lib/common.sh first; call after bench_init):
#
#   client ns 198.51.100.2 --- 198.51.100.1  gw ns  203.0.113.1 --- 203.0.113.2 server ns
#
# gateway_up sets NS_C, NS_G, NS_S, CLIENT_IP, SERVER_IP; the namespaces
# are deleted by bench_cleanup.

gateway_up() {
    NS_C="mkb-cli-$$"
    NS_G="mkb-gw-$$"
    NS_S="mkb-srv-$$"
    CLIENT_IP=198.51.100.2
    SERVER_IP=203.0.113.2
    bench_ns "$NS_C"
    bench_ns "$NS_G"
    bench_ns "$NS_S"
    ip -n "$NS_G" link add veth-c type veth peer name eth0 netns "$NS_C"
    ip -n "$NS_G" link add veth-s type veth peer name eth0 netns "$NS_S"
    ip -n "$NS_C" addr add "$CLIENT_IP/24" dev eth0
    ip -n "$NS_G" addr add 198.51.100.1/24 dev veth-c
    ip -n "$NS_G" addr add 203.0.113.1/24 dev veth-s
    ip -n "$NS_S" addr add "$SERVER_IP/24" dev eth0
    local l n i
    for l in "$NS_C eth0" "$NS_G veth-c" "$NS_G veth-s" "$NS_S eth0"; do
        read -r n i <<<"$l"
        ip -n "$n" link set "$i" up
        # Keep GSO super-packets at 64 KiB on the inspected path (no BIG TCP).
        ip -n "$n" link set "$i" gso_max_size 65536 2>/dev/null || true
    done
    ip -n "$NS_C" route add default via 198.51.100.1
    ip -n "$NS_S" route add default via 203.0.113.1
    ip netns exec "$NS_G" sysctl -qw net.ipv4.ip_forward=1
}
