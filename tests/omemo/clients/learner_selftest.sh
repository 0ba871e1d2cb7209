#!/usr/bin/env bash
# Self-test of the scripted OMEMO learner (learner.py) against the two-device stand-in bot (standin_bot.py).
#
#   tests/omemo/clients/learner_selftest.sh [PORT]      (default 15322)
#
# Starts its own loopback Prosody on PORT (scripts/lib/prosody.sh, in $DIR, default
# .run/prosody-learner-selftest, data wiped first: fresh accounts bot, learner-m, learner-b), the stand-in
# (bot@localhost/true answers, bot@localhost/impostor is mute) and learners, and checks:
#   manual: encrypted send before any trust -> error, nothing sent; "devices" lists both bot devices
#           undecided; after trusting the true fingerprint the rids name the true device and not the
#           impostor; the stand-in's reply is decrypted; a plain send arrives; a restart with the same
#           --state keeps device id and fingerprint.
#   blind:  the first encrypted message names both bot devices; after distrusting the impostor the next
#           one names only the true device.
# The rids the learner reports are compared with the <key> elements the stand-in received.
# Prints PASS/FAIL per check and "N passed, M failed"; exits non-zero on any failure.
# Needs: prosody, and .run/python with slixmpp-omemo (scripts/lib/deps.sh: otrbot_python_env).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
PORT=${1:-15322}
DIR=${DIR:-$repo/.run/prosody-learner-selftest}
PY=${PYTHON:-$repo/.run/python/bin/python}

# shellcheck source=../../../scripts/lib/prosody.sh
source "$repo/scripts/lib/prosody.sh"

work=$(mktemp -d)
bot_pid=
cleanup() {
  [ -n "$bot_pid" ] && kill "$bot_pid" 2>/dev/null && wait "$bot_pid" 2>/dev/null || true
  prosody_down "$DIR"
  if [ "${KEEP:-0}" = 1 ]; then echo "KEEP=1: logs in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

mkdir -p "$DIR"
prosody_down "$DIR"
rm -rf "$DIR/data"
OTRBOT_PROSODY_VCARD_LEGACY=0 prosody_up "$DIR" "$PORT" bot:bot-pw learner-m:learner-pw learner-b:learner-pw \
  </dev/null >/dev/null
cafile=$DIR/certs/localhost.crt

"$PY" "$here/standin_bot.py" --port "$PORT" --cafile "$cafile" --state "$work/bot-state" --reply \
  >"$work/bot.out" 2>"$work/bot.err" </dev/null &
bot_pid=$!
for _ in $(seq 1 300); do grep -q '"event": "ready"' "$work/bot.out" 2>/dev/null && break; sleep 0.1; done
grep -q '"event": "ready"' "$work/bot.out" || { echo "stand-in did not start; see $work/bot.err" >&2; KEEP=1; exit 1; }

"$PY" - "$here/learner.py" "$PORT" "$cafile" "$work" <<'PY'
import json, queue, subprocess, sys, threading, time

learner_py, port, cafile, work = sys.argv[1:5]
bot_out = f"{work}/bot.out"
devs = {}
for line in open(bot_out):
    o = json.loads(line)
    if o["event"] == "device":
        devs[o["role"]] = o
TRUE, IMP = devs["true"]["rid"], devs["impostor"]["rid"]
TRUE_FP, IMP_FP = devs["true"]["fingerprint"], devs["impostor"]["fingerprint"]  # "05.." + 64 hex
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} {name}" + (f"  ({detail})" if detail and not ok else ""), flush=True)


class Learner:
    def __init__(self, local, resource, trust):
        self.name = f"{local}/{resource}"
        self.proc = subprocess.Popen(
            [sys.executable, learner_py, "--jid", f"{local}@localhost", "--password", "learner-pw",
             "--resource", resource, "--server", f"127.0.0.1:{port}", "--cafile", cafile,
             "--state", f"{work}/{local}-{resource}", "--trust", trust],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(f"{work}/{local}-{resource}.err", "a"),
            text=True)
        self.q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            print(f"  {self.name} <- {line.rstrip()}", flush=True)
            self.q.put(json.loads(line))
        self.q.put(None)

    def wait(self, pred, timeout=20):
        end = time.time() + timeout
        while True:
            try:
                o = self.q.get(timeout=max(0.0, end - time.time()))
            except queue.Empty:
                return None
            if o is None:
                return None
            if pred(o):
                return o

    def cmd(self, **c):
        print(f"  {self.name} -> {json.dumps(c)}", flush=True)
        self.proc.stdin.write(json.dumps(c) + "\n")
        self.proc.stdin.flush()
        return self.wait(lambda o: o.get("event") != "message") or {}

    def quit(self):
        r = self.cmd(cmd="quit")
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = None
        return r.get("event") == "bye" and rc == 0


def bot_saw(stanza_id, timeout=10):
    """The rids of the <key> elements the stand-in received in that stanza, or None."""
    end = time.time() + timeout
    while time.time() < end:
        for line in open(bot_out):
            o = json.loads(line)
            if o.get("id") == stanza_id and o["event"] in ("message", "plain"):
                return o
        time.sleep(0.1)
    return None


def bot_count():
    return sum(1 for _ in open(bot_out))


