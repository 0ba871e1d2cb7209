#!/usr/bin/env bash
# Installs otrbot on a Debian VPS: binary in /usr/bin, templates and translations in
# /usr/share/otrbot, settings in /etc/otrbot, data in /var/lib/otrbot, a hardened systemd unit.
#
#   deploy/install.sh [--destdir DIR] [--binary PATH] [--no-systemd]
#
# --destdir installs under DIR (for packaging and tests); --binary uses a built binary instead
# of building one with `cargo build --release`; --no-systemd skips user creation and systemctl.
set -euo pipefail
cd "$(dirname "$0")/.."
destdir="" binary="" systemd=1
while [ $# -gt 0 ]; do
  case "$1" in
    --destdir) destdir=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --no-systemd) systemd=0; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$binary" ]; then
  cargo build --release --locked
  binary=target/release/otrbot
fi
[ -x "$binary" ] || { echo "install.sh: no binary at $binary" >&2; exit 5; }

install -D -m 0755 "$binary" "$destdir/usr/bin/otrbot"
install -d -m 0755 "$destdir/usr/share/otrbot" "$destdir/usr/share/doc/otrbot"
for d in templates locales; do
  if [ -d "$d" ]; then
    rm -rf "$destdir/usr/share/otrbot/${d:?}"
    cp -r "$d" "$destdir/usr/share/otrbot/$d"
  fi
done
install -m 0644 README.md "$destdir/usr/share/doc/otrbot/README.md"
install -d -m 0750 "$destdir/etc/otrbot"
install -m 0644 settings/sample.toml "$destdir/etc/otrbot/sample.toml"
if [ ! -e "$destdir/etc/otrbot/production.toml" ]; then
  # A starting point that names every key; check-config tells what still needs setting.
  sed -e 's#^data_dir = "data"#data_dir = "/var/lib/otrbot"#' settings/sample.toml \
    > "$destdir/etc/otrbot/production.toml"
  chmod 0640 "$destdir/etc/otrbot/production.toml"
fi
install -D -m 0644 deploy/otrbot.service "$destdir/lib/systemd/system/otrbot.service"
install -D -m 0644 deploy/nginx/otrbot.conf "$destdir/etc/nginx/sites-available/otrbot.conf"
install -d -m 0700 "$destdir/var/lib/otrbot"

if [ "$systemd" = 1 ] && [ -z "$destdir" ]; then
  getent group otrbot >/dev/null || groupadd --system otrbot
  getent passwd otrbot >/dev/null ||
    useradd --system --gid otrbot --home-dir /var/lib/otrbot --shell /usr/sbin/nologin otrbot
  chown otrbot:otrbot /var/lib/otrbot
  chgrp otrbot /etc/otrbot /etc/otrbot/production.toml
  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
  echo "Installed. Edit /etc/otrbot/production.toml (and /etc/otrbot/secrets.env), then:"
  echo "  otrbot --settings /etc/otrbot/production.toml check-config"
  echo "  systemctl enable --now otrbot"
fi
