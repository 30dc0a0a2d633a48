#!/usr/bin/env bash
# Installs Meerkat: binaries, systemd units, system users and example configs.
#
# usage: scripts/install.sh [--no-build] [--prefix /usr/local] [--destdir DIR] [--enable]
#   --no-build   use the binaries already in target/release
#   --bin-dir B  take the binaries from B instead (implies --no-build)
#   --prefix P   binaries go to P/bin, docs to P/share/doc/meerkat (default /usr/local;
#                the units expect /usr/local/bin, so other prefixes rewrite them)
#   --destdir D  stage everything under D (packaging, tests); no users, no systemctl
#   --enable     also enable and start both services (needs a running systemd)
#
# Files (existing configs are never overwritten; new examples go next to them
# as *.example):
#   P/bin/meerkat-sensor, P/bin/meerkat-dom
#   /etc/systemd/system/meerkat-sensor.service, meerkat-dom.service
#   /usr/lib/sysusers.d/meerkat.conf            (users meerkat, meerkat-dom)
#   /etc/meerkat/sensor.toml, dom.toml, dom-heuristics.toml, rules/local.rules
#   /etc/meerkat/firewall/*                     (example rulesets, not loaded)
#   /etc/logrotate.d/meerkat
# Undo with scripts/uninstall.sh.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD=1
PREFIX=/usr/local
DESTDIR=""
ENABLE=0
SRC_BIN="$REPO/target/release"

while [[ $# -gt 0 ]]; do
    case "$1" in
    --no-build) BUILD=0; shift ;;
    --bin-dir) SRC_BIN="${2:?--bin-dir needs a directory}"; BUILD=0; shift 2 ;;
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
    --destdir) DESTDIR="${2:?--destdir needs a directory}"; shift 2 ;;
    --enable) ENABLE=1; shift ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

if [[ -z $DESTDIR && $(id -u) -ne 0 ]]; then
    echo "install.sh: run as root (or stage with --destdir DIR)" >&2
    exit 1
fi

say() { printf 'install: %s\n' "$*"; }

if [[ $BUILD -eq 1 ]]; then
    say "building release binaries"
    (cd "$REPO" && cargo build --release --workspace)
fi
for bin in meerkat-sensor meerkat-dom; do
    if [[ ! -x $SRC_BIN/$bin ]]; then
        echo "install.sh: $SRC_BIN/$bin is missing: build it (cargo build --release --workspace) or drop --no-build" >&2
        exit 1
    fi
done

D="$DESTDIR"
BIN="$D$PREFIX/bin"
ETC="$D/etc/meerkat"
UNITDIR="$D/etc/systemd/system"

install -d -m 0755 "$BIN" "$UNITDIR" "$D/usr/lib/sysusers.d" "$D/etc/logrotate.d" \
    "$D$PREFIX/share/doc/meerkat"
install -d -m 0755 "$ETC" "$ETC/rules" "$ETC/firewall"

for bin in meerkat-sensor meerkat-dom; do
    install -m 0755 "$SRC_BIN/$bin" "$BIN/$bin"
    say "$BIN/$bin"
done

for unit in meerkat-sensor.service meerkat-dom.service; do
    sed "s#/usr/local/bin/#$PREFIX/bin/#g; s#/usr/local/share/doc/#$PREFIX/share/doc/#g" \
        "$REPO/systemd/$unit" >"$UNITDIR/$unit"
    chmod 0644 "$UNITDIR/$unit"
    say "$UNITDIR/$unit"
done
install -m 0644 "$REPO/systemd/meerkat.sysusers" "$D/usr/lib/sysusers.d/meerkat.conf"
install -m 0644 "$REPO/examples/logrotate-meerkat" "$D/etc/logrotate.d/meerkat"
[[ -f $REPO/README.md ]] && install -m 0644 "$REPO/README.md" "$D$PREFIX/share/doc/meerkat/README.md"

# Configs: keep what the admin has; offer the new example beside it.
install_config() {
    local src="$1" dst="$2"
    if [[ ! -f $src ]]; then
        say "skipping $dst: $src is not in this checkout"
        return 0
    fi
    if [[ -e $dst ]]; then
        if ! cmp -s "$src" "$dst"; then
            install -m 0644 "$src" "$dst.example"
            say "kept $dst (new example in $dst.example)"
        fi
    else
        install -m 0644 "$src" "$dst"
        say "$dst"
    fi
}
install_config "$REPO/examples/sensor.toml" "$ETC/sensor.toml"
install_config "$REPO/examples/dom.toml" "$ETC/dom.toml"
install_config "$REPO/examples/dom-heuristics.toml" "$ETC/dom-heuristics.toml"
install_config "$REPO/examples/rules/fake-ssh-agents.rules" "$ETC/rules/local.rules"
for f in "$REPO"/examples/firewall/*; do
    install -m 0644 "$f" "$ETC/firewall/$(basename "$f")"
done

if [[ -n $DESTDIR ]]; then
    say "staged under $DESTDIR (no users created, systemd not touched)"
    exit 0
fi

# System users (meerkat, meerkat-dom) from the sysusers snippet.
if command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers /usr/lib/sysusers.d/meerkat.conf
else
    getent group meerkat >/dev/null || groupadd --system meerkat
    getent passwd meerkat >/dev/null ||
        useradd --system --gid meerkat --home-dir /var/lib/meerkat --shell /usr/sbin/nologin meerkat
    getent passwd meerkat-dom >/dev/null ||
        useradd --system --user-group --groups meerkat --home-dir /var/lib/meerkat --shell /usr/sbin/nologin meerkat-dom
fi
say "users: $(id meerkat) / $(id meerkat-dom)"

if [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
    if [[ $ENABLE -eq 1 ]]; then
        systemctl enable --now meerkat-sensor.service meerkat-dom.service
        say "enabled and started meerkat-sensor and meerkat-dom"
    else
        say "start with: systemctl enable --now meerkat-sensor meerkat-dom"
    fi
else
    say "systemd is not running here: units installed but not loaded"
fi
say "load a firewall ruleset from /etc/meerkat/firewall/ (see the comments in each file)"
