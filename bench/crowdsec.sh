#!/usr/bin/env bash
# CrowdSec anchor for bench/fleet.sh: how long a decision takes to reach
# the firewall bouncer's nftables set. Opt-in, never part of CI: run it
# directly or through `bench/fleet.sh --crowdsec`.
#
#   bench/crowdsec.sh                # as root
#
# Uses Debian 12's `crowdsec` (1.4.6) and `crowdsec-firewall-bouncer`
# (0.0.25, nftables mode), installed with apt-get when missing. Offline
# install: the crowdsec package's post-install script registers with
# CrowdSec's online API unless /etc/crowdsec/online_api_credentials.yaml
# exists and is not empty, so a placeholder is written first (only when
# absent). The packages' systemd units are disabled and stopped after the
# install; nothing of CrowdSec stays running.
#
# Everything runs in one network namespace with a private config, database
# and credentials under the temp dir: the LAPI alone (`crowdsec -no-cs`, no
# `online_client`: no traffic leaves the namespace), cscli and the bouncer
# against it on the namespace's 127.0.0.1:8080. A netlink listener
# (bench/lib/nftmon.py) timestamps each element as it enters the bouncer's
# sets. Addresses: 198.51.100.0/24 (single decisions), 2001:db8:c5::/48
# (the 10,000 imported ones).
#
# Measures:
#   * `cscli decisions add` returned -> element in the set, RUNS decisions
#     (a random 0..update_frequency apart, so they fall anywhere in the
#     polling cycle) with the default update_frequency (10s) and with 1s;
#     median / min / max;
#   * `cscli decisions import` of BULK_N decisions started -> all of them in
#     the set (bouncer at 1s); when some never arrive (seen with 1.4.6: the
#     bouncer's stream pull can miss decisions written while it runs), how
#     many arrived and when the last did (given up 15 s after the last one).
#
# Prints a human summary and, last, one line
#   CROWDSEC lat10_ms=.. lat1_ms=.. bulk_s=.. import_s=.. n10=.. n1=..
# that bench/fleet.sh parses.
#
# Knobs (environment): RUNS (5), BULK_N (10000), BENCH_KEEP=1.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib/common.sh
source "$HERE/lib/common.sh"

RUNS=${RUNS:-5}
BULK_N=${BULK_N:-10000}

bench_require_root nft
((RUNS >= 1 && RUNS <= 100)) || bench_die "RUNS must be 1..100"
((BULK_N <= 65536)) || bench_die "BULK_N must be <= 65536"

# ------------------------------------------------------------ install
if ! command -v crowdsec >/dev/null || ! command -v cscli >/dev/null ||
    ! command -v crowdsec-firewall-bouncer >/dev/null; then
    bench_log "installing crowdsec and crowdsec-firewall-bouncer (apt-get)"
    mkdir -p /etc/crowdsec
    if [[ ! -s /etc/crowdsec/online_api_credentials.yaml ]]; then
        # Makes the post-install script skip the online registration.
        printf 'url: http://127.0.0.1:1/\nlogin: offline\npassword: offline\n' >/etc/crowdsec/online_api_credentials.yaml
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends crowdsec crowdsec-firewall-bouncer >&2 ||
        bench_die "apt-get install crowdsec crowdsec-firewall-bouncer failed"
fi
# Whatever the install enabled or started: disabled and stopped.
systemctl disable --now crowdsec crowdsec-firewall-bouncer >/dev/null 2>&1 ||
    systemctl disable crowdsec crowdsec-firewall-bouncer >/dev/null 2>&1 || true
CS_VER=$(dpkg-query -W -f '${Version}' crowdsec 2>/dev/null || echo "?")
FB_VER=$(dpkg-query -W -f '${Version}' crowdsec-firewall-bouncer 2>/dev/null || echo "?")

bench_init crowdsec
T="$BENCH_TMP"
C="$T/cs"
mkdir -p "$C/data" "$C/log" "$C/notifications"
NSN="mkb-cs-$$"
bench_ns "$NSN"
inns() { ip netns exec "$NSN" "$@"; }

cat >"$C/config.yaml" <<EOF
common:
  daemonize: false
  log_media: file
  log_level: info
  log_dir: $C/log/
  working_dir: .
config_paths:
  config_dir: $C/
  data_dir: $C/data/
  simulation_path: /etc/crowdsec/simulation.yaml
  hub_dir: /var/lib/crowdsec/hub/
  index_path: /var/lib/crowdsec/hub/.index.json
  notification_dir: $C/notifications/
  plugin_dir: /usr/lib/crowdsec/plugins/
crowdsec_service:
  acquisition_path: /etc/crowdsec/acquis.yaml
  parser_routines: 1
