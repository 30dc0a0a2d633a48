#!/usr/bin/env bash
# Ban-daemon benchmark: meerkat-dom against fail2ban 1.0.2, same workload,
# one run, figures printed side by side (no assertions).
#
#   bench/dom.sh                     # as root, from anywhere
#
# Measures, for each daemon, inside one private network namespace:
#   * ban latency: line appended to eve.json -> element present in the
#     kernel's nft set, seen by a netlink listener on NFNLGRP_NFTABLES
#     (bench/lib/nftmon.py), median and p99;
#   * burst: 20,000 ssh events with 2,000 distinct bad hosts written at once
#     -> time until the last of the 2,000 is in the kernel set;
#   * resident memory (VmRSS) after the burst, and for meerkat-dom with
#     100,000 active bans.
#
# Knobs (environment): LAT_N (200), LAT_GAP_MS (5), F2B_LAT_N (20),
# F2B_GAP_MS (1000), BURST_TOTAL (20000), BURST_BAD (2000), MEM_BANS (100000),
# BURST_TIMEOUT (90 s), F2B_DB (file|memory), SKIP_F2B=1, SKIP_MEERKAT=1, BENCH_KEEP=1 (keep logs),
# MEERKAT_DOM (binary, default target/release/meerkat-dom).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=bench/lib/common.sh
source "$HERE/lib/common.sh"

LAT_N=${LAT_N:-200}
LAT_GAP_MS=${LAT_GAP_MS:-5}
F2B_LAT_N=${F2B_LAT_N:-20}
F2B_GAP_MS=${F2B_GAP_MS:-1000}
BURST_TOTAL=${BURST_TOTAL:-20000}
BURST_BAD=${BURST_BAD:-2000}
MEM_BANS=${MEM_BANS:-100000}
BURST_TIMEOUT=${BURST_TIMEOUT:-90}
SKIP_F2B=${SKIP_F2B:-0}
SKIP_MEERKAT=${SKIP_MEERKAT:-0}
MEERKAT_DOM=${MEERKAT_DOM:-$ROOT/target/release/meerkat-dom}
# fail2ban's ban database: "file" (Debian's default: an sqlite file on disk,
# here in the temp dir) or "memory" (dbfile = :memory:, no fsync per ban).
F2B_DB=${F2B_DB:-file}

bench_require_root nft
[[ $SKIP_F2B == 1 ]] || bench_require_root fail2ban-server fail2ban-client
bench_init dom

NS="mkb-dom-$$"
T="$BENCH_TMP"
PY="python3 $HERE/lib"
MON="$T/monitor.txt"

# Address plan (documentation ranges only):
#   warm-up          203.0.113.250
#   latency (f2b)    203.0.113.10 ...
#   latency (dom)    198.51.100.10 ...    (up to 241 hosts)
#   burst bad hosts  2001:db8:bad::1 ...  burst good hosts 2001:db8:600d::1 ...
#   100k hosts       2001:db8:100::1 ...
WARM_IP=203.0.113.250
F2B_LAT_IP=203.0.113.10
DOM_LAT_IP=198.51.100.10
BURST_BAD_IP=2001:db8:bad::1
BURST_GOOD_IP=2001:db8:600d::1
MEM_IP=2001:db8:100::1

if ((LAT_N > 241)); then bench_die "LAT_N must be <= 241 (one 198.51.100.0/24 host each)"; fi
if ((F2B_LAT_N > 200)); then bench_die "F2B_LAT_N must be <= 200"; fi

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
bench_ns "$NS"
bench_bg "$MON" ip netns exec "$NS" python3 "$HERE/lib/nftmon.py"
MON_PID=$BENCH_LAST_PID
bench_wait 5 grep -q '^# ready' "$MON" || bench_die "the netlink listener did not start: $(cat "$MON")"

# seen_count PREFIX: distinct addresses seen so far in sets named PREFIX*.
seen_count() { $PY/analyze.py count "$MON" "$1"; }

# wait_seen PREFIX IP TIMEOUT: waits until IP is in a PREFIX* set.
wait_seen() {
    local i
    for ((i = 0; i < $3 * 20; i++)); do
        grep -q " $1[^ ]* $2\$" "$MON" && return 0
        sleep 0.05
    done
    return 1
}

# wait_count PREFIX N TIMEOUT: waits until N distinct addresses were seen.
wait_count() {
    local deadline=$((SECONDS + $3)) n=0
    while ((SECONDS < deadline)); do
        n=$(seen_count "$1")
        ((n >= $2)) && return 0
        sleep 0.25
    done
    bench_log "only $n of $2 addresses appeared in sets '$1*' within $3 s"
    return 1
}

