#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo-fuzz + libFuzzer) for SECONDS each,
# one after the other (one fuzzing process at a time), and prints per
# target: executions, coverage (edges), corpus size and crashes.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      default: 10 s, every target
#   scripts/fuzz.sh --runs N [TARGET...]       N executions per target instead
#                                              (the long runs of the README's
#                                              Reliability table)
#
# Needs the nightly toolchain (`cargo +nightly`) and cargo-fuzz; installs
# cargo-fuzz with `cargo install` when it is missing. Without a nightly
# toolchain it says so and exits 3 (scripts/test.sh reports that and does
# not fail). Seed corpora: fuzz/seeds/<target> (small, committed) plus
# seeds generated from ../shared (suricata-verify pcaps, ET Open lines) by
# fuzz/gen_seeds.py into fuzz/corpus/<target> (not committed; it keeps
# growing across runs). Crashes are written to fuzz/artifacts/<target>/.
# Exit status: 0 when no target crashed, 1 otherwise.
# Environment: FUZZ_NICE (default 19), FUZZ_RSS_MB (default 2048),
# FUZZ_JOBS is not supported on purpose: the machine has 2 shared cores.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$REPO/fuzz"
RUNS=""
if [[ ${1:-} == --runs ]]; then
    RUNS="${2:-}"
    shift 2 || true
    SECONDS_EACH=0
    if ! [[ $RUNS =~ ^[0-9]+$ ]] || [[ $RUNS -lt 1 ]]; then
        echo "usage: scripts/fuzz.sh --runs N [TARGET...]" >&2
        exit 2
    fi
else
    SECONDS_EACH="${1:-10}"
    shift || true
    if ! [[ $SECONDS_EACH =~ ^[0-9]+$ ]] || [[ $SECONDS_EACH -lt 1 ]]; then
        echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]  or  scripts/fuzz.sh --runs N [TARGET...]" >&2
        exit 2
    fi
fi
NICE="${FUZZ_NICE:-19}"
RSS_MB="${FUZZ_RSS_MB:-2048}"

if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: no nightly Rust toolchain on this machine (cargo +nightly); fuzzing skipped"
    exit 3
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: cargo-fuzz not installed; installing it (cargo install cargo-fuzz --locked)"
    if ! nice -n "$NICE" cargo +nightly install cargo-fuzz --locked >/tmp/meerkat-cargo-fuzz-install.log 2>&1; then
        tail -20 /tmp/meerkat-cargo-fuzz-install.log
        echo "fuzz: cargo-fuzz could not be installed; fuzzing skipped"
        exit 3
    fi
fi

cd "$FUZZ" || exit 2
ALL=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^meerkat-fuzz$')
TARGETS=("$@")
[[ ${#TARGETS[@]} -eq 0 ]] && mapfile -t TARGETS <<<"$ALL"

SHARED="$(cd "$REPO/.." && pwd)/shared"
if [[ -d $SHARED/reference ]]; then
    python3 "$FUZZ/gen_seeds.py" "$SHARED" "$FUZZ/corpus" || echo "fuzz: seed generation failed (continuing with committed seeds)"
else
    echo "fuzz: $SHARED not found; only the committed seeds are used"
fi

echo "fuzz: building ${#TARGETS[@]} target(s) (release, debug assertions, AddressSanitizer)"
# No target named: `cargo fuzz build` builds them all in one go.
build=("")
[[ $# -gt 0 ]] && build=("${TARGETS[@]}")
: >/tmp/meerkat-fuzz-build.log
for t in "${build[@]}"; do
    if ! nice -n "$NICE" cargo +nightly fuzz build -O -a $t >>/tmp/meerkat-fuzz-build.log 2>&1; then
        tail -40 /tmp/meerkat-fuzz-build.log
        echo "fuzz: build FAILED"
        exit 1
    fi
done

LOGS="$FUZZ/logs"
mkdir -p "$LOGS"
CRASHED=0
printf '\n%-14s %14s %8s %8s %8s %7s %s\n' target executions cov ft corpus seconds crashes
for t in "${TARGETS[@]}"; do
    corpus="$FUZZ/corpus/$t"
    art="$FUZZ/artifacts/$t"
    mkdir -p "$corpus" "$art"
    [[ -d $FUZZ/seeds/$t ]] && cp -n "$FUZZ/seeds/$t"/* "$corpus/" 2>/dev/null
    dict=()
    [[ -f $FUZZ/dict/$t.dict ]] && dict=("-dict=$FUZZ/dict/$t.dict")
    before=$(find "$art" -type f | wc -l)
    log="$LOGS/$t.log"
    limit=(-max_total_time="$SECONDS_EACH")
    [[ -n $RUNS ]] && limit=(-runs="$RUNS")
    start=$(date +%s)
    nice -n "$NICE" cargo +nightly fuzz run -O -a "$t" "$corpus" -- \
        "${limit[@]}" -print_final_stats=1 -rss_limit_mb="$RSS_MB" \
        -timeout=10 -max_len=65536 "${dict[@]}" >"$log" 2>&1
    rc=$?
    after=$(find "$art" -type f | wc -l)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ncorp=$(find "$corpus" -type f | wc -l)
    crashes=$((after - before))
    if [[ $rc -ne 0 && $crashes -eq 0 ]]; then
        crashes="rc=$rc"
    fi
    printf '%-14s %14s %8s %8s %8s %7s %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$ncorp" "$(($(date +%s) - start))" "$crashes"
    if [[ $rc -ne 0 || $after -gt $before ]]; then
        CRASHED=1
        grep -m5 -E 'panicked|ERROR: AddressSanitizer|SUMMARY|Test unit written' "$log" | sed 's/^/    /'
    fi
done
echo
if [[ $CRASHED -ne 0 ]]; then
    echo "fuzz: CRASHES found (inputs in fuzz/artifacts/, logs in fuzz/logs/)"
    exit 1
fi
if [[ -n $RUNS ]]; then
    echo "fuzz: no crash in ${#TARGETS[@]} target(s), $RUNS executions each"
else
    echo "fuzz: no crash in ${#TARGETS[@]} target(s), ${SECONDS_EACH}s each"
fi
