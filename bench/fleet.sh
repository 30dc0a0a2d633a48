#!/usr/bin/env bash
# Fleet benchmark: three meerkat-dom gateways sharing bans through one
# redis-server (unix socket in a temp dir, --save ''), each gateway in its
# own network namespace with its own nft table. One run, figures printed
# (no assertions).
#
#   bench/fleet.sh                   # as root, from anywhere
#   bench/fleet.sh --crowdsec        # and then the CrowdSec anchor
#                                    # (bench/crowdsec.sh: installs Debian's
#                                    # crowdsec + firewall bouncer; not in CI)
#
# Measures:
#   * propagation latency: a ban on gw1 (its element appearing in gw1's
#     kernel set) -> the element in gw2's kernel set; both instants come from
#     netlink listeners on NFNLGRP_NFTABLES (bench/lib/nftmon.py), one per
#     namespace, on the same clock; median and p99 over LAT_N bans written
#     LAT_GAP_MS apart;
#   * 10,000 bans on gw1 (one burst of eve lines) -> time until the last of
#     them is in gw2's and gw3's sets;
#   * catch-up: gw3 stopped while CATCHUP_N bans happen on gw1, then
#     started: time until all are in its set, its peak RSS (VmHWM); and a
#     new gateway (no state, no cursor) loading the whole active set from
#     the snapshot;
#   * Redis memory per ban (stream entry with its EVE event + active set).
#
# The burst is timed from the first line written on gw1 to the gateways'
# own log lines (see fleetlog.py); it also prints when gw1's decisions
# reached Redis (the stream ids), gw2's batch sizes, and the CPU seconds
# each process spent (PERF_GW=N adds a perf profile of gateway N during the
# burst at PERF_FREQ Hz, 499 by default; PERF_GW2=1 is PERF_GW=2). GW_LOG=<filter> sets RUST_LOG for the
# gateways (e.g. "info,meerkat_dom::fleet=debug": a line per published
# MULTI).
#
# Knobs (environment): LAT_N (200, <= 241), LAT_GAP_MS (20), BURST_N (10000),
# CATCHUP_N (100000), TIMEOUT (120 s per phase), BATCH_MAX (the gateways'
# [daemon] batch_max, 100000), BENCH_KEEP=1 (keep logs),
# MEERKAT_DOM (binary, default target/release/meerkat-dom).
set -euo pipefail

CROWDSEC=0
for a in "$@"; do
    case $a in
    --crowdsec) CROWDSEC=1 ;;
    *)
        echo "usage: $0 [--crowdsec]" >&2
        exit 2
        ;;
    esac
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=bench/lib/common.sh
source "$HERE/lib/common.sh"

LAT_N=${LAT_N:-200}
LAT_GAP_MS=${LAT_GAP_MS:-20}
BURST_N=${BURST_N:-10000}
CATCHUP_N=${CATCHUP_N:-100000}
TIMEOUT=${TIMEOUT:-120}
BATCH_MAX=${BATCH_MAX:-100000}
MEERKAT_DOM=${MEERKAT_DOM:-$ROOT/target/release/meerkat-dom}

bench_require_root nft redis-server redis-cli
[[ -x $MEERKAT_DOM ]] || bench_die "$MEERKAT_DOM not found: build it with 'cargo build --release -p meerkat-dom' (or set MEERKAT_DOM)"
((LAT_N <= 241)) || bench_die "LAT_N must be <= 241 (one 198.51.100.0/24 host each)"
bench_init fleet
T="$BENCH_TMP"
PY="python3 $HERE/lib"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# Address plan (documentation ranges only):
#   latency    198.51.100.10 ...
#   burst      2001:db8:b::1 ...
#   catch-up   2001:db8:c::1 ...
LAT_IP=198.51.100.10
BURST_IP=2001:db8:b::1
CATCHUP_IP=2001:db8:c::1
GOOD_IP=2001:db8:600d::1

SOCK="$T/redis.sock"
bench_bg "$T/redis.out" redis-server --port 0 --save '' --appendonly no --unixsocket "$SOCK" \
    --unixsocketperm 700 --dir "$T" --daemonize no
