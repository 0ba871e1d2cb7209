# Installs what otrbot's scripts need on Debian, once. Sourced by scripts/test and scripts/try.
# Needs root (or sudo) only when something is missing.

OTRBOT_APT_PACKAGES=(prosody lua-sec lua-dbi-sqlite3 libotr5-dev libgcrypt20-dev gcc pkg-config openssl
  gettext ca-certificates curl python3 python3-oauthlib python3-venv chromium mcabber profanity pidgin-otr
  tmux
  librsvg2-bin zbar-tools)

otrbot_install_deps() {
  local missing=()
  for p in "${OTRBOT_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # node and npm run otr.js for tests/otrjs_interop.rs. Look for the commands, not the packages:
  # NodeSource's nodejs brings its own npm and conflicts with Debian's npm package.
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  if ! command -v cargo >/dev/null; then
    echo "otrbot: cargo is missing; install Rust with rustup (https://rustup.rs) first" >&2
    return 5
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "otrbot: installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  # Keep apt from starting Debian's own Prosody service on port 5222: ours runs from .run/.
  local prc=/usr/sbin/policy-rc.d made_prc=""
  if [ ! -e "$prc" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$prc" >/dev/null && $sudo chmod +x "$prc" && made_prc=1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  local rc=$?
  [ -n "$made_prc" ] && $sudo rm -f "$prc"
  if [ $rc -ne 0 ]; then
    echo "otrbot: apt-get install ${missing[*]} failed" >&2
    return 5
  fi
}

# python-omemo with the oldmemo backend: the independent OMEMO implementation the interop tests,
# the known answers and the omemo benchmark compare against. Pinned: the known answers in
# crates/omemo/tests/vectors were made with these versions. In a virtual environment of the
# project's own (.run/python), so that neither Debian's nor another Python is changed.
# slixmpp + slixmpp-omemo (and Twomemo, which slixmpp-omemo needs) drive the scripted OMEMO learner
# (tests/omemo/clients/learner.py) and the two-device stand-in bot; these versions keep the pins above.
OTRBOT_PYTHON_PACKAGES=(omemo==2.1.0 "oldmemo[xml]==2.1.0" XEdDSA==1.2.0 X3DH==1.3.0 DoubleRatchet==1.3.0
  "twomemo[xml]==2.1.0" slixmpp==1.17.0 slixmpp-omemo==2.2.0)

otrbot_python_env() {
  local venv="$PWD/.run/python"
  if ! "$venv/bin/python" -c 'import omemo, oldmemo.etree, slixmpp_omemo' 2>/dev/null; then
    echo "otrbot: installing ${OTRBOT_PYTHON_PACKAGES[*]} into $venv (pip)" >&2
    python3 -m venv "$venv" &&
      "$venv/bin/pip" install -q --disable-pip-version-check "${OTRBOT_PYTHON_PACKAGES[@]}" || {
      echo "otrbot: pip install ${OTRBOT_PYTHON_PACKAGES[*]} into $venv failed" >&2
      return 5
    }
  fi
  export OTRBOT_TEST_PYTHON="$venv/bin/python"
}
