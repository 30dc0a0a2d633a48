# shellcheck shell=bash
# System packages and the Rust toolchain for the demo, the tests and CI
# (Debian 12). Source this file, then call the functions.

# Debian packages the demo and the tests need.
MEERKAT_APT_PACKAGES=(
    build-essential pkg-config ca-certificates curl wget git
    nftables iptables ipset iproute2 iputils-ping
    openssh-server openssh-client python3 python3-paramiko python3-jsonschema python3-yaml findutils
    iperf3 tcpdump tshark jq systemd procps coreutils
    redis-server
    dnsmasq-base dnsutils openssl
)

# apt-get update + install, without questions (tshark asks about
# non-root capture otherwise).
install_system_packages() {
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "note: apt-get not found: install these packages yourself: ${MEERKAT_APT_PACKAGES[*]}" >&2
        return 0
    fi
    local sudo=()
    [[ $(id -u) -ne 0 ]] && sudo=(sudo)
    echo "wireshark-common wireshark-common/install-setuid boolean false" | "${sudo[@]}" debconf-set-selections 2>/dev/null || true
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${MEERKAT_APT_PACKAGES[@]}"
}

# Makes sure Suricata 7 is installed (the differential test compares the
# sensor with it): runs ../shared/tools/install-suricata (bookworm-backports)
# when `suricata` is not on PATH. Without the tool it says so and fails, so
# that CI (where the test needs Suricata) notices.
ensure_suricata() {
    command -v suricata >/dev/null 2>&1 && return 0
    local root tool
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    root="$(git -C "$root" rev-parse --show-toplevel 2>/dev/null || echo "$root")"
    tool="$root/../shared/tools/install-suricata"
    if [[ ! -x $tool ]]; then
        echo "note: suricata is not installed and $tool is missing: the differential test will fail under CI" >&2
        return 1
    fi
    local sudo=()
    [[ $(id -u) -ne 0 ]] && sudo=(sudo)
    "${sudo[@]}" "$tool"
}

# Makes sure cargo (with rustfmt and clippy) is on PATH: uses ~/.cargo/bin
# when present, otherwise installs a minimal stable toolchain with rustup.
ensure_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "cargo not found: installing the stable Rust toolchain with rustup (https://rustup.rs)"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
            sh -s -- -y --profile minimal --component rustfmt,clippy
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if command -v rustup >/dev/null 2>&1; then
        rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
        rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
    fi
    cargo --version
}
