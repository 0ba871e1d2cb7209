#!/usr/bin/env bash
# Which OMEMO devices does Debian's Profanity encrypt for, in each of its trust modes?
#
# Research for issue 21 (the OMEMO lesson: verify the bot's device, refuse the impostor). Starts a
# loopback Prosody (scripts/lib/prosody.sh, port 15240), the two-device stand-in bot
# (standin_bot.py: bot@localhost with a "true" and an "impostor" device), and, for each trust mode
# (/omemo trustmode manual|firstusage|blind), a fresh Profanity in tmux as learner-<mode>@localhost.
# Each mode runs the same steps; after each step the learner sends one message and the stand-in
# reports which rids that message's <key> elements name. Prints a table; everything Profanity
# showed is kept in $OUT/screen-<mode>.txt, its debug log (with the stanzas) in
# $OUT/prof-<mode>/.local/share/profanity/logs/profanity.log, the stand-in's reports in
# $OUT/bot.out.
#
#   tests/omemo/clients/profanity_trust.sh            all three modes
#   MODES="manual" tests/omemo/clients/profanity_trust.sh
#   KEEP=1 ...                                       leave Prosody, the stand-in and tmux running
#
# Needs: prosody, profanity (with OMEMO), tmux, python3 with slixmpp + slixmpp-omemo.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
OUT=${OUT:-/tmp/omemo-research}
PORT=${PORT:-15240}
MODES=${MODES:-"manual firstusage blind"}
TS=otrbot-omemo-prof          # our tmux session
PY=${PYTHON:-python3}
PROSODY_DIR=$OUT/prosody
BOT_OUT=$OUT/bot.out
TABLE=$OUT/table.tsv

# shellcheck source=../../../scripts/lib/prosody.sh
source "$repo/scripts/lib/prosody.sh"

bot_pid=
cleanup() {
  [ "${KEEP:-0}" = 1 ] && { echo "KEEP=1: Prosody, stand-in (pid $bot_pid) and tmux session $TS left running" >&2; return; }
  tmux kill-session -t "$TS" 2>/dev/null || true
  [ -n "$bot_pid" ] && kill "$bot_pid" 2>/dev/null || true
  prosody_down "$PROSODY_DIR"
}
trap cleanup EXIT

mkdir -p "$OUT"
tmux kill-session -t "$TS" 2>/dev/null || true
prosody_down "$PROSODY_DIR"
rm -rf "$PROSODY_DIR/data" "$OUT/bot-state" "$BOT_OUT" "$TABLE"
accounts=(bot:bot-pw)
for m in $MODES; do accounts+=("learner-$m:learner-pw"); done
prosody_up "$PROSODY_DIR" "$PORT" "${accounts[@]}" </dev/null >/dev/null
cafile=$PROSODY_DIR/certs/localhost.crt
standin=("$PY" "$here/standin_bot.py" --port "$PORT" --cafile "$cafile" --state "$OUT/bot-state")

befriend=()
for m in $MODES; do befriend+=(--befriend "learner-$m@localhost:learner-pw"); done
"${standin[@]}" --reply "${befriend[@]}" >"$BOT_OUT" 2>"$OUT/bot.err" </dev/null &
bot_pid=$!
for _ in $(seq 1 300); do grep -q '"event": "ready"' "$BOT_OUT" 2>/dev/null && break; sleep 0.2; done
grep -q '"event": "ready"' "$BOT_OUT" || { echo "stand-in did not start; see $OUT/bot.err" >&2; exit 1; }
true_rid=$(jq -r 'select(.event=="device" and .role=="true") | .rid' "$BOT_OUT")
imp_rid=$(jq -r 'select(.event=="device" and .role=="impostor") | .rid' "$BOT_OUT")
# Profanity shows a fingerprint as 8 groups of 8 hex digits joined by '-', without the 05 byte.
prof_fp() { jq -r "select(.event==\"device\" and .role==\"$1\") | .fingerprint[2:] | [scan(\".{8}\")] | join(\"-\")" "$BOT_OUT"; }
TRUE_FP=$(prof_fp true)
IMP_FP=$(prof_fp impostor)
echo "bot@localhost true device     rid $true_rid  $TRUE_FP"
echo "bot@localhost impostor device rid $imp_rid  $IMP_FP"

