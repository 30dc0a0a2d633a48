#!/usr/bin/env bash
# EVE to Redis benchmark: NFQ throughput of meerkat-sensor at a fixed event
# rate, with EVE to a local Redis stream on, off, and pointed at a Redis
# that is down; events lost for Redis. One run, figures printed (no
# assertions).
#
#   bench/eve-redis.sh               # as root, from anywhere
#
#   client ns 198.51.100.2 --- gw ns (iptables FORWARD -j NFQUEUE 0) --- 203.0.113.2 server ns
#
# Traffic, all through NFQUEUE 0 (--queue-bypass):
#   - iperf3 TCP bulk to :5201 for SECS seconds: the throughput measured
#     (no rule matches it);
#   - iperf3 UDP to :5202 at a fixed packet rate (EVENTS_PPS, 100-byte
#     datagrams): each datagram matches an alert rule, so the sensor writes
#     about EVENTS_PPS alert events per second whatever the TCP rate.
# Variants, interleaved round-robin:
#   off    eve.json only
#   on     eve.json + [eve.redis] stream to a redis-server on a unix socket
#          (emptied before each run, MAXLEN ~ 1000000)
#   down   eve.json + [eve.redis] pointing at a socket nobody listens on
#
# Knobs (environment): RUNS (3), SECS (5), EVENTS_PPS (20000),
# MEERKAT_SENSOR (binary, default target/release/meerkat-sensor),
# BENCH_KEEP=1 (keep logs).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=bench/lib/common.sh
source "$HERE/lib/common.sh"

RUNS=${RUNS:-3}
SECS=${SECS:-5}
EVENTS_PPS=${EVENTS_PPS:-20000}
MEERKAT_SENSOR=${MEERKAT_SENSOR:-$ROOT/target/release/meerkat-sensor}
QUEUE=0

bench_require_root iptables iperf3 jq redis-server redis-cli
[[ -x $MEERKAT_SENSOR ]] || bench_die "$MEERKAT_SENSOR not found (cargo build --release -p meerkat-sensor, or set MEERKAT_SENSOR)"
bench_init eve-redis
T="$BENCH_TMP"

NS_C="mkb-rc-$$"
NS_G="mkb-rg-$$"
NS_S="mkb-rs-$$"
CLIENT_IP=198.51.100.2
SERVER_IP=203.0.113.2

# ---------------------------------------------------------------- topology
bench_ns "$NS_C"
bench_ns "$NS_G"
bench_ns "$NS_S"
ip -n "$NS_G" link add veth-c type veth peer name eth0 netns "$NS_C"
ip -n "$NS_G" link add veth-s type veth peer name eth0 netns "$NS_S"
ip -n "$NS_C" addr add "$CLIENT_IP/24" dev eth0
ip -n "$NS_G" addr add 198.51.100.1/24 dev veth-c
ip -n "$NS_G" addr add 203.0.113.1/24 dev veth-s
ip -n "$NS_S" addr add "$SERVER_IP/24" dev eth0
for l in "$NS_C eth0" "$NS_G veth-c" "$NS_G veth-s" "$NS_S eth0"; do
    read -r n i <<<"$l"
    ip -n "$n" link set "$i" up
    ip -n "$n" link set "$i" gso_max_size 65536 2>/dev/null || true
done
ip -n "$NS_C" route add default via 198.51.100.1
ip -n "$NS_S" route add default via 203.0.113.1
ip netns exec "$NS_G" sysctl -qw net.ipv4.ip_forward=1

gw() { ip netns exec "$NS_G" "$@"; }
gw iptables -A FORWARD -j NFQUEUE --queue-num "$QUEUE" --queue-bypass
bench_on_cleanup "ip netns exec $NS_G iptables -F FORWARD"

for port in 5201 5202; do
    bench_bg "$T/iperf3-server-$port.log" ip netns exec "$NS_S" iperf3 -s -B "$SERVER_IP" -p "$port"
    bench_wait 10 ip netns exec "$NS_S" ss -Hltn "sport = :$port" || bench_die "iperf3 -s -p $port did not start"
done

# Redis: our own, unix socket only, no persistence.
REDIS_SOCK="$T/redis.sock"
bench_bg "$T/redis.log" redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 \
    --save '' --appendonly no --dir "$T" --daemonize no
REDIS_PID=$BENCH_LAST_PID
bench_wait 10 redis-cli -s "$REDIS_SOCK" ping || bench_die "redis-server did not start: $(tail -3 "$T/redis.log")"
rcli() { redis-cli -s "$REDIS_SOCK" "$@"; }

cat >"$T/events.rules" <<'EOF'
alert udp any any -> any 5202 (msg:"BENCH eve-redis event"; dsize:>0; classtype:misc-activity; sid:9000101; rev:1;)
EOF