cscli:
  output: human
  color: "no"
db_config:
  log_level: info
  type: sqlite
  db_path: $C/data/crowdsec.db
  use_wal: true
  flush:
    max_items: 100000
    max_age: 7d
api:
  client:
    insecure_skip_verify: false
    credentials_path: $C/local_api_credentials.yaml
  server:
    log_level: info
    listen_uri: 127.0.0.1:8080
    profiles_path: /etc/crowdsec/profiles.yaml
    console_path: $C/console.yaml
    trusted_ips:
      - 127.0.0.1
      - ::1
prometheus:
  enabled: false
EOF
csc() { inns cscli -c "$C/config.yaml" "$@"; }
csc machines add bench-lapi --auto --force -f "$C/local_api_credentials.yaml" \
    --url http://127.0.0.1:8080/ >"$T/machines.out" 2>&1 || bench_die "cscli machines add: $(cat "$T/machines.out")"
API_KEY=$(csc bouncers add "bench-fw-$$" -o raw 2>"$T/bouncers.err" | tr -d '[:space:]')
[[ -n $API_KEY ]] || bench_die "cscli bouncers add: $(cat "$T/bouncers.err")"

bench_bg "$T/lapi.out" ip netns exec "$NSN" crowdsec -c "$C/config.yaml" -no-cs
LAPI_PID=$BENCH_LAST_PID
bench_wait 30 csc decisions list -o json || bench_die "LAPI did not start: $(tail -5 "$C/log/crowdsec_api.log" "$T/lapi.out" 2>/dev/null)"

bench_bg "$T/mon.txt" ip netns exec "$NSN" python3 "$HERE/lib/nftmon.py"
bench_wait 5 grep -q '^# ready' "$T/mon.txt" || bench_die "listener did not start"

FB_PID=""
start_bouncer() { # start_bouncer FREQ
    [[ -n $FB_PID ]] && bench_stop "$FB_PID"
    cat >"$C/bouncer-$1.yaml" <<EOF
mode: nftables
pid_dir: $C/
update_frequency: $1
daemonize: false
log_mode: file
log_dir: $C/log/
log_level: info
log_compression: false
api_url: http://127.0.0.1:8080/
api_key: $API_KEY
insecure_skip_verify: false
disable_ipv6: false
deny_action: DROP
deny_log: false
supported_decisions_types:
  - ban
blacklists_ipv4: crowdsec-blacklists
blacklists_ipv6: crowdsec6-blacklists
nftables:
  ipv4:
    enabled: true
    set-only: false
    table: crowdsec
    chain: crowdsec-chain
  ipv6:
    enabled: true
    set-only: false
    table: crowdsec6
    chain: crowdsec6-chain
prometheus:
  enabled: false
EOF
    bench_bg "$T/bouncer-$1.out" ip netns exec "$NSN" crowdsec-firewall-bouncer -c "$C/bouncer-$1.yaml"
    FB_PID=$BENCH_LAST_PID
    bench_wait 30 inns nft list set ip crowdsec crowdsec-blacklists ||
        bench_die "bouncer did not create its set: $(tail -5 "$T/bouncer-$1.out" "$C/log/crowdsec-firewall-bouncer.log" 2>/dev/null)"
    sleep 1
}
now_ns() { date +%s%N; }
# seen_ns IP: first notification of IP in the set, empty when not yet.
seen_ns() { awk -v ip="$1" '!/^#/ && $2 ~ /^crowdsec/ && $3 == ip {print $1; exit}' "$T/mon.txt"; }

# lat_runs FREQ_S FIRST: RUNS single decisions on 198.51.100.FIRST...;
# prints the latencies in ms.
lat_runs() {
    local f=$1 i ip t1 s k out=()
    for ((i = 0; i < RUNS; i++)); do
        sleep "$(awk -v f="$f" -v r="$RANDOM" 'BEGIN { printf "%.3f", f * r / 32768 }')"
        ip="198.51.100.$(($2 + i))"
        csc decisions add --ip "$ip" --duration 1h --reason meerkat-bench >/dev/null 2>&1 ||
            bench_die "cscli decisions add failed"
        t1=$(now_ns)
        s=""
        for ((k = 0; k < (f + 15) * 20; k++)); do
            s=$(seen_ns "$ip")
            [[ -n $s ]] && break
            sleep 0.05
        done
        if [[ -n $s ]]; then
            out+=("$(awk -v a="$t1" -v b="$s" 'BEGIN { printf "%.0f", (b - a) / 1e6 }')")
        else
            out+=(nan)
        fi
        bench_log "  update_frequency ${f}s, $ip: ${out[-1]} ms"
    done
    echo "${out[@]}"
}

