#!/usr/bin/env bash
# Sensor benchmark: kernel forwarding vs Suricata 7 vs meerkat-sensor, NFQ
# (inline) and NFLOG (copies), on one three-namespace gateway with iperf3
# through it. One run, figures printed side by side (no assertions).
#
#   bench/sensor.sh                  # as root, from anywhere
#
#   client ns 198.51.100.2 --- 198.51.100.1  gw ns  203.0.113.1 --- 203.0.113.2 server ns
#                                    (ip_forward=1, iptables FORWARD rule)      iperf3 -s
#
# Variants, interleaved round-robin (all once, then all again, ...):
#   fwd          no rule: plain kernel forwarding (the ceiling)
#   nfq/*        -j NFQUEUE --queue-num 0 --queue-bypass; the run only counts
#                when the consumer is bound to queue 0 before and after it
#   nflog/*      -j NFLOG --nflog-group 10; "seen" = packets the consumer
#                decoded / the rule's packet counter
#
# Rulesets (RULESETS, default "bench etopen"): `bench` is
# bench/rules/bench.rules (6 rules: detection on, little of it); `etopen`
# is every file of ../shared/reference/etopen/ (beside the checkout),
# concatenated. Suricata loads every rule; meerkat-sensor what it
# supports: both counts are printed beside the figures. RULES=FILE adds a
# ruleset `custom` with that file instead.
#
# Application traffic (APP=1, the default; APP=0 leaves it out): beside
# iperf3, real clients loop on HTTP requests (curl), TLS handshakes
# (openssl s_time) and DNS queries (dig) against servers in the server
# namespace (python3 http.server, openssl s_server, dnsmasq); requests per
# second of each, through each variant, are printed beside the bulk figures
# (bench/lib/appload.sh).
#
# Knobs (environment): RUNS (3), SECS (5), TOOLS ("suricata meerkat"),
# MODES ("nfq nflog"), RULESETS ("bench etopen"), RULES (a rules file), APP,
# MEERKAT_SENSOR (binary, default target/release/meerkat-sensor),
# BENCH_KEEP=1 (keep logs).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=bench/lib/common.sh
source "$HERE/lib/common.sh"

RUNS=${RUNS:-3}
SECS=${SECS:-5}
TOOLS=${TOOLS:-suricata meerkat}
MODES=${MODES:-nfq nflog}
MEERKAT_SENSOR=${MEERKAT_SENSOR:-$ROOT/target/release/meerkat-sensor}
RULESETS=${RULESETS:-bench etopen}
APP=${APP:-1}
ETOPEN_DIR="$ROOT/../shared/reference/etopen"
QUEUE=0
GROUP=10

bench_require_root iptables iperf3 jq
bench_init sensor
T="$BENCH_TMP"