# --- driving Profanity -------------------------------------------------------------------------
screen() { tmux capture-pane -p -J -t "$TS" -S - 2>/dev/null | sed -e 's/[[:space:]]*$//' | grep -v '^$' || true; }
# What a command printed: the lines of the window that were not there before it (Profanity stamps
# each line with the time, so old and new lines differ).
mark() { screen >"$OUT/.screen-before"; }
fresh() {
  screen | grep -vxFf "$OUT/.screen-before" | grep -v '^ *\[[0-9:]*\] learner' | grep -v '^ *bot@localhost \[' || true
}
send() { tmux send-keys -t "$TS" -l "$1"; tmux send-keys -t "$TS" Enter; }
wait_for() { # REGEX SECONDS: until the screen shows REGEX
  local i
  for i in $(seq 1 $(($2 * 10))); do screen | grep -Eq "$1" && return 0; sleep 0.1; done
  echo "  (timed out waiting for /$1/)" >&2; return 1
}
cmd() { # type a command, wait a moment, return what it printed
  mark; send "$1"; sleep "${2:-1}"; fresh
}

learner_msgs() { jq -c "select(.event==\"message\" and (.from|startswith(\"$1@localhost\")))" "$BOT_OUT" | jq -s 'unique_by(.id) | length'; }
# The keys of the learner's newest message, as "true*,impostor" (* = prekey), once one arrives.
keys_of_new() { # JID-LOCAL COUNT-BEFORE
  local i n
  for i in $(seq 1 60); do
    n=$(learner_msgs "$1")
    if [ "$n" -gt "$2" ]; then
      sleep 0.5 # let both resources report (the true one decrypts)
      jq -s -r --arg l "$1@localhost" '
        [ .[] | select(.event=="message" and (.from|startswith($l))) ] as $all
        | ($all | map(.id) | unique) as $ids
        | ($all[-1].id) as $id
        | ($all | map(select(.id==$id))) as $m
        | ( $m[0].keys | map(.device + (if .prekey then "*" else "" end)) | join(",") ) as $k
        | ( [ $m[] | select(.decrypted_by_seen_by != null) | .seen_by ] | unique | join(",") ) as $d
        | "\(if $k=="" then "(no key elements)" else $k end)\t\(if $d=="" then "-" else $d end)"' "$BOT_OUT"
      return
    fi
    sleep 0.1
  done
  printf 'NOTHING SENT\t-\n'
}

row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TABLE"; }
flat() { tr '\n' ' ' | sed -e 's/  */ /g' -e 's/\t/ /g' | cut -c1-700; }

step() { # MODE LABEL TEXT COMMAND...: run the commands, send TEXT, record the keys
  local mode=$1 label=$2 text=$3; shift 3
  local c out="" before res
  for c in "$@"; do [ -n "$c" ] && out+="$(cmd "$c" 1.5) "; done
  before=$(learner_msgs "learner-$mode")
  mark; send "$text"; sleep 1
  res=$(keys_of_new "learner-$mode" "$before")
  sleep 0.5
  out+=$(fresh | grep -v " me: $text" || true)
  row "$mode" "$label" "$(printf '%s; ' "$@" | sed -e 's/\(; \)*$//')" "${res%%$'\t'*}" "${res#*$'\t'}" "$(printf '%s' "$out" | flat)"
}

