#!/usr/bin/env bash
# The README's test command: everything CI checks, in order.
#
#   build     cargo build --release --workspace
#   fmt       cargo fmt --all -- --check
#   clippy    cargo clippy --workspace --all-targets -- -D warnings
#   unit      cargo test --workspace --release   (unit + root e2e tests)
#   conformance  scripts/conformance.sh: suricata-verify (../shared/reference)
#             all 1,446 selected tests with run.py; fails when a test listed in
#             tests/conformance/passing.txt fails
#   systemd   tests/systemd-check.sh             (verify + security exposure)
#   examples  tests/examples-check.sh            (configs, rules, rulesets, install)
#   firewall  tests/firewall-paths.sh            (example rulesets, IPS/IDS paths)
#   demo-nftables, demo-iptables   examples/fake-ssh-agent/run.sh, unattended
#   eve       ../shared/tools/check-eve on the demos' eve.json files
#   fuzz      scripts/fuzz.sh 5: every fuzz target 5 s (MEERKAT_FUZZ_SECONDS);
#             passes with a note when there is no nightly toolchain
#
# usage: scripts/test.sh [--no-install] [--skip STAGE]... [--only STAGE]...
# As root it first installs the Debian packages the tests need (apt-get;
# scripts/lib/deps.sh; Suricata 7 via ../shared/tools/install-suricata when
# it is missing) unless --no-install is given, so it works on a fresh Debian 12.
# Every stage runs even when an earlier one failed (stages that need the
# binaries are skipped when the build failed). The last line is
#   test: N passed, M failed
# Exit status 0 only when no stage failed.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO" || exit 2
SKIP=" "
ONLY=" "
INSTALL=1
while [[ $# -gt 0 ]]; do
    case "$1" in
    --no-install) INSTALL=0; shift ;;
    --skip) SKIP+="${2:?--skip needs a stage} "; shift 2 ;;
    --only) ONLY+="${2:?--only needs a stage} "; shift 2 ;;
    -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

# The tests treat a missing prerequisite (root, ip, iperf3, tcpdump,
# ip6tables, check-eve, the ET Open files ...) as a failure when CI is set,
# and only skip (loudly) outside CI: this script is what CI runs.
export CI="${CI:-1}"

# shellcheck source=lib/deps.sh
source "$REPO/scripts/lib/deps.sh"
if [[ $INSTALL -eq 1 ]]; then
    if [[ $(id -u) -eq 0 ]]; then
        install_system_packages || { echo "test.sh: package installation failed" >&2; exit 2; }
        # Suricata 7 for the differential test (sensor/tests/diff_suricata.rs);
        # a failure here shows up as that test failing under CI.
        ensure_suricata || echo "test.sh: Suricata could not be installed" >&2
    else
        echo "test.sh: not root: skipping package installation (the netns tests need root anyway)" >&2
    fi
fi
ensure_cargo >/dev/null || { echo "test.sh: no cargo" >&2; exit 2; }
ROOT="$(git rev-parse --show-toplevel 2>/dev/null || echo "$REPO")"
CHECK_EVE="$ROOT/../shared/tools/check-eve"
ART="$(mktemp -d /tmp/meerkat-test.XXXXXX)"
trap 'rm -rf "$ART"' EXIT

PASSED=0
FAILED=0
SKIPPED=()
FAILED_NAMES=()
BUILD_OK=1
T0=$SECONDS

wanted() {
    [[ $SKIP == *" $1 "* ]] && return 1
    [[ $ONLY == " " || $ONLY == *" $1 "* ]]
}

# stage NAME TIMEOUT_S COMMAND...
stage() {
    local name="$1" limit="$2" t=$SECONDS rc
    shift 2
    if ! wanted "$name"; then
        SKIPPED+=("$name")
        return 0
    fi
    printf '\n===== %s: %s\n' "$name" "$*"
    timeout --kill-after=10 "$limit" "$@"
    rc=$?
    if [[ $rc -eq 0 ]]; then
        PASSED=$((PASSED + 1))
        printf '===== %s: passed (%ds)\n' "$name" $((SECONDS - t))
    else
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("$name")
        [[ $rc -eq 124 ]] && printf '===== %s: timed out after %ss\n' "$name" "$limit"
        printf '===== %s: FAILED (exit %d, %ds)\n' "$name" "$rc" $((SECONDS - t))
    fi
    return "$rc"
}

needs_binaries() {
    if [[ $BUILD_OK -eq 0 ]]; then
        wanted "$1" && { SKIPPED+=("$1 (build failed)"); FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1"); }
        return 1
    fi
    return 0
}

stage build 1800 cargo build --release --workspace || { wanted build && BUILD_OK=0; }
stage fmt 300 cargo fmt --all -- --check
stage clippy 1800 cargo clippy --workspace --all-targets -- -D warnings
stage unit 2400 cargo test --workspace --release --no-fail-fast
needs_binaries conformance &&
    stage conformance 900 scripts/conformance.sh --all -j 2 --quiet --outdir "$ART/conformance"
needs_binaries systemd && stage systemd 120 tests/systemd-check.sh
needs_binaries examples && stage examples 120 tests/examples-check.sh
stage firewall 180 tests/firewall-paths.sh
for fw in nftables iptables; do
    needs_binaries "demo-$fw" &&
        stage "demo-$fw" 180 examples/fake-ssh-agent/run.sh --firewall "$fw" --logdir "$ART/demo-$fw"
done

check_demo_eve() {
    if [[ ! -x $CHECK_EVE ]]; then
        echo "check-eve not found at $CHECK_EVE (expected next to the repository, in ../shared/tools)"
        return 1
    fi
    local f found=0 rc=0
    for f in "$ART"/demo-*/eve.json; do
        [[ -s $f ]] || continue
        found=1
        echo "--- $f"
        "$CHECK_EVE" "$f" || rc=1
    done
    if [[ $found -eq 0 ]]; then
        echo "no demo eve.json to check (did the demo stages run?)"
        return 1
    fi
    return "$rc"
}
export -f check_demo_eve
export CHECK_EVE ART
needs_binaries eve && stage eve 120 bash -c check_demo_eve

# fuzz: every fuzz target a few seconds (scripts/fuzz.sh); a machine without
# a nightly toolchain says so and passes (exit 3 from fuzz.sh = unavailable).
fuzz_briefly() {
    "$REPO/scripts/fuzz.sh" "${MEERKAT_FUZZ_SECONDS:-5}"
    local rc=$?
    if [[ $rc -eq 3 ]]; then
        echo "fuzz: not run (no nightly toolchain or cargo-fuzz on this machine)"
        return 0
    fi
    return "$rc"
}
export -f fuzz_briefly
export REPO
stage fuzz 1500 bash -c fuzz_briefly

echo
[[ ${#SKIPPED[@]} -gt 0 ]] && echo "skipped: ${SKIPPED[*]}"
[[ ${#FAILED_NAMES[@]} -gt 0 ]] && echo "failed stages: ${FAILED_NAMES[*]}"
echo "total time: $((SECONDS - T0))s"
echo "test: $PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
