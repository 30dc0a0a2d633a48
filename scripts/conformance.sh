#!/usr/bin/env bash
# Runs OISF's suricata-verify (../shared/reference/suricata-verify, read-only)
# over meerkat-sensor with the suite's own run.py, selecting tests as
# Suricata 7.0.10 does (../shared/reference/suricata-verify-anchor.tsv), and
# prints pass counts per family next to Suricata's, with a reason for every
# failure. Fails when a test of tests/conformance/passing.txt fails.
#
#   scripts/conformance.sh                      # scopes ssh,plain (CI)
#   scripts/conformance.sh --all -j 2           # every selected test
#   scripts/conformance.sh --family alert tcp-  # a family, name patterns
#   scripts/conformance.sh --suricata           # also run /usr/bin/suricata
#   scripts/conformance.sh --update             # rewrite the passing list
#
# Options: --scope S[,S] | --all, --family F, -j N, --outdir DIR
# (default target/conformance), --timeout SECS (per engine run, default 60),
# --suricata, --update, --no-check, --bin PATH (or MEERKAT_SENSOR=PATH; the
# default is built with cargo build --release -p meerkat-sensor), --no-build.
# Outputs: DIR/summary.txt, DIR/results.tsv (per test: status, exit code,
# wall time, reason), DIR/<engine>/out/<test>/output (run.py's output dirs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The repository root (git's view; the script's parent folder in an export).
root=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/.." && pwd))
shared=$(cd "$root/../shared" 2>/dev/null && pwd) || {
    echo "conformance: $root/../shared not found (the suite lives in ../shared/reference)" >&2
    exit 2
}

bin=${MEERKAT_SENSOR:-}
build=1
args=()
while (($#)); do
    case $1 in
        --bin) bin=$2; shift 2 ;;
        --bin=*) bin=${1#--bin=}; shift ;;
        --no-build) build=0; shift ;;
        *) args+=("$1"); shift ;;
    esac
done

if [[ -z $bin ]]; then
    target=${CARGO_TARGET_DIR:-$root/target}
    [[ $target = /* ]] || target=$root/$target
    bin=$target/release/meerkat-sensor
    if ((build)); then
        (cd "$root" && cargo build --release -q -p meerkat-sensor) || {
            echo "conformance: cargo build --release -p meerkat-sensor failed" >&2
            exit 2
        }
    fi
fi
[[ -x $bin ]] || { echo "conformance: $bin is not an executable (build it or pass --bin)" >&2; exit 2; }

exec python3 "$here/conformance/conformance.py" --bin "$(realpath "$bin")" \
    --root "$root" --shared "$shared" "${args[@]}"