run_mode() {
  local mode=$1
  local home=$OUT/prof-$mode
  rm -rf "$home"; mkdir -p "$home"
  tmux kill-session -t "$TS" 2>/dev/null || true
  tmux new-session -d -s "$TS" -x 250 -y 80 \
    "env HOME=$home XDG_CONFIG_HOME=$home/.config XDG_DATA_HOME=$home/.local/share TERM=xterm-256color profanity -l DEBUG"
  wait_for 'Type .?/help' 10
  tmux set-option -t "$TS" history-limit 20000 >/dev/null
  local a=learner-$mode
  cmd "/account add $a" 0.3 >/dev/null
  cmd "/account set $a jid $a@localhost" 0.3 >/dev/null
  cmd "/account set $a server 127.0.0.1" 0.3 >/dev/null
  cmd "/account set $a port $PORT" 0.3 >/dev/null
  cmd "/account set $a password learner-pw" 0.3 >/dev/null
  cmd "/account set $a tls trust" 0.3 >/dev/null   # the loopback server's self-signed certificate
  cmd "/account set $a resource profanity" 0.3 >/dev/null
  local tm; tm=$(cmd "/omemo trustmode $mode" 0.5 | flat)
  mark; send "/connect $a"; wait_for "$a@localhost/profanity logged in" 15 || true
  sleep 1
  local gen; gen=$(cmd "/omemo gen" 4 | flat)
  row "$mode" "setup" "/omemo trustmode $mode; /connect; /omemo gen" "" "" "$tm $gen"
  # Does Profanity publish its device list on an account that has none (a fresh account)?
  sleep 1
  local dl; dl=$("${standin[@]}" --pep-only --show-devicelist "$a@localhost" 2>/dev/null | jq -c .ids)
  cmd "/disconnect" 1 >/dev/null; mark; send "/connect $a"; wait_for "logged in" 15 || true; sleep 2
  local dl2; dl2=$("${standin[@]}" --pep-only --show-devicelist "$a@localhost" 2>/dev/null | jq -c .ids)
  local seeded=""
  if [ "$dl2" = null ]; then
    # Workaround: create the node with an empty list; Profanity then adds its own device.
    "${standin[@]}" --pep-only --befriend "$a@localhost:learner-pw" --seed-devicelist >/dev/null 2>&1
    cmd "/disconnect" 1 >/dev/null; mark; send "/connect $a"; wait_for "logged in" 15 || true; sleep 2
    seeded=" -> seeded an empty list, reconnected: $("${standin[@]}" --pep-only --show-devicelist "$a@localhost" 2>/dev/null | jq -c .ids)"
  fi
  row "$mode" "learner's device list" "(server side, after /omemo gen; after a reconnect)" "" "" \
    "after gen: $dl; after reconnect: $dl2$seeded"
  # The chat window: OMEMO on (policy automatic may already have switched it on).
  local st; st=$(cmd "/msg bot@localhost" 1.5 | flat)
  st+=$(cmd "/omemo start" 3 | flat)
  local fp; fp=$(cmd "/omemo fingerprint" 1 | flat)
  row "$mode" "start" "/msg bot@localhost; /omemo start; /omemo fingerprint" "" "" "$st $fp"

  step "$mode" "1 no decision yet" "$mode-1 before any trust decision"
  step "$mode" "2 trust true only" "$mode-2 after trusting the true device" "/omemo trust $TRUE_FP"
  step "$mode" "3 + untrust impostor" "$mode-3 after untrusting the impostor" "/omemo untrust $IMP_FP"
  step "$mode" "4 trust both" "$mode-4 after trusting both" "/omemo trust $IMP_FP"
  step "$mode" "5 true untrusted, impostor trusted" "$mode-5 true untrusted, impostor trusted" "/omemo untrust $TRUE_FP"
  step "$mode" "6 back to: true trusted, impostor untrusted" "$mode-6 true trusted, impostor untrusted" \
    "/omemo trust $TRUE_FP" "/omemo untrust $IMP_FP"
  # The impostor device now sends the learner one message (the stand-in does that on "impostor-speak").
  step "$mode" "7 impostor speaks (untrusted)" "$mode-7 impostor-speak" ""
  sleep 2
  local shown; shown=$(screen | grep -E 'bot@localhost/impostor|impostor device here' | flat)
  row "$mode" "7b how the impostor's message is shown" "" "" "" "${shown:-(not shown)}"
  step "$mode" "8 after the impostor spoke" "$mode-8 after the impostor spoke, nothing changed" ""
  local fp2; fp2=$(cmd "/omemo fingerprint" 1 | flat)
  row "$mode" "end" "/omemo fingerprint" "" "" "$fp2"
  screen >"$OUT/screen-$mode.txt"
  cmd "/quit" 1 >/dev/null || true
  tmux kill-session -t "$TS" 2>/dev/null || true
}

for m in $MODES; do
  echo "--- trust mode $m" >&2
  run_mode "$m"
done

echo
echo "Keys: the devices named by <key rid=..> in the learner's message (* = prekey='true');"
echo "decrypted by: which stand-in device could read it. true rid $true_rid, impostor rid $imp_rid."
echo
{
  printf 'mode\tstep\tcommands\tkeys\tdecrypted by\tProfanity showed\n'
  cat "$TABLE"
} | "$PY" -c '
import sys
rows = [l.rstrip("\n").split("\t") for l in sys.stdin]
for r in rows:
    print("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    if r is rows[0]:
        print("|" + "---|" * len(r))
'
