#!/usr/bin/env bash
# Checks the systemd units in systemd/:
#   1. systemd-analyze verify (syntax, unknown directives, ExecStart binaries
#      exist) on a copy whose /usr/local/bin paths point at the built binaries;
#   2. systemd-analyze security --offline=yes: fails when a unit's overall
#      exposure level is above the limit (default 3.0);
#   3. the directives the project promises are present (Type=notify,
#      WatchdogSec, Restart=on-failure, ExecReload with SIGHUP, capabilities).
#
# usage: tests/systemd-check.sh [--bin-dir DIR] [--max-exposure 3.0]
#   --bin-dir DIR  where meerkat-sensor and meerkat-dom are (default:
#                  target/release of this repository)
# Exit status 0 when every check passed, 1 otherwise, 2 on usage errors.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="$REPO/target/release"
MAX_EXPOSURE="3.0"
UNITS=(meerkat-sensor.service meerkat-dom.service)

while [[ $# -gt 0 ]]; do
    case "$1" in
    --bin-dir) BIN_DIR="${2:?--bin-dir needs a directory}"; shift 2 ;;
    --max-exposure) MAX_EXPOSURE="${2:?--max-exposure needs a number}"; shift 2 ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "systemd-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd-check: systemd-analyze not found: install the 'systemd' package" >&2
    exit 1
fi

FAILED=0
fail() { echo "FAIL: $*"; FAILED=1; }
pass() { echo "ok:   $*"; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

for bin in meerkat-sensor meerkat-dom; do
    if [[ ! -x $BIN_DIR/$bin ]]; then
        fail "$BIN_DIR/$bin is missing: build first (cargo build --release --workspace) or pass --bin-dir"
    fi
done

for unit in "${UNITS[@]}"; do
    src="$REPO/systemd/$unit"
    if [[ ! -f $src ]]; then
        fail "$src does not exist"
        continue
    fi
    # A copy that runs the freshly built binaries instead of the installed ones.
    sed "s#/usr/local/bin/#$BIN_DIR/#g" "$src" >"$TMP/$unit"

    # 1. verify. It prints problems on stderr; some environments add noise
    # about other units (e.g. no systemd as PID 1), so only lines naming our
    # unit count, plus a non-zero status.
    if out="$(cd "$TMP" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$TMP/$unit" 2>&1)"; then
        ours="$(grep -F "$unit" <<<"$out" || true)"
        if [[ -n $ours ]]; then
            fail "systemd-analyze verify $unit reported:"
            sed 's/^/      /' <<<"$ours"
        else
            pass "systemd-analyze verify $unit"
        fi
    else
        fail "systemd-analyze verify $unit failed:"
        sed 's/^/      /' <<<"$out"
    fi

    # 2. security exposure.
    sec="$(systemd-analyze security --offline=yes --no-pager "$TMP/$unit" 2>&1 || true)"
    level="$(sed -n 's/.*Overall exposure level for [^:]*: *\([0-9][0-9]*\.[0-9]*\).*/\1/p' <<<"$sec" | tail -n1)"
    if [[ -z $level ]]; then
        fail "systemd-analyze security --offline=yes $unit printed no exposure level:"
        sed 's/^/      /' <<<"$sec" | tail -n 20
    elif awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l > m) }'; then
        fail "$unit exposure level $level is above $MAX_EXPOSURE; worst settings:"
        grep -E '^✗' <<<"$sec" | head -n 15 | sed 's/^/      /'
    else
        pass "$unit exposure level $level (limit $MAX_EXPOSURE)"
    fi

    # 3. promised directives.
    for want in '^Type=notify$' '^WatchdogSec=' '^Restart=on-failure$' '^ExecReload=.*-HUP' \
        '^NoNewPrivileges=yes$' '^ProtectSystem=strict$' '^CapabilityBoundingSet=CAP_NET_ADMIN' \
        '^User=' '^(StateDirectory|LogsDirectory)='; do
        if grep -Eq "$want" "$src"; then
            pass "$unit has /$want/"
        else
            fail "$unit lacks a line matching /$want/"
        fi
    done
done

# The sensor's reject needs CAP_NET_RAW; DOM must not have it.
grep -Eq '^CapabilityBoundingSet=.*CAP_NET_RAW' "$REPO/systemd/meerkat-sensor.service" &&
    pass "meerkat-sensor.service keeps CAP_NET_RAW for reject" ||
    fail "meerkat-sensor.service lacks CAP_NET_RAW (needed for reject)"
if grep -Eq '^CapabilityBoundingSet=.*CAP_NET_RAW' "$REPO/systemd/meerkat-dom.service"; then
    fail "meerkat-dom.service has CAP_NET_RAW, which it does not need"
else
    pass "meerkat-dom.service has no CAP_NET_RAW"
fi
# The units document queue bypass for the firewall rules.
grep -q -- '--queue-bypass' "$REPO/systemd/meerkat-sensor.service" &&
    pass "meerkat-sensor.service documents --queue-bypass" ||
    fail "meerkat-sensor.service does not document --queue-bypass"

if [[ $FAILED -ne 0 ]]; then
    echo "systemd-check: FAILED"
    exit 1
fi
echo "systemd-check: all checks passed"
