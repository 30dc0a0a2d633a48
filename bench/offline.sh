#!/usr/bin/env bash
# Offline benchmark: Suricata 7 vs meerkat-sensor reading one pcap (`-r`)
# with all of ET Open loaded. One run of each, side by side, ratios printed
# (no assertions).
#
#   bench/offline.sh                 # as root (the iperf3 capture needs netns)
#
# The pcap ("mix") is every Ethernet pcap of ../shared/reference/
# suricata-verify/tests concatenated (bench/lib/mkmix.py), then an iperf3
# capture of COPY_MB MiB (default 200) made here in two namespaces with
# tcpdump: many small real-world flows and protocols, then one bulk flow.
# MIX=FILE uses that pcap instead (and keeps it).
#
# Per tool, each measured RUNS times (default 3, median):
#   load   `-T` with the rules: wall time, CPU, peak RSS (rule loading)
#   run    `-r MIX` with the rules: wall time, CPU, peak RSS, alerts
#   CPU per packet = (run CPU - load CPU) / packets in the pcap
# Targets (issue 10, informational): CPU per packet <= 0.5 x Suricata's,
# rule loading <= 0.25 x Suricata's time, peak RSS <= 0.5 x Suricata's.
#
# Knobs: RUNS (3; 0 only builds the mix), RULES (default: all of ET
# Open), COPY_MB (200), MIX, MIX_OUT (copy the mix there), MEERKAT_SENSOR (default target/release/meerkat-sensor), BENCH_KEEP=1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=bench/lib/common.sh
source "$HERE/lib/common.sh"

RUNS=${RUNS:-3}
COPY_MB=${COPY_MB:-200}
MEERKAT_SENSOR=${MEERKAT_SENSOR:-$ROOT/target/release/meerkat-sensor}
SV="$ROOT/../shared/reference/suricata-verify/tests"
ETOPEN_DIR="$ROOT/../shared/reference/etopen"

bench_require_root iperf3 tcpdump python3
command -v suricata >/dev/null || bench_die "suricata is not installed (../shared/tools/install-suricata)"
[[ -x $MEERKAT_SENSOR ]] || bench_die "$MEERKAT_SENSOR not found (cargo build --release -p meerkat-sensor, or set MEERKAT_SENSOR)"
[[ -x /usr/bin/time ]] || bench_die "/usr/bin/time is missing (apt-get install time)"
bench_init offline
T="$BENCH_TMP"

if [[ -n ${RULES:-} ]]; then
    [[ -r $RULES ]] || bench_die "RULES=$RULES is not readable"
    cp "$RULES" "$T/bench.rules"