# Rule files by ruleset name.
declare -A RULEFILE
for rs in $RULESETS; do
    case "$rs" in
    bench) RULEFILE[bench]="$HERE/rules/bench.rules" ;;
    etopen)
        compgen -G "$ETOPEN_DIR/*.rules" >/dev/null || bench_die "no ET Open rules in $ETOPEN_DIR (the read-only ../shared beside the checkout)"
        cat "$ETOPEN_DIR"/*.rules >"$T/etopen.rules"
        RULEFILE[etopen]="$T/etopen.rules"
        ;;
    *) bench_die "unknown ruleset '$rs' in RULESETS (bench, etopen; RULES=FILE adds custom)" ;;
    esac
done
if [[ -n ${RULES:-} ]]; then
    [[ -r $RULES ]] || bench_die "RULES=$RULES is not readable"
    RULEFILE[custom]="$(cd "$(dirname "$RULES")" && pwd)/$(basename "$RULES")"
    RULESETS="$RULESETS custom"
fi

# shellcheck source=bench/lib/gateway.sh
source "$HERE/lib/gateway.sh"
gateway_up

# (Re)starts iperf3 -s; after a stalled test the old server may stay busy.
start_iperf_server() {
    [[ -n ${IPERF_PID:-} ]] && bench_stop "$IPERF_PID"
    bench_bg "$T/iperf3-server.log" ip netns exec "$NS_S" iperf3 -s -B "$SERVER_IP"
    IPERF_PID=$BENCH_LAST_PID
    bench_wait 10 bench_listening "$NS_S" -Hltn 5201 || bench_die "iperf3 -s did not start in $NS_S"
}
start_iperf_server
# Warm-up run, which also proves the path works.
ip netns exec "$NS_C" iperf3 -c "$SERVER_IP" -t 1 >"$T/warmup.log" 2>&1 ||
    bench_die "iperf3 from $NS_C cannot reach $SERVER_IP through $NS_G: $(tail -3 "$T/warmup.log")"

if [[ $APP == 1 ]]; then
    for tool in curl openssl dig dnsmasq python3; do
        command -v "$tool" >/dev/null || bench_die "$tool is missing (APP=0 runs without application traffic)"
    done
    # shellcheck source=bench/lib/appload.sh
    source "$HERE/lib/appload.sh"
    appload_up
fi

gw() { ip netns exec "$NS_G" "$@"; }

set_rule() {
    gw iptables -F FORWARD
    gw iptables -Z FORWARD
    case "$1" in
    fwd) ;;
    nfq) gw iptables -A FORWARD -j NFQUEUE --queue-num "$QUEUE" --queue-bypass ;;
    nflog) gw iptables -A FORWARD -j NFLOG --nflog-group "$GROUP" ;;
    esac
}
bench_on_cleanup "ip netns exec $NS_G iptables -F FORWARD"

# Packet counter of the first FORWARD rule.
rule_pkts() { gw iptables -vxnL FORWARD | awk 'NR == 3 {print $1; f=1} END {if (!f) print "nan"}'; }

# Port id bound to the NFQUEUE queue / NFLOG group in the gateway, or nothing.
nfq_portid() { gw cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null | awk -v q="$QUEUE" '$1 == q && $2 != 0 {print $2}'; }
nflog_portid() { gw cat /proc/net/netfilter/nfnetlink_log 2>/dev/null | awk -v g="$GROUP" '$1 == g && $2 != 0 {print $2}'; }
bound() { [[ -n $("${1}_portid") ]]; }
# queue_dropped + queue_user_dropped of the queue.
nfq_drops() { gw cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null | awk -v q="$QUEUE" '$1 == q {print $6 + $7; f=1} END {if (!f) print "nan"}'; }

# Packets the consumer decoded, from the last stats event in its eve.json.
eve_pkts() {
    local f="$1/eve.json"
    [[ -s $f ]] || {
        echo nan
        return
    }
    grep '"event_type":"stats"' "$f" | tail -1 |
        jq -r '(.stats.decoder.pkts // .stats.capture.kernel_packets // "nan") | tostring' 2>/dev/null || echo nan
}

start_consumer() { # tool mode ruleset dir -> CONSUMER_PID
    local tool="$1" mode="$2" rs="$3" dir="$4" rf="${RULEFILE[$3]}"
    mkdir -p "$dir"
    case "$tool" in
    suricata)
        local src=(-q "$QUEUE")
        [[ $mode == nflog ]] && src=(--nflog)
        # The packaged default suricata.yaml (autofp, default NFQ/NFLOG
        # settings, which is what the reference measured), with only the
        # rules, stats period, NFLOG group and control socket overridden.
        bench_bg "$dir/stdout.log" ip netns exec "$NS_G" suricata -c /etc/suricata/suricata.yaml \
            -k none -l "$dir" "${src[@]}" \
            --set default-rule-path="$(dirname "$rf")" --set rule-files.0="$(basename "$rf")" \
            --set stats.interval=1 --set unix-command.enabled=no \
            --set nflog.0.group="$GROUP"
        ;;
    meerkat)
        local src=(-q "$QUEUE")
        [[ $mode == nflog ]] && src=(--nflog "$GROUP")
        bench_bg "$dir/stdout.log" ip netns exec "$NS_G" "$MEERKAT_SENSOR" "${src[@]}" -S "$rf" -l "$dir"
        ;;
    esac
    CONSUMER_PID=$BENCH_LAST_PID
}

# One measurement; appends a line to $T/runs.tsv:
# mode tool rep gbit retrans cpu_cores seen rule_pkts drops status ruleset
run_one() {
    local mode="$1" tool="$2" rs="$3" rep="$4"
    local dir="$T/$mode-$tool-$rs-$rep"
    local pid="" port0="" port1="" t0 t1 c0=0 c1=0 gbit retr cpu seen="nan" rpk="nan" drops="nan" status=ok
    set_rule "$mode"
    if [[ $tool != kernel ]]; then
        start_consumer "$tool" "$mode" "$rs" "$dir"
        pid=$CONSUMER_PID
        # Suricata needs 15-30 s here to load all of ET Open.
        if ! bench_wait 180 bound "$mode"; then
            status="invalid:not-bound"
            bench_log "$tool did not bind $mode within 180 s: $(tail -3 "$dir/stdout.log" 2>/dev/null | tr '\n' ' ')"
        fi
        port0=$("${mode}_portid")
        sleep 1
        c0=$(bench_cpu_ticks "$pid")
    fi
    mkdir -p "$dir"
    [[ $APP == 1 ]] && appload_start "$dir/app"
    t0=$(date +%s%N)
    # Bounded: a consumer that stops giving verdicts stalls the flow, and
    # iperf3 would wait for it forever.
    timeout -k 2 $((SECS + 15)) ip netns exec "$NS_C" iperf3 -c "$SERVER_IP" -t "$SECS" -J --connect-timeout 5000 \
        >"$dir/iperf3.json" 2>"$dir/iperf3.err" || echo "iperf3 failed or timed out (exit $?)" >>"$dir/iperf3.err"
    t1=$(date +%s%N)
    local ah=nan at=nan ad=nan
    if [[ $APP == 1 ]]; then
        appload_collect "$dir/app"
        read -r ah at ad <<<"$APP_RATES"
    fi
    gbit=$(jq -r '(.end.sum_received.bits_per_second // empty) / 1e9 | . * 1000 | round / 1000' "$dir/iperf3.json" 2>/dev/null || true)
    retr=$(jq -r '.end.sum_sent.retransmits // "nan"' "$dir/iperf3.json" 2>/dev/null || echo nan)
    [[ -n $gbit ]] || {
        gbit=nan
        status="invalid:iperf3($(tail -c 80 "$dir/iperf3.err" | tr ' \n' '_'))"
        start_iperf_server
    }
    if [[ $tool != kernel ]]; then
        c1=$(bench_cpu_ticks "$pid")
        port1=$("${mode}_portid")
        [[ -n $port0 && $port0 == "$port1" ]] || status="invalid:unbound-during-run"
        cpu=$(awk -v a="$c0" -v b="$c1" -v w=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", (b - a) / hz / (w / 1e9)}')
        rpk=$(rule_pkts)
        [[ $mode == nfq ]] && drops=$(nfq_drops)
        # Both tools write a final stats event when stopped (SIGTERM); the
        # pause lets packets still queued in the kernel be read first.
        sleep 1
        bench_stop "$pid"
        seen=$(eve_pkts "$dir")
    else
        cpu=nan
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$tool" "$rep" "$gbit" "$retr" "$cpu" "$seen" "$rpk" "$drops" "$status" "$rs" "$ah" "$at" "$ad" >>"$T/runs.tsv"
    bench_log "$(printf '%-6s %-5s %-8s run %d: %7s Gbit/s  retrans %-6s cpu %-5s seen %-9s rule %-9s drops %-5s http/s %-5s tls/s %-5s dns/s %-5s %s' \
        "$rs" "$mode" "$tool" "$rep" "$gbit" "$retr" "$cpu" "$seen" "$rpk" "$drops" "$ah" "$at" "$ad" "$status")"
}

# ---------------------------------------------------------------- checks
# Variants: "mode tool ruleset"; kernel forwarding once ("fwd kernel -").
HAVE_MEERKAT=0
for t in $TOOLS; do
    case "$t" in
    suricata) command -v suricata >/dev/null || bench_die "suricata is not installed (../shared/tools/install-suricata)" ;;
    meerkat)
        if [[ -x $MEERKAT_SENSOR ]]; then
            HAVE_MEERKAT=1
        else
            bench_log "skipping meerkat: $MEERKAT_SENSOR not found (cargo build --release -p meerkat-sensor, or set MEERKAT_SENSOR)"
        fi
        ;;
    esac
done
# Rules each tool loads, by ruleset: "loaded/total".
declare -A LOADED
for rs in $RULESETS; do
    rf=${RULEFILE[$rs]}
    total=$(grep -cE '^[[:space:]]*(alert|drop|reject|rejectsrc|rejectdst|rejectboth|pass)[[:space:]]' "$rf" || true)
    if [[ " $TOOLS " == *" meerkat "* && $HAVE_MEERKAT -eq 1 ]]; then
        if "$MEERKAT_SENSOR" -T -S "$rf" -l "$T" >"$T/meerkat-T-$rs.log" 2>&1; then
            n=$(grep -oE '[0-9]+ loaded' "$T/meerkat-T-$rs.log" | tail -1 | cut -d' ' -f1)
            LOADED["meerkat/$rs"]="${n:-?}/$total"
        else
            bench_log "meerkat-sensor -T -S $rf failed: $(tail -5 "$T/meerkat-T-$rs.log" | tr '\n' ' ')"
            LOADED["meerkat/$rs"]="failed"
        fi
    fi
    LOADED["suricata/$rs"]="?/$total"
done

variants=("fwd kernel -")
for rs in $RULESETS; do
    for m in $MODES; do
        for t in $TOOLS; do
            [[ $t == meerkat && $HAVE_MEERKAT -eq 0 ]] && continue
            [[ ${LOADED[$t/$rs]:-} == failed ]] && continue
            variants+=("$m $t $rs")
        done
    done
done

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
bench_log "variants: ${variants[*]/%/,}; $RUNS runs of $SECS s each, interleaved"
: >"$T/runs.tsv"
for ((rep = 1; rep <= RUNS; rep++)); do
    for v in "${variants[@]}"; do
        read -r m t rs <<<"$v"
        run_one "$m" "$t" "$rs" "$rep"
    done
done
set_rule fwd
# Suricata's own count of loaded rules, from its log of the first run.
for rs in $RULESETS; do
    for f in "$T"/*-suricata-"$rs"-1/suricata.log "$T"/*-suricata-"$rs"-1/stdout.log; do
        [[ -r $f ]] || continue
        n=$(grep -oE '[0-9]+ rules successfully loaded' "$f" | head -1 | cut -d' ' -f1)
        [[ -n $n ]] && LOADED["suricata/$rs"]="$n/${LOADED[suricata/$rs]#*/}" && break
    done
