# shellcheck shell=bash
# Small helpers shared by bench/sensor.sh and bench/dom.sh.
#
# Every script that sources this file gets:
#   BENCH_TMP        a private temp dir (removed at exit unless BENCH_KEEP=1)
#   bench_ns NAME    creates a namespace (remembered, deleted at exit)
#   bench_bg LOG CMD...   starts CMD in the background, PID in BENCH_LAST_PID
#                    (remembered, TERM then KILL at exit)
#   bench_stop PID   stops one remembered process now (TERM, wait, KILL)
# and a trap that undoes all of it on EXIT/INT/TERM.

BENCH_NAMESPACES=()
BENCH_PIDS=()
BENCH_HOOKS=()
BENCH_TMP=""

bench_log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
bench_die() {
    bench_log "error: $*"
    exit 1
}

bench_require_root() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "note: skipping benchmark: needs root for network namespaces (uid $(id -u))" >&2
        exit 0
    fi
    local t
    for t in ip python3 "$@"; do
        command -v "$t" >/dev/null 2>&1 || bench_die "'$t' is not installed (see bench/README.md for the packages)"
    done
}

bench_init() {
    BENCH_TMP=$(mktemp -d "/tmp/meerkat-bench-$1.XXXXXX")
    trap 'bench_cleanup' EXIT
    trap 'bench_cleanup; trap - EXIT; exit 130' INT
    trap 'bench_cleanup; trap - EXIT; exit 143' TERM
}

bench_ns() {
    local ns="$1"
    ip netns add "$ns" || bench_die "cannot create namespace $ns"
    BENCH_NAMESPACES+=("$ns")
    ip -n "$ns" link set lo up
}

bench_bg() {
    local log="$1"
    shift
    "$@" >"$log" 2>&1 &
    BENCH_LAST_PID=$!
    BENCH_PIDS+=("$BENCH_LAST_PID")
}

# Registers a command string run (eval) at cleanup, before namespaces go.
bench_on_cleanup() { BENCH_HOOKS+=("$1"); }

bench_stop() {
    local pid="$1" i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
    local i pid ns
    set +e
    for ((i = ${#BENCH_HOOKS[@]} - 1; i >= 0; i--)); do
        eval "${BENCH_HOOKS[i]}" >/dev/null 2>&1
    done
    for pid in "${BENCH_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${BENCH_PIDS[@]}"; do
        for ((i = 0; i < 30; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    for ns in "${BENCH_NAMESPACES[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
        ip netns del "$ns" 2>/dev/null || bench_log "could not delete namespace $ns: run 'ip netns del $ns'"
    done
    BENCH_PIDS=()
    BENCH_NAMESPACES=()
    BENCH_HOOKS=()
    if [[ -n $BENCH_TMP && -d $BENCH_TMP ]]; then
        if [[ ${BENCH_KEEP:-0} == 1 ]]; then
            bench_log "kept logs in $BENCH_TMP"
        else
            rm -rf "$BENCH_TMP"
        fi
    fi
}

# bench_wait TIMEOUT_S CMD...: runs CMD every 0.1 s until it succeeds.
bench_wait() {
    local timeout="$1" i
    shift
    for ((i = 0; i < timeout * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# Resident memory of a process in KiB (VmRSS), "nan" when gone.
bench_rss_kib() { awk '/^VmRSS:/ {print $2; f=1} END {if (!f) print "nan"}' "/proc/$1/status" 2>/dev/null || echo nan; }
bench_hwm_kib() { awk '/^VmHWM:/ {print $2; f=1} END {if (!f) print "nan"}' "/proc/$1/status" 2>/dev/null || echo nan; }

# utime+stime of a process (all threads) in clock ticks.
bench_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# Median of the numbers given as arguments ("nan" entries are ignored).
bench_median() {
    printf '%s\n' "$@" | grep -E '^-?[0-9.]+(e[-+]?[0-9]+)?$' | sort -g | awk '{v[n++] = $1} END {
        if (n == 0) { print "nan"; exit }
        if (n % 2) print v[(n - 1) / 2]; else print (v[n / 2 - 1] + v[n / 2]) / 2 }'
}
bench_min() { printf '%s\n' "$@" | awk '$1 != "nan" {if (m == "" || $1 < m) m = $1} END {print (m == "" ? "nan" : m)}'; }
bench_max() { printf '%s\n' "$@" | awk '$1 != "nan" {if (m == "" || $1 > m) m = $1} END {print (m == "" ? "nan" : m)}'; }

# bench_ratio A B [DIGITS]: A/B, "n/a" when either is missing or B is 0.
bench_ratio() {
    awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {
        if (a == "nan" || b == "nan" || a == "" || b == "" || b + 0 == 0) { print "n/a"; exit }
        printf "%.*f\n", d, a / b }'
}

# bench_listening NS SS_FLAGS PORT: a socket in namespace NS listens on PORT
# (`ss` exits 0 also when nothing matches, so test its output).
bench_listening() { [[ -n $(ip netns exec "$1" ss "$2" "sport = :$3" 2>/dev/null) ]]; }
