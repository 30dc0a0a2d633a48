#!/usr/bin/env bash
# Flame graphs of meerkat-sensor's data path with a real ruleset loaded
# (issue 10's profile-driven loop): perf (Debian's linux-perf) samples the
# sensor while traffic crosses it, inferno draws the SVGs.
#
#   bench/flame.sh [nfq|nflog|pcap]...     # as root; default: nfq nflog
#
#   nfq    iperf3 through the gateway of bench/sensor.sh, FORWARD -j NFQUEUE
#   nflog  the same with -j NFLOG (copies)
#   pcap   meerkat-sensor -r PCAP, the whole run (PCAP=FILE; default: the
#          mix that bench/offline.sh builds)
#
# The sensor is built with frame pointers into target/flame (a separate
# target dir, so the normal release build is untouched), and sampled at
# FREQ Hz (999) for SECS s (10) of traffic, after the rules are loaded:
# the nfq/nflog graphs show packet work, not rule loading. Output: OUT (default
# bench/flame-out/) gets <mode>.svg, <mode>.folded (inferno-collapse-perf)
# and <mode>.top.txt (the 30 hottest functions, self time).
#
# Knobs: RULES (default: all of ../shared/reference/etopen), SECS, FREQ,
# OUT, MIX/PCAP, FLAME_TARGET (the target dir, default target/flame),
# BENCH_KEEP=1. Needs perf, iperf3, iptables, and inferno
# (`cargo install inferno`).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=bench/lib/common.sh
source "$HERE/lib/common.sh"

MODES=("$@")
[[ ${#MODES[@]} -gt 0 ]] || MODES=(nfq nflog)
SECS=${SECS:-10}
FREQ=${FREQ:-999}
OUT=${OUT:-$HERE/flame-out}
ETOPEN_DIR="$ROOT/../shared/reference/etopen"
export PATH="$PATH:$HOME/.cargo/bin"

bench_require_root perf iperf3 iptables inferno-collapse-perf inferno-flamegraph
bench_init flame
T="$BENCH_TMP"
mkdir -p "$OUT"

if [[ -n ${RULES:-} ]]; then
    cp "$RULES" "$T/flame.rules"
else
    compgen -G "$ETOPEN_DIR/*.rules" >/dev/null || bench_die "no ET Open rules in $ETOPEN_DIR"
    cat "$ETOPEN_DIR"/*.rules >"$T/flame.rules"
fi

FLAME_TARGET=${FLAME_TARGET:-$ROOT/target/flame}
bench_log "building meerkat-sensor with frame pointers ($FLAME_TARGET)"
(cd "$ROOT" && CARGO_TARGET_DIR="$FLAME_TARGET" RUSTFLAGS="-C force-frame-pointers=yes" \
    cargo build --release -p meerkat-sensor >"$T/build.log" 2>&1) ||
    bench_die "build failed: $(tail -5 "$T/build.log")"
SENSOR="$FLAME_TARGET/release/meerkat-sensor"

# record MODE PID: samples PID for SECS s, then draws the graph.
record() {
    local mode="$1" pid="$2"
    perf record -F "$FREQ" -g -p "$pid" -o "$T/$mode.data" -- sleep "$SECS" >"$T/$mode.perf.log" 2>&1 ||
        bench_die "perf record failed: $(tail -3 "$T/$mode.perf.log")"
    draw "$mode"
}

# draw MODE: SVG, folded stacks and top list from $T/MODE.data.
draw() {
    local mode="$1"
    perf script -i "$T/$mode.data" 2>/dev/null | inferno-collapse-perf >"$OUT/$mode.folded"
    inferno-flamegraph --title "meerkat-sensor $mode, $(grep -c . "$T/flame.rules") rule lines" \
        <"$OUT/$mode.folded" >"$OUT/$mode.svg"
    perf report -i "$T/$mode.data" --no-children --sort symbol --stdio -g none 2>/dev/null |
        grep '%' | grep -v '^#' | sed -n 1,30p >"$OUT/$mode.top.txt" || true
    bench_log "$mode: $OUT/$mode.svg ($(wc -l <"$OUT/$mode.folded") stacks)"
}

wait_loaded() { # log -> waits until the sensor says it runs
    bench_wait 120 grep -q 'meerkat-sensor running' "$1" ||
        bench_log "no start line in $1 after 120 s; sampling anyway"
}

GATEWAY=0
for mode in "${MODES[@]}"; do
    case "$mode" in
    nfq | nflog)
        if [[ $GATEWAY -eq 0 ]]; then
            # shellcheck source=bench/lib/gateway.sh
            source "$HERE/lib/gateway.sh"
            gateway_up
            bench_bg "$T/iperf3-server.log" ip netns exec "$NS_S" iperf3 -s -B "$SERVER_IP"
            bench_wait 10 bench_listening "$NS_S" -Hltn 5201 || bench_die "iperf3 -s did not start"
            bench_on_cleanup "ip netns exec $NS_G iptables -F FORWARD"
            GATEWAY=1
        fi
        ip netns exec "$NS_G" iptables -F FORWARD
        src=(-q 0)
        if [[ $mode == nfq ]]; then
            ip netns exec "$NS_G" iptables -A FORWARD -j NFQUEUE --queue-num 0 --queue-bypass
        else
            ip netns exec "$NS_G" iptables -A FORWARD -j NFLOG --nflog-group 10
            src=(--nflog 10)
        fi
        mkdir -p "$T/$mode"
        bench_bg "$T/$mode/sensor.log" ip netns exec "$NS_G" "$SENSOR" "${src[@]}" -S "$T/flame.rules" -l "$T/$mode"
        pid=$BENCH_LAST_PID
        wait_loaded "$T/$mode/sensor.log"
        sleep 1
        timeout -k 2 $((SECS + 20)) ip netns exec "$NS_C" iperf3 -c "$SERVER_IP" -t $((SECS + 4)) >"$T/$mode/iperf3.log" 2>&1 &
        load=$!
        sleep 2
        record "$mode" "$(pgrep -P "$pid" -f meerkat-sensor || echo "$pid")"
        wait "$load" || bench_log "iperf3 ($mode): $(tail -2 "$T/$mode/iperf3.log" | tr '\n' ' ')"
        bench_stop "$pid"
        ;;
    pcap)
        pcap=${PCAP:-${MIX:-}}
        if [[ -z $pcap ]]; then
            bench_log "building the offline mix with bench/offline.sh (RUNS=0 MIX_OUT=...)"
            MIX_OUT="$T/mix.pcap" RUNS=0 "$HERE/offline.sh" >"$T/offline.log" 2>&1 ||
                bench_die "bench/offline.sh failed: $(tail -3 "$T/offline.log")"
            pcap="$T/mix.pcap"
        fi
        mkdir -p "$T/pcap"
        # The whole run: rule loading and packet work are separate towers
        # (under Engine::load_files_ordered and read_pcap).
        perf record -F "$FREQ" -g -o "$T/pcap.data" -- "$SENSOR" -r "$pcap" -k none -S "$T/flame.rules" -l "$T/pcap" \
            >"$T/pcap.perf.log" 2>&1 || bench_die "perf record -- meerkat-sensor -r failed: $(tail -3 "$T/pcap.perf.log")"
        draw pcap
        ;;
    *) bench_die "unknown mode '$mode' (nfq, nflog, pcap)" ;;
    esac
done
bench_log "flame graphs in $OUT"
