#!/usr/bin/env bash
# Removes what scripts/install.sh installed.
#
# usage: scripts/uninstall.sh [--prefix /usr/local] [--destdir DIR] [--purge]
#   --purge  also delete /etc/meerkat, /var/lib/meerkat, /var/log/meerkat and
#            the users meerkat and meerkat-dom (default: keep configs, state, logs)
set -euo pipefail

PREFIX=/usr/local
DESTDIR=""
PURGE=0
while [[ $# -gt 0 ]]; do
    case "$1" in
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
    --destdir) DESTDIR="${2:?--destdir needs a directory}"; shift 2 ;;
    --purge) PURGE=1; shift ;;
    -h | --help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "uninstall.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
if [[ -z $DESTDIR && $(id -u) -ne 0 ]]; then
    echo "uninstall.sh: run as root (or use --destdir DIR)" >&2
    exit 1
fi
say() { printf 'uninstall: %s\n' "$*"; }
D="$DESTDIR"

if [[ -z $DESTDIR && -d /run/systemd/system ]]; then
    systemctl disable --now meerkat-dom.service meerkat-sensor.service 2>/dev/null || true
fi
for f in "$D$PREFIX/bin/meerkat-sensor" "$D$PREFIX/bin/meerkat-dom" \
    "$D/etc/systemd/system/meerkat-sensor.service" "$D/etc/systemd/system/meerkat-dom.service" \
    "$D/usr/lib/sysusers.d/meerkat.conf" "$D/etc/logrotate.d/meerkat"; do
    if [[ -e $f ]]; then
        rm -f "$f"
        say "removed $f"
    fi
done
rm -rf "$D$PREFIX/share/doc/meerkat"
if [[ -z $DESTDIR && -d /run/systemd/system ]]; then
    systemctl daemon-reload
fi

if [[ $PURGE -eq 1 ]]; then
    rm -rf "$D/etc/meerkat" "$D/var/lib/meerkat" "$D/var/log/meerkat"
    say "removed /etc/meerkat, /var/lib/meerkat, /var/log/meerkat"
    if [[ -z $DESTDIR ]]; then
        for u in meerkat-dom meerkat; do
            getent passwd "$u" >/dev/null && userdel "$u" && say "removed user $u"
        done
        getent group meerkat >/dev/null && groupdel meerkat 2>/dev/null || true
    fi
else
    say "kept /etc/meerkat, /var/lib/meerkat and /var/log/meerkat (use --purge to delete them)"
fi