else
    compgen -G "$ETOPEN_DIR/*.rules" >/dev/null || bench_die "no ET Open rules in $ETOPEN_DIR"
    cat "$ETOPEN_DIR"/*.rules >"$T/bench.rules"
fi
RULEFILE="$T/bench.rules"

# ---------------------------------------------------------------- the pcap
if [[ -n ${MIX:-} ]]; then
    [[ -r $MIX ]] || bench_die "MIX=$MIX is not readable"
else
    [[ -d $SV ]] || bench_die "no suricata-verify tests in $SV"
    NS_C="mkb-ocli-$$"
    NS_S="mkb-osrv-$$"
    bench_ns "$NS_C"
    bench_ns "$NS_S"
    ip -n "$NS_C" link add eth0 type veth peer name eth0 netns "$NS_S"
    ip -n "$NS_C" addr add 198.51.100.2/24 dev eth0
    ip -n "$NS_S" addr add 198.51.100.3/24 dev eth0
    ip -n "$NS_C" link set eth0 up
    ip -n "$NS_S" link set eth0 up
    bench_bg "$T/iperf3-server.log" ip netns exec "$NS_S" iperf3 -s -B 198.51.100.3
    bench_wait 10 bench_listening "$NS_S" -Hltn 5201 || bench_die "iperf3 -s did not start"
    bench_bg "$T/tcpdump.log" ip netns exec "$NS_S" tcpdump -i eth0 -s 0 -U -w "$T/iperf.pcap" tcp port 5201
    TCPDUMP_PID=$BENCH_LAST_PID
    bench_wait 10 grep -q listening "$T/tcpdump.log" || bench_die "tcpdump did not start: $(cat "$T/tcpdump.log")"
    ip netns exec "$NS_C" iperf3 -c 198.51.100.3 -n "${COPY_MB}M" >"$T/iperf3.log" 2>&1 ||
        bench_die "iperf3 failed: $(tail -3 "$T/iperf3.log")"
    sleep 1
    bench_stop "$TCPDUMP_PID"
    MIX="$T/mix.pcap"
    read -r FILES PKTS < <(python3 "$HERE/lib/mkmix.py" "$MIX" "$SV" "$T/iperf.pcap" 2>"$T/mkmix.log")
    bench_log "mix: $(cat "$T/mkmix.log")"
fi
PKTS=$(python3 - "$MIX" <<'EOF'
import struct, sys
n = 0
with open(sys.argv[1], "rb") as f:
    end = "<" if f.read(24)[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    while len(h := f.read(16)) == 16:
        f.seek(struct.unpack(end + "IIII", h)[2], 1)
        n += 1
print(n)
EOF
)
MIX_MB=$(du -m "$MIX" | cut -f1)
if [[ -n ${MIX_OUT:-} ]]; then
    cp "$MIX" "$MIX_OUT"
    bench_log "mix: $PKTS packets, $MIX_MB MiB, copied to $MIX_OUT"
fi
[[ $RUNS -gt 0 ]] || exit 0

# ---------------------------------------------------------------- runs
# measure NAME COMMAND... -> appends "name wall cpu rss_kib" to runs.tsv
measure() {
    local name="$1"
    shift
    /usr/bin/time -f '%e %U %S %M' -o "$T/time.out" "$@" >"$T/$name.out" 2>&1 ||
        bench_die "$name failed (exit $?): $(tail -5 "$T/$name.out" | tr '\n' ' ')"
    read -r wall usr sys rss <"$T/time.out"
    printf '%s\t%s\t%s\t%s\n' "$name" "$wall" "$(awk -v u="$usr" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')" "$rss" >>"$T/runs.tsv"
}

suricata_cmd() { # mode dir
    local args=(-T)
    [[ $1 == run ]] && args=(-r "$MIX" -k none)
    mkdir -p "$2"
    echo suricata -c /etc/suricata/suricata.yaml "${args[@]}" -l "$2" \
        --set default-rule-path="$T" --set rule-files.0=bench.rules \
        --set unix-command.enabled=no
}
meerkat_cmd() { # mode dir
    local args=(-T)
    [[ $1 == run ]] && args=(-r "$MIX" -k none)
    mkdir -p "$2"
    echo "$MEERKAT_SENSOR" "${args[@]}" -S "$RULEFILE" -l "$2"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$T/runs.tsv"
declare -A ALERTS
for ((rep = 1; rep <= RUNS; rep++)); do
    for tool in suricata meerkat; do
        for mode in load run; do
            d="$T/$tool-$mode-$rep"
            # shellcheck disable=SC2046
            measure "$tool-$mode" $("${tool}_cmd" "$mode" "$d")
            if [[ $mode == run ]]; then
                ALERTS[$tool]=$(grep -c '"event_type":"alert"' "$d/eve.json" 2>/dev/null || echo 0)
            fi
            bench_log "$tool $mode run $rep: $(tail -1 "$T/runs.tsv" | cut -f2- | awk '{printf "%s s wall, %s s cpu, %d MiB peak", $1, $2, $3 / 1024}')"
        done
    done
done
MEERKAT_LOADED=$(grep -oE '[0-9]+ loaded' "$T/meerkat-load.out" | tail -1 | cut -d' ' -f1)
SURICATA_LOADED=$(grep -ohE '[0-9]+ rules successfully loaded' "$T"/suricata-load-1/suricata.log "$T/suricata-load.out" 2>/dev/null | head -1 | cut -d' ' -f1)

# ---------------------------------------------------------------- report
med() { # name column -> median
    # shellcheck disable=SC2046
    bench_median $(awk -F'\t' -v n="$1" -v c="$2" '$1 == n {print $c}' "$T/runs.tsv")
}
declare -A V
for tool in suricata meerkat; do
    for mode in load run; do
        V[$tool/$mode/wall]=$(med "$tool-$mode" 2)
        V[$tool/$mode/cpu]=$(med "$tool-$mode" 3)
        V[$tool/$mode/rss]=$(awk -v k="$(med "$tool-$mode" 4)" 'BEGIN {printf "%.0f", k / 1024}')
    done
    V[$tool/pp]=$(awk -v r="${V[$tool/run/cpu]}" -v l="${V[$tool/load/cpu]}" -v n="$PKTS" 'BEGIN {d = r - l; if (d < 0) d = 0; printf "%.2f", d / n * 1e6}')
done
r() { bench_ratio "${V[meerkat/$1]}" "${V[suricata/$1]}" 2; }
echo
echo "== meerkat-sensor vs Suricata $(suricata -V 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1): -r on a ${MIX_MB} MiB pcap of $PKTS packets =="
echo "   rules: $(grep -cE '^[[:space:]]*(alert|drop|reject|pass)' "$RULEFILE") lines; Suricata loads ${SURICATA_LOADED:-?}, meerkat-sensor ${MEERKAT_LOADED:-?}"
echo "   $(nproc) cores, $RUNS runs each (median), load average at start: $LOAD0"
echo
printf '%-34s %12s %12s %10s %8s\n' "" Suricata meerkat ratio target
printf '%-34s %12s %12s %10s %8s\n' "rule loading (-T), wall s" "${V[suricata/load/wall]}" "${V[meerkat/load/wall]}" "$(r load/wall)" "<= 0.25"
printf '%-34s %12s %12s %10s %8s\n' "rule loading (-T), CPU s" "${V[suricata/load/cpu]}" "${V[meerkat/load/cpu]}" "$(r load/cpu)" ""
printf '%-34s %12s %12s %10s %8s\n' "rule loading, peak RSS MiB" "${V[suricata/load/rss]}" "${V[meerkat/load/rss]}" "$(r load/rss)" ""
printf '%-34s %12s %12s %10s %8s\n' "-r, wall s" "${V[suricata/run/wall]}" "${V[meerkat/run/wall]}" "$(r run/wall)" ""
printf '%-34s %12s %12s %10s %8s\n' "-r, CPU s" "${V[suricata/run/cpu]}" "${V[meerkat/run/cpu]}" "$(r run/cpu)" ""
printf '%-34s %12s %12s %10s %8s\n' "-r, CPU us/packet (minus loading)" "${V[suricata/pp]}" "${V[meerkat/pp]}" "$(r pp)" "<= 0.5"
printf '%-34s %12s %12s %10s %8s\n' "-r, peak RSS MiB" "${V[suricata/run/rss]}" "${V[meerkat/run/rss]}" "$(r run/rss)" "<= 0.5"
printf '%-34s %12s %12s %10s %8s\n' "alerts (last run)" "${ALERTS[suricata]}" "${ALERTS[meerkat]}" "" ""
echo
echo "Markdown row for bench/RESULTS.md:"
echo "| $(date -u +%F) | $PKTS pkts, ${MIX_MB} MiB | ${SURICATA_LOADED:-?} / ${MEERKAT_LOADED:-?} | ${V[suricata/load/wall]} / ${V[meerkat/load/wall]} ($(r load/wall)) | ${V[suricata/pp]} / ${V[meerkat/pp]} ($(r pp)) | ${V[suricata/run/rss]} / ${V[meerkat/run/rss]} ($(r run/rss)) | ${ALERTS[suricata]} / ${ALERTS[meerkat]} | n=$RUNS |"