write_config() { # variant dir
    local v="$1" dir="$2"
    mkdir -p "$dir"
    {
        echo '[eve]'
        echo 'sensor_name = "bench-gw"'
        case "$v" in
        on) printf '[eve.redis]\nurl = "unix://%s"\nkey = "suricata"\nmaxlen = 1000000\n' "$REDIS_SOCK" ;;
        down) printf '[eve.redis]\nurl = "unix://%s/absent.sock"\n' "$T" ;;
        esac
    } >"$dir/sensor.toml"
}

# CPU time (ns, from schedstat) of the sensor's eve-redis thread, and of
# every thread of redis-server: the cost of the Redis output, which unlike
# the throughput does not depend much on what else runs on the machine.
thread_ns() { # pid comm
    local t
    for t in /proc/"$1"/task/*; do
        [[ $(cat "$t/comm" 2>/dev/null) == "$2" ]] && awk '{print $1}' "$t/schedstat" && return
    done
    echo 0
}
proc_ns() { { cat /proc/"$1"/task/*/schedstat 2>/dev/null || true; } | awk '{s += $1} END {print s + 0}'; }

nfq_portid() { gw cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null | awk -v q="$QUEUE" '$1 == q && $2 != 0 {print $2}'; }
bound() { [[ -n $(nfq_portid) ]]; }