REDIS_PID=$BENCH_LAST_PID
bench_wait 10 redis-cli -s "$SOCK" ping || bench_die "redis-server did not start: $(cat "$T/redis.out")"
rcli() { redis-cli -s "$SOCK" "$@"; }

declare -A NS DPID DLOG MONPID CPU0
start_gw() { # start_gw N [fresh]
    local n=$1 d="$T/gw$1"
    mkdir -p "$d/state"
    [[ -f $d/eve.json ]] || : >"$d/eve.json"
    cat >"$d/dom.toml" <<EOF
allow = ["127.0.0.0/8", "::1/128"]
[input]
eve = "$d/eve.json"
start_at = "end"
[state]
dir = "$d/state"
[control]
socket = "$d/dom.sock"
[daemon]
detect_own = false
batch_max = $BATCH_MAX
[fleet]
url = "unix://$SOCK"
name = "gw$n"
max_bans_per_minute_per_origin = 0
queue = 1000000
[[backend]]
kind = "nftables"
family = "inet"
table = "bench"
set_v4 = "fleet4"
set_v6 = "fleet6"
manage = true
[[rule]]
name = "libssh clients"
event = "ssh"
field = "ssh.client.software_version"
prefix = ["libssh_"]
ban = "1h"
EOF
    DLOG[$n]="$d/dom.$(date +%s%N).log"
    bench_bg "${DLOG[$n]}" ip netns exec "${NS[$n]}" env ${GW_LOG:+RUST_LOG="$GW_LOG"} "$MEERKAT_DOM" -c "$d/dom.toml" run
    DPID[$n]=$BENCH_LAST_PID
    bench_wait 20 sh -c "'$MEERKAT_DOM' --socket '$d/dom.sock' status --json | grep -q '\"fleet_state\": \"connected\"'" ||
        bench_die "gw$n did not connect: $(tail -5 "${DLOG[$n]}")"
}
gstat() { "$MEERKAT_DOM" --socket "$T/gw$1/dom.sock" status --json | python3 -c "import json,sys; print(json.load(sys.stdin).get('$2', 'nan'))"; }
wait_stat() { # wait_stat N KEY MIN TIMEOUT
    local i
    for ((i = 0; i < $4 * 10; i++)); do
        (($(gstat "$1" "$2") >= $3)) && return 0
        sleep 0.1
    done
    bench_log "gw$1: $2 = $(gstat "$1" "$2"), wanted >= $3"
    return 1
}
count() { $PY/analyze.py count "$T/mon$1.txt" fleet; }
wait_count() { # wait_count N MIN TIMEOUT
    local i
    for ((i = 0; i < $3 * 4; i++)); do
        (($(count "$1") >= $2)) && return 0
        sleep 0.25
    done
    bench_log "gw$1: only $(count "$1") of $2 addresses seen"
    return 1
}
# first_seen N: "<ns> <ip>" per address, first notification in gw N.
first_seen() { awk '!/^#/ && !s[$3]++ {print $1, $3}' "$T/mon$1.txt"; }

for n in 1 2 3; do
    NS[$n]="mkb-fl$n-$$"
    bench_ns "${NS[$n]}"
    bench_bg "$T/mon$n.txt" ip netns exec "${NS[$n]}" python3 "$HERE/lib/nftmon.py"
    MONPID[$n]=$BENCH_LAST_PID
    bench_wait 5 grep -q '^# ready' "$T/mon$n.txt" || bench_die "listener $n did not start"