# ---- manual -----------------------------------------------------------------------------------------
t0 = time.time()
m = Learner("learner-m", "one", "manual")
ready = m.wait(lambda o: o["event"] in ("ready", "error"))
check("manual: ready", bool(ready) and ready["event"] == "ready", ready)
print(f"  start-up took {time.time() - t0:.2f} s", flush=True)
dev_id, fp = ready["device_id"], ready["fingerprint"]
check("manual: subscribe", m.cmd(cmd="subscribe", jid="bot@localhost").get("subscription") == "both")

before = bot_count()
r = m.cmd(cmd="send", to="bot@localhost", text="before trust", encrypt=True)
check("manual: encrypted send before any trust is an error", r.get("event") == "error", r)
time.sleep(1)
check("manual: ... and nothing was sent", bot_count() == before)

r = m.cmd(cmd="devices", jid="bot@localhost")
got = {d["id"]: (d["fingerprint"], d["trust"]) for d in r.get("devices", [])}
check("manual: devices lists both bot devices, undecided",
      got == {TRUE: (TRUE_FP[2:], "undecided"), IMP: (IMP_FP[2:], "undecided")}, r)

grouped = " ".join(TRUE_FP[2:][i:i + 8] for i in range(0, 64, 8))
r = m.cmd(cmd="trust", jid="bot@localhost", fingerprint=grouped, state="trusted")
check("manual: trust the true fingerprint", r == {"event": "trusted", "id": TRUE, "state": "trusted"}, r)

r = m.cmd(cmd="send", to="bot@localhost", text="hello true", encrypt=True)
check("manual: rids name the true device, not the impostor",
      r.get("event") == "sent" and TRUE in r.get("rids", []) and IMP not in r.get("rids", []), r)
saw = bot_saw(r.get("id"))
check("manual: the stand-in received the same rids",
      saw is not None and sorted(k["rid"] for k in saw["keys"]) == sorted(r.get("rids", [])), saw)
reply = m.wait(lambda o: o["event"] == "message")
check("manual: the true device's reply is decrypted",
      bool(reply) and reply["encrypted"] and reply["text"] == "stand-in: got 'hello true'"
      and reply["sender_device"] == TRUE and reply["error"] is None, reply)

r = m.cmd(cmd="send", to="bot@localhost", text="plain hello", encrypt=False)
saw = bot_saw(r.get("id"))
check("manual: plain send arrives",
      r.get("event") == "sent" and r.get("encrypted") is False and saw is not None
      and saw.get("body") == "plain hello", saw)

r = m.cmd(cmd="frobnicate")
check("manual: unknown command is an error event", r.get("event") == "error", r)
check("manual: quit", m.quit())

m = Learner("learner-m", "one", "manual")
again = m.wait(lambda o: o["event"] in ("ready", "error")) or {}
check("manual: restart keeps device id and fingerprint",
      again.get("device_id") == dev_id and again.get("fingerprint") == fp, again)
r = m.cmd(cmd="send", to="bot@localhost", text="after restart", encrypt=True)
check("manual: after restart the trust decision holds",
      r.get("event") == "sent" and r.get("rids") == [TRUE] and r.get("prekey_rids") == [], r)
m.wait(lambda o: o["event"] == "message")
check("manual: quit after restart", m.quit())

# ---- blind ------------------------------------------------------------------------------------------
b = Learner("learner-b", "one", "blind")
ready = b.wait(lambda o: o["event"] in ("ready", "error"))
check("blind: ready", bool(ready) and ready["event"] == "ready", ready)
r = b.cmd(cmd="send", to="bot@localhost", text="blind first", encrypt=True)
check("blind: first encrypted message names both bot devices",
      r.get("event") == "sent" and sorted(r.get("rids", [])) == sorted([TRUE, IMP]), r)
saw = bot_saw(r.get("id"))
check("blind: the stand-in received the same rids",
      saw is not None and sorted(k["rid"] for k in saw["keys"]) == sorted(r.get("rids", [])), saw)
reply = b.wait(lambda o: o["event"] == "message")
check("blind: reply decrypted", bool(reply) and reply["text"] == "stand-in: got 'blind first'", reply)
r = b.cmd(cmd="devices", jid="bot@localhost")
check("blind: devices shows both blindly trusted",
      all(d["trust"] == "trusted" and d["blind"] for d in r.get("devices", [])) and len(r.get("devices", [])) == 2, r)
dashed = "-".join(IMP_FP[2:][i:i + 8] for i in range(0, 64, 8))
r = b.cmd(cmd="trust", jid="bot@localhost", fingerprint=dashed, state="distrusted")
check("blind: distrust the impostor", r == {"event": "trusted", "id": IMP, "state": "distrusted"}, r)
r = b.cmd(cmd="send", to="bot@localhost", text="blind second", encrypt=True)
check("blind: after distrust only the true device is named",
      r.get("event") == "sent" and r.get("rids") == [TRUE], r)
saw = bot_saw(r.get("id"))
check("blind: the stand-in received the same rids",
      saw is not None and [k["rid"] for k in saw["keys"]] == [TRUE], saw)
b.wait(lambda o: o["event"] == "message")
check("blind: quit", b.quit())

failed = results.count(False)
print(f"{len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