done

# ---------------------------------------------------------------- report
col() { # mode tool ruleset column -> values of valid runs
    awk -F'\t' -v m="$1" -v t="$2" -v r="$3" -v c="$4" '$1 == m && $2 == t && $11 == r && $10 == "ok" {print $c}' "$T/runs.tsv"
}
invalid() { awk -F'\t' -v m="$1" -v t="$2" -v r="$3" '$1 == m && $2 == t && $11 == r && $10 != "ok" {n++} END {print n + 0}' "$T/runs.tsv"; }
seen_pcts() {
    awk -F'\t' -v m="$1" -v t="$2" -v r="$3" '$1 == m && $2 == t && $11 == r && $10 == "ok" && $7 != "nan" && $8 > 0 {printf "%.1f\n", 100 * $7 / $8}' "$T/runs.tsv"
}
median_of() { bench_median $(col "$1" "$2" "$3" "$4"); }

FWD=$(median_of fwd kernel - 4)
declare -A GB APPSUM
echo
echo "== meerkat-sensor vs Suricata $(suricata -V 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1): iperf3 through an NFQ/NFLOG gateway =="
echo "   $(uname -r), $(nproc) cores, $RUNS x ${SECS}s per variant (median, min-max), load average at start: $LOAD0"
echo
printf '%-7s %-6s %-9s %-13s %-22s %8s %10s %8s %12s %14s %9s %8s %8s %8s %8s %8s\n' rules mode tool loaded "Gbit/s med (min-max)" "x fwd" "x Suricata" "cpu" "seen % med" "seen % min" "drops" "invalid" "http/s" "tls/s" "dns/s" "app xS"
for v in "${variants[@]}"; do
    read -r m t rs <<<"$v"
    g=$(median_of "$m" "$t" "$rs" 4)
    GB["$m/$t/$rs"]=$g
    vals=$(col "$m" "$t" "$rs" 4)
    # shellcheck disable=SC2086
    range="$(bench_min $vals)-$(bench_max $vals)"
    xs="-"
    [[ $m != fwd && $t != suricata ]] && xs=$(bench_ratio "$g" "${GB[$m/suricata/$rs]:-nan}" 1)
    [[ $t == suricata ]] && xs="1.0"
    sp="-" spmin="-"
    if [[ $m == nflog ]]; then
        # shellcheck disable=SC2046
        sp=$(bench_median $(seen_pcts "$m" "$t" "$rs"))
        # shellcheck disable=SC2046
        spmin=$(bench_min $(seen_pcts "$m" "$t" "$rs"))
    fi
    dr="-"
    # shellcheck disable=SC2046
    [[ $m == nfq ]] && dr=$(bench_median $(col "$m" "$t" "$rs" 9))
    cpu="-"
    # shellcheck disable=SC2046
    [[ $t != kernel ]] && cpu=$(bench_median $(col "$m" "$t" "$rs" 6))
    # shellcheck disable=SC2046
    ah=$(bench_median $(col "$m" "$t" "$rs" 12))
    # shellcheck disable=SC2046
    at=$(bench_median $(col "$m" "$t" "$rs" 13))
    # shellcheck disable=SC2046
    ad=$(bench_median $(col "$m" "$t" "$rs" 14))
    APPSUM["$m/$t/$rs"]=$(awk -v a="$ah" -v b="$at" -v c="$ad" 'BEGIN {if (a == "nan") print "nan"; else print a + b + c}')
    axs="-"
    [[ $m != fwd && $t != suricata ]] && axs=$(bench_ratio "${APPSUM[$m/$t/$rs]}" "${APPSUM[$m/suricata/$rs]:-nan}" 1)
    printf '%-7s %-6s %-9s %-13s %-22s %8s %10s %8s %12s %14s %9s %8s %8s %8s %8s %8s\n' "$rs" "$m" "$t" "${LOADED[$t/$rs]:--}" "$g ($range)" "$(bench_ratio "$g" "$FWD")" "$xs" "$cpu" "$sp" "$spmin" "$dr" "$(invalid "$m" "$t" "$rs")" "$ah" "$at" "$ad" "$axs"