done
for n in 1 2 3; do start_gw "$n"; done
MEM0=$(rcli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p' | tr -d '\r')

# ------------------------------------------------------------ latency
bench_log "latency: $LAT_N bans on gw1, $LAT_GAP_MS ms apart"
$PY/evewriter.py latency "$T/gw1/eve.json" "$T/lat.times" "$LAT_GAP_MS" "$LAT_IP" "$LAT_N"
wait_count 2 "$LAT_N" 30 || true
first_seen 1 >"$T/gw1.first"
LAT=$($PY/analyze.py latency "$T/gw1.first" "$T/mon2.txt" fleet)
LOCAL=$($PY/analyze.py latency "$T/lat.times" "$T/mon1.txt" fleet)
bench_log "gw1 -> gw2: $LAT"
bench_log "(gw1 line -> gw1 set: $LOCAL)"

# The listeners are Python: fine for 200 spaced bans, but behind by many
# seconds on 100,000 notifications on a loaded 2-core machine. Bulk phases
# are timed with the daemons' own counters instead (a ban is counted after
# the netlink batch that carries it was acknowledged by the kernel).
for n in 1 2 3; do bench_stop "${MONPID[$n]}"; done
now_ns() { date +%s%N; }
secs_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
# until_stat N KEY MIN TIMEOUT: polls every 20 ms; prints seconds since T0.
until_stat() {
    local i
    for ((i = 0; i < $4 * 50; i++)); do
        if (($(gstat "$1" "$2") >= $3)); then
            secs_since "$T0"
            return 0
        fi
        sleep 0.02
    done
    echo nan
}

# ------------------------------------------------------------ burst
# Timed from the instant the writer starts writing the 10,000 lines (the
# "start" it records), not from before it is launched: generating them in
# Python takes seconds on a loaded machine (3.3 s in one run), which the
# first runs of this script wrongly counted as propagation time.
bench_log "burst: $BURST_N bans on gw1"
A2=$(gstat 2 fleet_applied)
A3=$(gstat 3 fleet_applied)
L1=$(gstat 1 bans)
XLEN0=$(rcli xlen mk:bans | tr -d '\r')
for p in "${DPID[1]}" "${DPID[2]}" "${DPID[3]}" "$REDIS_PID"; do CPU0[$p]=$(bench_cpu_ticks "$p"); done
# gw1's engine thread (reading, judging, its own netlink batch, journal,
# log) apart from the rest (the tokio runtime: publishing, and reading
# its own entries back from the stream).
engine_ticks() { cat /proc/"$1"/task/*/stat 2>/dev/null | awk '$2 == "(dom-engine)" {t += $14 + $15} END {print t + 0}'; }
ENG0=$(engine_ticks "${DPID[1]}")
PERF_GW=${PERF_GW:-$([[ ${PERF_GW2:-0} == 1 ]] && echo 2 || true)}
if [[ -n $PERF_GW ]] && command -v perf >/dev/null; then
    bench_bg "$T/perf.out" perf record -F "${PERF_FREQ:-499}" -g -o "$T/perf.data" -p "${DPID[$PERF_GW]}"
    PERF_PID=$BENCH_LAST_PID
fi
$PY/evewriter.py burst "$T/gw1/eve.json" "$T/burst.times" "$BURST_N" "$BURST_N" "$BURST_IP" "$GOOD_IP" &
WRITER=$!
bench_wait 60 test -s "$T/burst.times" || bench_die "the eve writer did not finish"
wait "$WRITER"
T0=$(sed -n 's/^start //p' "$T/burst.times")
# Completion is polled lightly (every 0.1 s; each poll forks the client
# and python3); the figures come from the gateways' own log lines, which
# are written right after each netlink batch was acknowledged. The 20 ms
# polling of earlier runs put two forks per 20 ms on the 2 busy cores and
# read 0.5-0.7 s later than the logs.
wait_stat 1 bans $((L1 + BURST_N)) "$TIMEOUT" || true
wait_stat 2 fleet_applied $((A2 + BURST_N)) "$TIMEOUT" || true
wait_stat 3 fleet_applied $((A3 + BURST_N)) "$TIMEOUT" || true
B1=$($PY/fleetlog.py reach "${DLOG[1]}" "$T0" "$BURST_N" local)
B2=$($PY/fleetlog.py reach "${DLOG[2]}" "$T0" "$BURST_N" fleet)
B3=$($PY/fleetlog.py reach "${DLOG[3]}" "$T0" "$BURST_N" fleet)
bench_log "burst: gw1 $B1 s, gw2 $B2 s, gw3 $B3 s (from the first line written, gateway logs)"
declare -A CPUS
for p in "${DPID[1]}" "${DPID[2]}" "${DPID[3]}" "$REDIS_PID"; do
    CPUS[$p]=$(awk -v a="${CPU0[$p]}" -v b="$(bench_cpu_ticks "$p")" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }')
done
if [[ -n ${PERF_PID:-} ]]; then
    kill -TERM "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    perf report -i "$T/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -25 >"$T/perf.top" || true
fi
# Where the time went: when gw1 published (Redis stamps each entry's id
# with its own clock in ms), and gw2's batches (its log, one line each).
STREAM_SPAN=$(rcli --raw xrange mk:bans - + | awk -v skip="$XLEN0" -v t0="$T0" '
    /^[0-9]+-[0-9]+$/ { n++; if (n <= skip) next; split($1, a, "-"); if (!f) f = a[1]; l = a[1] }
    END { printf "%.3f..%.3f", f / 1e3 - t0 / 1e9, l / 1e3 - t0 / 1e9 }')
GW2_BATCHES=$($PY/fleetlog.py batches "${DLOG[2]}" "$T0" "$BURST_N")
bench_log "burst profile: published to Redis at +$STREAM_SPAN s; gw2 applied $GW2_BATCHES"
ENG1=$(awk -v a="$ENG0" -v b="$(engine_ticks "${DPID[1]}")" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }')
bench_log "burst CPU (s): gw1 ${CPUS[${DPID[1]}]} (engine thread $ENG1), gw2 ${CPUS[${DPID[2]}]}, gw3 ${CPUS[${DPID[3]}]}, redis ${CPUS[$REDIS_PID]}"
if [[ -s $T/perf.top ]]; then
    bench_log "perf, gw$PERF_GW during the burst (self time):"
    cat "$T/perf.top" >&2
fi
PUB=$(gstat 1 fleet_published)
MEM1=$(rcli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p' | tr -d '\r')
XLEN=$(rcli xlen mk:bans | tr -d '\r')
ZCARD=$(rcli zcard mk:active | tr -d '\r')
PER_BAN=$(awk -v a="$MEM0" -v b="$MEM1" -v n="$PUB" 'BEGIN { if (n > 0) printf "%.0f", (b - a) / n; else print "nan" }')
bench_log "redis: $XLEN stream entries, $ZCARD active, $PER_BAN bytes per ban"

# ------------------------------------------------------------ catch-up
bench_log "catch-up: gw3 stopped, $CATCHUP_N bans on gw1"
bench_stop "${DPID[3]}"
L1=$(gstat 1 bans)
T0=$(now_ns)
$PY/evewriter.py burst "$T/gw1/eve.json" "$T/catchup.times" "$CATCHUP_N" "$CATCHUP_N" "$CATCHUP_IP" "$GOOD_IP"
G1=$(until_stat 1 bans $((L1 + CATCHUP_N)) "$TIMEOUT")
G1P=$(until_stat 1 fleet_published $((PUB + CATCHUP_N)) "$TIMEOUT")
T0=$(now_ns)
start_gw 3
C3=$(until_stat 3 fleet_applied "$CATCHUP_N" "$TIMEOUT")
C3_HWM=$(bench_hwm_kib "${DPID[3]}")
C3_RSS=$(bench_rss_kib "${DPID[3]}")
bench_log "gw1 local: $G1 s (published after $G1P s); gw3 restart -> all applied: $C3 s, peak RSS ${C3_HWM} KiB"

bench_log "snapshot: gw3 as a new gateway (no state, no cursor, empty table)"
bench_stop "${DPID[3]}"
rm -rf "$T/gw3/state"
ip netns exec "${NS[3]}" nft delete table inet bench
ALL=$((LAT_N + BURST_N + CATCHUP_N))
T0=$(now_ns)
start_gw 3
S3=$(until_stat 3 fleet_applied "$ALL" "$TIMEOUT")
S3_HWM=$(bench_hwm_kib "${DPID[3]}")
S3_LOADS=$(gstat 3 fleet_snapshot_loads)
S3_K=$(ip netns exec "${NS[3]}" nft -j list set inet bench fleet6 | python3 -c 'import json,sys
d=json.load(sys.stdin)
print(sum(len(o["set"].get("elem",[])) for o in d.get("nftables",[]) if "set" in o))')
bench_log "snapshot of $ALL: $S3 s (snapshot loads $S3_LOADS, $S3_K IPv6 elements in the kernel), peak RSS ${S3_HWM} KiB"

field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
mib() { awk -v k="$1" 'BEGIN { if (k == "nan" || k == "") print "nan"; else printf "%.1f", k / 1024 }'; }

echo
echo "Fleet benchmark ($(date -u +%Y-%m-%d), kernel $(uname -r), load average at start $LOAD0, $(redis-server --version | sed 's/ sha=.*//'))"
echo "  propagation gw1 set -> gw2 set: $LAT"
echo "  $BURST_N bans written on gw1: in gw1's set after $B1 s, applied on gw2 after $B2 s, on gw3 after $B3 s"
echo "  catch-up of $CATCHUP_N from the stream: $C3 s, peak RSS $(mib "$C3_HWM") MiB (RSS $(mib "$C3_RSS"))"
echo "  new gateway, snapshot of $ALL: $S3 s, peak RSS $(mib "$S3_HWM") MiB"
echo "  Redis: $PER_BAN bytes per ban (stream entry with its EVE event + active set), $XLEN entries"
echo
echo "Markdown rows (bench/RESULTS.md):"
echo "| $(date -u +%Y-%m-%d) | $(uname -r) | $(field median_ms "$LAT") / $(field p99_ms "$LAT") (n=$(field n "$LAT")) | $B1 / $B2 / $B3 | $C3 ($(mib "$C3_HWM") MiB) | $S3 ($(mib "$S3_HWM") MiB, $ALL bans) | $PER_BAN |"

if ((CROWDSEC)); then
    # The gateways and Redis are done: stop them so CrowdSec gets the CPU.
    for n in 1 2 3; do bench_stop "${DPID[$n]}"; done
    bench_stop "$REDIS_PID"
    echo
    CS_OUT=$("$HERE/crowdsec.sh") || bench_die "bench/crowdsec.sh failed"
    printf '%s\n' "$CS_OUT" | grep -v '^CROWDSEC '
    CS=$(printf '%s\n' "$CS_OUT" | grep '^CROWDSEC ' || true)
    cs() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$CS"; }
    MK_MS=$(field median_ms "$LAT")
    echo
    echo "Side by side (one decision: origin's set -> the other enforcement point's set; CrowdSec: cscli decisions add returned -> bouncer's set)"
    printf '  %-52s %14s %14s %10s\n' "" "Meerkat" "CrowdSec" "ratio"
    printf '  %-52s %11s ms %11s ms %9sx\n' "one decision, median (CrowdSec update_frequency 10s)" "$MK_MS" "$(cs lat10_ms)" "$(bench_ratio "$(cs lat10_ms)" "$MK_MS" 0)"
    printf '  %-52s %11s ms %11s ms %9sx\n' "one decision, median (CrowdSec update_frequency 1s)" "$MK_MS" "$(cs lat1_ms)" "$(bench_ratio "$(cs lat1_ms)" "$MK_MS" 0)"
    CS_BULK=$(cs bulk_s)
    CS_NOTE=""
    if [[ $CS_BULK == nan ]]; then
        CS_BULK=$(cs last_s)
        CS_NOTE="  (CrowdSec: only $(cs seen) of $(cs bulk_n) ever reached the set; time of the last)"
    fi
    printf '  %-52s %12s s %12s s %9sx\n' "$BURST_N decisions in the other's set (gw2; import, 1s)" "$B2" "$CS_BULK" "$(bench_ratio "$CS_BULK" "$B2" 1)"
    if [[ -n $CS_NOTE ]]; then echo "$CS_NOTE"; fi
    echo "  (Meerkat's $BURST_N: from the first eve line written on gw1, so it includes gw1 detecting them; CrowdSec's: from the start of cscli decisions import. Ratio = CrowdSec / Meerkat.)"
fi