bench_log "CrowdSec $CS_VER LAPI (-no-cs) + crowdsec-firewall-bouncer $FB_VER (nftables), namespace $NSN"
start_bouncer 10s
bench_log "single decisions, update_frequency 10s ($RUNS runs)"
L10=$(lat_runs 10 10)
start_bouncer 1s
bench_log "single decisions, update_frequency 1s ($RUNS runs)"
L1=$(lat_runs 1 $((10 + RUNS)))

bench_log "import of $BULK_N decisions (update_frequency 1s)"
python3 - "$T/bulk.csv" "$BULK_N" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("duration,scope,type,value,reason\n")
    for i in range(int(sys.argv[2])):
        f.write(f"1h,ip,ban,2001:db8:c5::{i + 1:x},meerkat-bench\n")
EOF
LAST_IP="2001:db8:c5::$(printf '%x' "$BULK_N")"
count_bulk() { awk '!/^#/ && $2 ~ /^crowdsec6/ && $3 ~ /^2001:db8:c5:/ && !s[$3]++ {n++} END {print n + 0}' "$T/mon.txt"; }
T0=$(now_ns)
csc decisions import -i "$T/bulk.csv" >"$T/import.out" 2>&1 || bench_die "cscli decisions import: $(tail -3 "$T/import.out")"
TI=$(now_ns)
# Until all are in the set, or nothing new arrived for 15 s after the
# import returned (CrowdSec 1.4.6 can miss some: see the summary).
BULK=nan
LAST_N=-1
QUIET=0
for ((k = 0; k < 120 * 10; k++)); do
    N=$(count_bulk)
    if ((N >= BULK_N)); then
        break
    fi
    if ((N == LAST_N)); then
        QUIET=$((QUIET + 1))
        ((QUIET >= 150)) && break
    else
        QUIET=0
        LAST_N=$N
    fi
    sleep 0.1
done
SEEN=$(count_bulk)
LAST_T=$(awk '!/^#/ && $2 ~ /^crowdsec6/ && $3 ~ /^2001:db8:c5:/ {t = $1} END {print t}' "$T/mon.txt")
LAST_S=$(awk -v a="$T0" -v b="$LAST_T" 'BEGIN { if (b == "") print "nan"; else printf "%.3f", (b - a) / 1e9 }')
((SEEN >= BULK_N)) && BULK=$LAST_S
IMPORT_S=$(awk -v a="$T0" -v b="$TI" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
# Cross-check with the kernel's own view.
KSET=$(inns nft -j list set ip6 crowdsec6 crowdsec6-blacklists | python3 -c 'import json,sys
d=json.load(sys.stdin)
print(sum(len(o["set"].get("elem",[])) for o in d.get("nftables",[]) if "set" in o))')
bench_log "import: cscli returned after $IMPORT_S s; $SEEN of $BULK_N in the set, the last after $LAST_S s ($KSET IPv6 elements in the kernel set)"

bench_stop "$FB_PID"
bench_stop "$LAPI_PID"

# shellcheck disable=SC2086
M10=$(bench_median $L10)
# shellcheck disable=SC2086
M1=$(bench_median $L1)
echo
echo "CrowdSec anchor ($(date -u +%Y-%m-%d), crowdsec $CS_VER LAPI, crowdsec-firewall-bouncer $FB_VER nftables, load average $(cut -d' ' -f1-3 /proc/loadavg))"
# shellcheck disable=SC2086
echo "  cscli decisions add -> bouncer's set, update_frequency 10s: median $M10 ms (min $(bench_min $L10), max $(bench_max $L10), n=$RUNS: $L10)"
# shellcheck disable=SC2086
echo "  cscli decisions add -> bouncer's set, update_frequency 1s:  median $M1 ms (min $(bench_min $L1), max $(bench_max $L1), n=$RUNS: $L1)"
echo "  cscli decisions import of $BULK_N -> in the set (update_frequency 1s): $SEEN of $BULK_N, the last after $LAST_S s (the import itself returned after $IMPORT_S s)"
if ((SEEN < BULK_N)); then
    echo "  ($((BULK_N - SEEN)) decisions never reached the set: the bouncer's stream pull missed them; its log: $(grep -o '[0-9]* decisions added' "$C/log/crowdsec-firewall-bouncer.log" 2>/dev/null | tail -4 | paste -sd, -))"
fi
echo "CROWDSEC lat10_ms=$M10 lat1_ms=$M1 bulk_s=$BULK last_s=$LAST_S seen=$SEEN bulk_n=$BULK_N import_s=$IMPORT_S n=$RUNS"
