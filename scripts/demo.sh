#!/usr/bin/env bash
# The README's first command: on a fresh Debian 12 machine, installs the
# system packages and Rust, builds Meerkat and runs the fake-SSH-agent demo.
#
# usage: scripts/demo.sh [--no-install] [run.sh options, e.g. --firewall iptables]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/deps.sh
source "$REPO/scripts/lib/deps.sh"

INSTALL=1
if [[ ${1:-} == --no-install ]]; then
    INSTALL=0
    shift
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "demo.sh: the demo creates network namespaces and firewall rules: run it as root (sudo $0 $*)" >&2
    exit 1
fi
[[ $INSTALL -eq 1 ]] && install_system_packages
ensure_cargo
(cd "$REPO" && cargo build --release --workspace)
exec "$REPO/examples/fake-ssh-agent/run.sh" "$@"