# One measurement; appends to $T/runs.tsv:
# variant rep gbit udp_pps alerts redis_sent redis_lost xlen nfq_packets verdicted eve_dropped cpu status
# thread_us_per_event redis_server_us_per_event
run_one() {
    local v="$1" rep="$2"
    local dir="$T/$v-$rep" status=ok pid c0 c1 t0 t1 xlen
    write_config "$v" "$dir"
    rcli del suricata >/dev/null
    bench_bg "$dir/sensor.log" ip netns exec "$NS_G" "$MEERKAT_SENSOR" -c "$dir/sensor.toml" \
        -q "$QUEUE" -S "$T/events.rules" -l "$dir"
    pid=$BENCH_LAST_PID
    bench_wait 30 bound || status="invalid:not-bound"
    sleep 0.5
    c0=$(bench_cpu_ticks "$pid")
    local spid th0 th1 rs0 rs1
    # The sensor itself (ip netns exec execs it: same pid).
    spid=$pid
    th0=$(thread_ns "$spid" eve-redis)
    rs0=$(proc_ns "$REDIS_PID")
    t0=$(date +%s%N)
    timeout -k 2 $((SECS + 15)) ip netns exec "$NS_C" iperf3 -c "$SERVER_IP" -p 5202 -u -l 100 \
        -b $((EVENTS_PPS * 800)) -t "$SECS" -J >"$dir/udp.json" 2>"$dir/udp.err" &
    local udp=$!
    timeout -k 2 $((SECS + 15)) ip netns exec "$NS_C" iperf3 -c "$SERVER_IP" -p 5201 -t "$SECS" -J \
        --connect-timeout 5000 >"$dir/tcp.json" 2>"$dir/tcp.err" || status="invalid:iperf3-tcp"
    wait "$udp" || status="invalid:iperf3-udp"
    t1=$(date +%s%N)
    c1=$(bench_cpu_ticks "$pid")
    sleep 1
    th1=$(thread_ns "$spid" eve-redis)
    rs1=$(proc_ns "$REDIS_PID")
    bench_stop "$pid"
    xlen=$(rcli xlen suricata)
    local gbit pps cpu stats
    gbit=$(jq -r '(.end.sum_received.bits_per_second // empty) / 1e9 | . * 1000 | round / 1000' "$dir/tcp.json" 2>/dev/null || echo nan)
    [[ -n $gbit ]] || gbit=nan
    pps=$(jq -r '(.end.sum.packets // 0) / (.end.sum.seconds // 1) | round' "$dir/udp.json" 2>/dev/null || echo nan)
    cpu=$(awk -v a="$c0" -v b="$c1" -v w=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", (b - a) / hz / (w / 1e9)}')
    stats=$(grep '"event_type":"stats"' "$dir/eve.json" | tail -1)
    local alerts sent lost pk vd dr
    alerts=$(grep -c '"event_type":"alert"' "$dir/eve.json" || true)
    sent=$(jq -r '.stats.capture.eve.redis_sent // "-"' <<<"$stats")
    lost=$(jq -r '.stats.capture.eve.redis_lost // "-"' <<<"$stats")
    pk=$(jq -r '.stats.capture."nfq:0".packets' <<<"$stats")
    vd=$(jq -r '.stats.capture."nfq:0" | .accepted + .dropped' <<<"$stats")
    dr=$(jq -r '.stats.capture.eve.dropped' <<<"$stats")
    local thus rsus
    thus=$(awk -v a="$th0" -v b="$th1" -v n="$alerts" 'BEGIN { if (n > 0 && b > 0) printf "%.2f", (b - a) / 1000 / n; else print "nan" }')
    rsus=nan
    [[ $v == on ]] && rsus=$(awk -v a="$rs0" -v b="$rs1" -v n="$alerts" 'BEGIN { if (n > 0) printf "%.2f", (b - a) / 1000 / n; else print "nan" }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$rep" "$gbit" "$pps" "$alerts" "$sent" "$lost" \
        "$xlen" "$pk" "$vd" "$dr" "$cpu" "$status" "$thus" "$rsus" >>"$T/runs.tsv"
    bench_log "$(printf '%-4s run %d: %7s Gbit/s  udp %6s pps  alerts %7s  redis sent %7s lost %7s  XLEN %-7s  nfq %s/%s verdicted  eve dropped %s  cpu %s  eve-redis %s us/ev  redis-server %s us/ev  %s' \
        "$v" "$rep" "$gbit" "$pps" "$alerts" "$sent" "$lost" "$xlen" "$vd" "$pk" "$dr" "$cpu" "$thus" "$rsus" "$status")"
}

# Warm-up, which also proves the path works.
ip netns exec "$NS_C" iperf3 -c "$SERVER_IP" -t 1 >"$T/warmup.log" 2>&1 ||
    bench_die "iperf3 from $NS_C cannot reach $SERVER_IP through $NS_G: $(tail -3 "$T/warmup.log")"

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
VARIANTS=(off on down)
bench_log "variants: ${VARIANTS[*]}; $RUNS runs of $SECS s each, interleaved; $EVENTS_PPS alert events/s"
: >"$T/runs.tsv"
for ((rep = 1; rep <= RUNS; rep++)); do
    for v in "${VARIANTS[@]}"; do
        run_one "$v" "$rep"
    done
done

# ---------------------------------------------------------------- report
col() { awk -F'\t' -v v="$1" -v c="$2" '$1 == v && $13 == "ok" {print $c}' "$T/runs.tsv"; }
# (bench_median fails under pipefail when no value is numeric: "nan".)
med() { bench_median $(col "$1" "$2") || true; }
OFF=$(med off 3)
echo
echo "== meerkat-sensor NFQ throughput with EVE to Redis (iperf3 TCP + $EVENTS_PPS alert events/s, all through NFQUEUE) =="
echo "   $(uname -r), $(nproc) cores, $RUNS x ${SECS}s per variant (median), load average at start: $LOAD0"
echo
printf '%-5s %-20s %8s %10s %10s %12s %12s %8s %6s %12s %12s\n' redis "Gbit/s med (min-max)" "x off" "udp pps" "alerts" "redis sent" "redis lost" "lost %" "cpu" "thread us/ev" "server us/ev"
for v in "${VARIANTS[@]}"; do
    g=$(med "$v" 3)
    vals=$(col "$v" 3)
    # shellcheck disable=SC2086
    range="$(bench_min $vals)-$(bench_max $vals)"
    sent=$(med "$v" 6)
    lost=$(med "$v" 7)
    pct=$(awk -v l="$lost" -v s="$sent" 'BEGIN { if (l == "nan" || s == "nan" || l + s == 0) print "-"; else printf "%.1f", 100 * l / (l + s) }')
    printf '%-5s %-20s %8s %10s %10s %12s %12s %8s %6s %12s %12s\n' "$v" "$g ($range)" "$(bench_ratio "$g" "$OFF")" \
        "$(med "$v" 4)" "$(med "$v" 5)" "$sent" "$lost" "$pct" "$(med "$v" 12)" "$(med "$v" 14)" "$(med "$v" 15)"
done
bad=$(awk -F'\t' '$9 != $10 {n++} END {print n + 0}' "$T/runs.tsv")
echo
echo "x off = median / median with Redis off; redis sent/lost = the last stats event"
echo "(capture.eve.redis_sent/redis_lost; XLEN after the run in the per-run lines); every run:"
echo "packets verdicted == packets received; cpu = sensor cores; thread us/ev = CPU time of the"
echo "sensor's eve-redis thread per alert event, server us/ev = redis-server's (schedstat)."
echo "(runs where not: $bad); invalid runs: $(awk -F'\t' '$13 != "ok" {n++} END {print n + 0}' "$T/runs.tsv")."
echo
echo "Markdown rows for bench/RESULTS.md:"
for v in "${VARIANTS[@]}"; do
    g=$(med "$v" 3)
    echo "| $(date -u +%F) | $v | $g ($(bench_min $(col "$v" 3))–$(bench_max $(col "$v" 3))) | $(bench_ratio "$g" "$OFF") | $(med "$v" 4) | $(med "$v" 6) | $(med "$v" 7) | $(med "$v" 14) | $(med "$v" 15) | $(med "$v" 12) | n=$(col "$v" 3 | wc -l) |"
done
echo
echo "Per-run data: $T/runs.tsv (only kept with BENCH_KEEP=1)"