done
echo
echo "loaded = rules the tool loaded / rule lines in the file; x fwd = median / kernel-forwarding median;"
echo "x Suricata = median / Suricata's median in the same mode with the same rules;"
echo "cpu = consumer utime+stime per wall second (cores); seen % = packets decoded (eve stats decoder.pkts)"
echo "/ packets the NFLOG rule counted (GSO super-packets count once on both sides); drops = NFQ"
echo "queue_dropped+queue_user_dropped. Targets (informational, issue 10, all of ET Open): NFQ >= 10 x Suricata"
echo "and >= 0.5 x fwd, NFLOG >= 99 % seen at full speed, application requests/s through NFQ >= 5 x Suricata."
echo "http/s, tls/s, dns/s = requests (handshakes, queries) per second of one client each beside iperf3;"
echo "app xS = their sum / Suricata's sum in the same mode with the same rules."
echo
echo "Markdown rows for bench/RESULTS.md:"
for v in "${variants[@]}"; do
    read -r m t rs <<<"$v"
    g=${GB[$m/$t/$rs]}
    xs="-"
    [[ $m != fwd && $t != suricata ]] && xs=$(bench_ratio "$g" "${GB[$m/suricata/$rs]:-nan}" 1)
    sp="-"
    # shellcheck disable=SC2046
    [[ $m == nflog ]] && sp="$(bench_median $(seen_pcts "$m" "$t" "$rs")) %"
    cpu="-"
    # shellcheck disable=SC2046
    [[ $t != kernel ]] && cpu=$(bench_median $(col "$m" "$t" "$rs" 6))
    # shellcheck disable=SC2046
    app="$(bench_median $(col "$m" "$t" "$rs" 12)) / $(bench_median $(col "$m" "$t" "$rs" 13)) / $(bench_median $(col "$m" "$t" "$rs" 14))"
    echo "| $(date -u +%F) | $rs (${LOADED[$t/$rs]:--}) | $m | $t | $g | $(bench_ratio "$g" "$FWD") | $xs | $sp | $cpu | $app | n=$(col "$m" "$t" "$rs" 4 | wc -l) |"
done
echo
echo "Per-run data: $T/runs.tsv (only kept with BENCH_KEEP=1)"
