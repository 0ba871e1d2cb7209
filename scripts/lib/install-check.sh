# The deployment check of scripts/test: install with deploy/install.sh on this machine (as root),
# run the installed binary, and have systemd-analyze verify the unit.
install_check() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "install check: skipped (needs root to install into /usr, /etc and /var/lib)" >&2
    return 0
  fi
  deploy/install.sh --binary target/debug/otrbot >/dev/null
  /usr/bin/otrbot --version
  local out
  out=$(systemd-analyze verify /lib/systemd/system/otrbot.service 2>&1) || { echo "$out" >&2; return 1; }
  # Unknown keys or bad values are only warnings to systemd-analyze: treat any output as failure.
  [ -z "$out" ] || { echo "install check: systemd-analyze verify says:" >&2; echo "$out" >&2; return 1; }
  [ "$(stat -c %a /var/lib/otrbot)" = 700 ] || { echo "install check: /var/lib/otrbot is not 0700" >&2; return 1; }
  [ "$(stat -c %U /var/lib/otrbot)" = otrbot ] || { echo "install check: /var/lib/otrbot is not owned by otrbot" >&2; return 1; }
}