# kernel_count FAMILY TABLE SET: elements in a set, as listed by nft.
kernel_count() {
    ip netns exec "$NS" nft -j list set "$1" "$2" "$3" 2>/dev/null |
        python3 -c 'import json,sys
d=json.load(sys.stdin)
print(sum(len(o["set"].get("elem",[])) for o in d.get("nftables",[]) if "set" in o))' 2>/dev/null || echo nan
}

mib() { awk -v k="$1" 'BEGIN { if (k == "nan" || k == "") print "nan"; else printf "%.1f\n", k / 1024 }'; }
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# ---------------------------------------------------------------- fail2ban
F2B_LAT="" F2B_BURST="" F2B_RSS="nan" F2B_BACKEND="polling"
run_fail2ban() {
    local d="$T/f2b" conf pid lat burst
    mkdir -p "$d"
    conf="$d/conf"
    cp -r /etc/fail2ban "$conf"
    rm -f "$conf"/jail.d/* "$conf"/fail2ban.d/* "$conf"/jail.local
    if python3 -c 'import pyinotify' 2>/dev/null; then F2B_BACKEND=pyinotify; fi
    local dbfile="$d/fail2ban.sqlite3"
    [[ $F2B_DB == memory ]] && dbfile=":memory:"
    cat >"$conf/fail2ban.local" <<EOF
[Definition]
loglevel = INFO
logtarget = $d/fail2ban.log
socket = $d/f2b.sock
pidfile = $d/f2b.pid
dbfile = $dbfile
EOF
    # One failregex on Suricata/Meerkat eve.json ssh events from libssh clients.
    cat >"$conf/filter.d/meerkat-bench.conf" <<'EOF'
[Definition]
failregex = "event_type":"ssh","src_ip":"<HOST>".*"client":\{"proto_version":"[^"]*","software_version":"libssh_
datepattern = ^\{"timestamp":"%%Y-%%m-%%dT%%H:%%M:%%S\.%%f%%z"
EOF
    cat >"$conf/jail.local" <<EOF
[meerkat-bench]
enabled = true
filter = meerkat-bench
logpath = $d/eve.json
backend = $F2B_BACKEND
maxretry = 1
findtime = 600
bantime = 3600
action = nftables[type=allports, name=bench]
EOF
    : >"$d/eve.json"
    bench_log "fail2ban: starting fail2ban-server (backend $F2B_BACKEND) in $NS"
    bench_bg "$d/server.out" ip netns exec "$NS" fail2ban-server -c "$conf" -s "$d/f2b.sock" \
        -p "$d/f2b.pid" --logtarget "$d/fail2ban.log" -f -x
    pid=$BENCH_LAST_PID
    bench_on_cleanup "ip netns exec $NS fail2ban-client -c $conf -s $d/f2b.sock stop"
    bench_wait 30 fail2ban-client -c "$conf" -s "$d/f2b.sock" ping ||
        bench_die "fail2ban-server did not answer on $d/f2b.sock: $(tail -5 "$d/server.out" "$d/fail2ban.log" 2>/dev/null)"
    bench_wait 10 fail2ban-client -c "$conf" -s "$d/f2b.sock" status meerkat-bench ||
        bench_die "fail2ban jail meerkat-bench did not start: $(tail -5 "$d/fail2ban.log")"

    $PY/evewriter.py latency "$d/eve.json" "$d/warm.times" 0 "$WARM_IP" 1
    wait_seen addr "$WARM_IP" 15 || bench_die "fail2ban did not ban the warm-up host $WARM_IP within 15 s: $(tail -5 "$d/fail2ban.log")"

    bench_log "fail2ban: latency, $F2B_LAT_N bans, one line every $F2B_GAP_MS ms"
    $PY/evewriter.py latency "$d/eve.json" "$d/lat.times" "$F2B_GAP_MS" "$F2B_LAT_IP" "$F2B_LAT_N"
    wait_count addr $((F2B_LAT_N + 1)) 15 || true
    F2B_LAT=$($PY/analyze.py latency "$d/lat.times" "$MON" addr)

    bench_log "fail2ban: burst, $BURST_TOTAL events, $BURST_BAD bad hosts"
    $PY/evewriter.py burst "$d/eve.json" "$d/burst.times" "$BURST_TOTAL" "$BURST_BAD" "$BURST_BAD_IP" "$BURST_GOOD_IP"
    wait_count addr $((F2B_LAT_N + 1 + BURST_BAD)) "$BURST_TIMEOUT" || true
    F2B_BURST=$($PY/analyze.py burst "$d/burst.times" "$MON" addr)
    F2B_RSS=$(bench_rss_kib "$pid")
    F2B_KERNEL=$(kernel_count inet f2b-table addr6-set-bench)
    bench_log "fail2ban: stopping"
    timeout 60 ip netns exec "$NS" fail2ban-client -c "$conf" -s "$d/f2b.sock" stop >/dev/null 2>&1 || true
    bench_stop "$pid"
}

# ---------------------------------------------------------------- meerkat-dom
DOM_LAT="" DOM_BURST="" DOM_RSS0="nan" DOM_RSS="nan" DOM_RSS_MEM="nan" DOM_HWM="nan" DOM_MEM_SEEN="nan" DOM_MEM_KERNEL="nan"
run_meerkat() {
    local d="$T/dom" pid
    mkdir -p "$d/state"
    [[ -x $MEERKAT_DOM ]] || bench_die "$MEERKAT_DOM not found: build it with 'cargo build --release -p meerkat-dom' (or set MEERKAT_DOM)"
    cat >"$d/dom.toml" <<EOF
allow = ["127.0.0.0/8", "::1/128"]
home_net = ["2001:db8:113::/64"]

[input]
eve = "$d/eve.json"
start_at = "end"

[state]
dir = "$d/state"

[control]
socket = "$d/dom.sock"

[[backend]]
kind = "nftables"
family = "inet"
table = "bench"
set_v4 = "suspectedip"
set_v6 = "suspectedip6"
manage = true

[[rule]]
name = "libssh clients"
event = "ssh"
field = "ssh.client.software_version"
prefix = ["libssh_"]
ban = "1h"
EOF
    : >"$d/eve.json"
    bench_log "meerkat-dom: starting $MEERKAT_DOM in $NS"
    bench_bg "$d/dom.log" ip netns exec "$NS" "$MEERKAT_DOM" -c "$d/dom.toml"
    pid=$BENCH_LAST_PID
    bench_wait 15 ip netns exec "$NS" nft list set inet bench suspectedip6 ||
        bench_die "meerkat-dom did not create set inet bench suspectedip6 within 15 s: $(tail -5 "$d/dom.log")"
    sleep 0.5
    DOM_RSS0=$(bench_rss_kib "$pid")

    $PY/evewriter.py latency "$d/eve.json" "$d/warm.times" 0 "$WARM_IP" 1
    wait_seen suspectedip "$WARM_IP" 15 || bench_die "meerkat-dom did not ban the warm-up host $WARM_IP within 15 s: $(tail -5 "$d/dom.log")"

    bench_log "meerkat-dom: latency, $LAT_N bans, one line every $LAT_GAP_MS ms"
    $PY/evewriter.py latency "$d/eve.json" "$d/lat.times" "$LAT_GAP_MS" "$DOM_LAT_IP" "$LAT_N"
    wait_count suspectedip $((LAT_N + 1)) 10 || true
    DOM_LAT=$($PY/analyze.py latency "$d/lat.times" "$MON" suspectedip)

    bench_log "meerkat-dom: burst, $BURST_TOTAL events, $BURST_BAD bad hosts"
    $PY/evewriter.py burst "$d/eve.json" "$d/burst.times" "$BURST_TOTAL" "$BURST_BAD" "$BURST_BAD_IP" "$BURST_GOOD_IP"
    wait_count suspectedip $((LAT_N + 1 + BURST_BAD)) "$BURST_TIMEOUT" || true
    DOM_BURST=$($PY/analyze.py burst "$d/burst.times" "$MON" suspectedip)
    DOM_RSS=$(bench_rss_kib "$pid")
    DOM_KERNEL=$(kernel_count inet bench suspectedip6)

    bench_log "meerkat-dom: memory, $MEM_BANS more distinct hosts"
    $PY/evewriter.py burst "$d/eve.json" "$d/mem.times" "$MEM_BANS" "$MEM_BANS" "$MEM_IP" "$BURST_GOOD_IP"
    wait_count suspectedip $((LAT_N + 1 + BURST_BAD + MEM_BANS)) 120 || true
    DOM_MEM_BURST=$($PY/analyze.py burst "$d/mem.times" "$MON" suspectedip)
    sleep 1
    DOM_RSS_MEM=$(bench_rss_kib "$pid")
    DOM_HWM=$(bench_hwm_kib "$pid")
    DOM_MEM_KERNEL=$(($(kernel_count inet bench suspectedip) + $(kernel_count inet bench suspectedip6)))
    bench_stop "$pid"
}

[[ $SKIP_F2B == 1 ]] || run_fail2ban
[[ $SKIP_MEERKAT == 1 ]] || run_meerkat
bench_stop "$MON_PID"
MON_SUMMARY=$(grep '^# done' "$MON" || true)
ENOBUFS=$(field enobufs "$MON_SUMMARY")

# ---------------------------------------------------------------- report
f2b_med=$(field median_ms "$F2B_LAT") f2b_p99=$(field p99_ms "$F2B_LAT") f2b_n=$(field n "$F2B_LAT")
dom_med=$(field median_ms "$DOM_LAT") dom_p99=$(field p99_ms "$DOM_LAT") dom_n=$(field n "$DOM_LAT")
f2b_b=$(field seconds "$F2B_BURST") dom_b=$(field seconds "$DOM_BURST")
f2b_bs=$(field seen "$F2B_BURST") dom_bs=$(field seen "$DOM_BURST")
for v in f2b_med f2b_p99 f2b_n dom_med dom_p99 dom_n f2b_b dom_b; do [[ -n ${!v} ]] || printf -v "$v" nan; done

echo
echo "== meerkat-dom vs fail2ban $(fail2ban-server -V 2>/dev/null | head -1 || echo '?'): ban latency, burst, memory =="
echo "   kernel: $(uname -r), $(nproc) cores, load average at start: $LOAD0; listener: $MON_SUMMARY"
echo "   fail2ban: backend $F2B_BACKEND, database $F2B_DB, action nftables[type=allports] (one nft process per ban)"
echo
printf '%-44s %16s %16s %12s\n' "measure" "fail2ban" "meerkat-dom" "f2b/meerkat"
printf '%-44s %16s %16s %12s\n' "ban latency median (ms)" "$f2b_med" "$dom_med" "$(bench_ratio "$f2b_med" "$dom_med" 0)"
printf '%-44s %16s %16s %12s\n' "ban latency p99 (ms)" "$f2b_p99" "$dom_p99" "$(bench_ratio "$f2b_p99" "$dom_p99" 0)"
printf '%-44s %16s %16s %12s\n' "  bans measured (n, missing)" "$f2b_n, $(field missing "$F2B_LAT")" "$dom_n, $(field missing "$DOM_LAT")" ""
printf '%-44s %16s %16s %12s\n' "burst $BURST_TOTAL events / $BURST_BAD hosts (s)" "$f2b_b" "$dom_b" "$(bench_ratio "$f2b_b" "$dom_b" 0)"
printf '%-44s %16s %16s %12s\n' "  bad hosts banned (listener)" "${f2b_bs:-nan}" "${dom_bs:-nan}" ""
printf '%-44s %16s %16s %12s\n' "  elements in kernel set after burst" "${F2B_KERNEL:-nan}" "${DOM_KERNEL:-nan}" ""
printf '%-44s %16s %16s %12s\n' "RSS idle (MiB)" "" "$(mib "$DOM_RSS0")" ""
printf '%-44s %16s %16s %12s\n' "RSS after burst (MiB)" "$(mib "$F2B_RSS")" "$(mib "$DOM_RSS")" "$(bench_ratio "$F2B_RSS" "$DOM_RSS" 1)"
printf '%-44s %16s %16s %12s\n' "RSS with +$MEM_BANS bans (MiB)" "not run" "$(mib "$DOM_RSS_MEM")" ""
printf '%-44s %16s %16s %12s\n' "  peak RSS VmHWM (MiB)" "" "$(mib "$DOM_HWM")" ""
printf '%-44s %16s %16s %12s\n' "  elements in kernel sets then" "" "${DOM_MEM_KERNEL:-nan}" ""
printf '%-44s %16s %16s %12s\n' "  time to ban the $MEM_BANS (s)" "" "$(field seconds "${DOM_MEM_BURST:-}")" ""
echo
echo "Targets (informational): median < 1 ms; burst >= 100x faster than fail2ban; RSS < 30 MiB at 100,000 bans."
[[ ${ENOBUFS:-0} == 0 ]] || echo "WARNING: the listener lost notifications (ENOBUFS=$ENOBUFS): latency/burst figures may be missing hosts."
echo
echo "Markdown rows for bench/RESULTS.md:"
echo "| $(date -u +%F) | $(uname -r) | $f2b_med / $f2b_p99 (n=$f2b_n) | $dom_med / $dom_p99 (n=$dom_n) | $(bench_ratio "$f2b_med" "$dom_med" 0) | $f2b_b | $dom_b | $(bench_ratio "$f2b_b" "$dom_b" 0) | $(mib "$F2B_RSS") | $(mib "$DOM_RSS_MEM") (${DOM_MEM_KERNEL:-nan} bans) |"
