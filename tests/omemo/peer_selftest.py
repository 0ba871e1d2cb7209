#!/usr/bin/env python3
"""Self-test of peer.py: two peer processes talk OMEMO through this script, which plays the server.

Process A holds device "a" (alice@example.org); process B holds "b1" and "b2" (two devices of
bob@example.org). Covers bundle + device-list exchange, key exchange (PreKeyWhisperMessage), the empty
"session completion" messages the library sends back, both directions, multi-device fan-out, the switch
from prekey to normal messages, one-time pre key replacement, reset + re-establishment, and error replies
(garbage, replay, unknown device). Prints a line per step and "N passed, 0 failed" at the end; exit code 0
on success.

Run:  python3 tests/omemo/peer_selftest.py   (uses the python running it for the peers)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "peer.py")

PASSED = 0
FAILED = 0


def check(cond: bool, what: str) -> None:
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print(f"  ok   {what}")
    else:
        FAILED += 1
        print(f"  FAIL {what}")


class PeerProc:
    def __init__(self, label: str) -> None:
        self.label = label
        self.p = subprocess.Popen([sys.executable, PEER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=open(os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                           f"peer_selftest_{label}.stderr"), "w"),
                                  text=True, bufsize=1)
        self.outbox: List[Dict[str, Any]] = []

    def req(self, **kw: Any) -> Dict[str, Any]:
        assert self.p.stdin and self.p.stdout
        self.p.stdin.write(json.dumps(kw) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"peer {self.label} died")
        resp = json.loads(line)
        self.outbox.extend(resp.get("outbox", []))
        return resp

    def ok(self, **kw: Any) -> Dict[str, Any]:
        r = self.req(**kw)
        if not r.get("ok"):
            raise RuntimeError(f"{self.label} {kw.get('op')} failed: {r.get('error')}")
        return r

    def close(self) -> None:
        try:
            self.req(op="quit")
        finally:
            self.p.wait(timeout=10)


def main() -> int:
    A = PeerProc("A")
    B = PeerProc("B")
    AJ, BJ = "alice@example.org", "bob@example.org"
    try:
        print("setup: devices, device lists, bundles")
        a = A.ok(op="device", name="a", jid=AJ)
        b1 = B.ok(op="device", name="b1", jid=BJ)
        b2 = B.ok(op="device", name="b2", jid=BJ)
        check(len(a["fingerprint"]) == 64 and a["fingerprint"] == a["fingerprint"].lower(), "fingerprint is 64 lowercase hex")
        import base64
        ik = base64.b64decode(a["identity_key"])
        check(len(ik) == 33 and ik[0] == 5 and ik[1:].hex() == a["fingerprint"], "identity_key = 0x05 || fingerprint")
        check(a["bundle"].startswith("<bundle xmlns=\"eu.siacs.conversations.axolotl\""), "bundle XML in the axolotl namespace")
        ids_b = [b1["device_id"], b2["device_id"]]
        # The "server": A sees bob's two devices, B's devices see alice and each other.
        A.ok(op="devices", name="a", jid=BJ, ids=ids_b)
        A.ok(op="bundle", name="a", jid=BJ, device_id=b1["device_id"], xml=b1["bundle"])
        A.ok(op="bundle", name="a", jid=BJ, device_id=b2["device_id"], xml=b2["bundle"])
        for n, other in (("b1", b2), ("b2", b1)):
            B.ok(op="devices", name=n, jid=AJ, ids=[a["device_id"]])
            B.ok(op="bundle", name=n, jid=AJ, device_id=a["device_id"], xml=a["bundle"])
            B.ok(op="devices", name=n, jid=BJ, ids=ids_b)
            B.ok(op="bundle", name=n, jid=BJ, device_id=other["device_id"], xml=other["bundle"])

        print("a -> bob (key exchange to both of bob's devices)")
        m1 = A.ok(op="encrypt", name="a", to=BJ, text="hello bob ✓")
        check(sorted(m1["rids"]) == sorted(ids_b), f"key elements for both bob devices {m1['rids']}")
        check(sorted(m1["prekey_rids"]) == sorted(ids_b), "both are prekey (PreKeyWhisperMessage) keys")
        for n in ("b1", "b2"):
            d = B.ok(op="decrypt", name=n, **{"from": AJ}, xml=m1["xml"])
            check(d["text"] == "hello bob ✓" and d["sid"] == a["device_id"] and d["prekey"], f"{n} decrypts it")
        nb = B.ok(op="own_bundle", name="b1")["bundle"]
        check(nb != b1["bundle"], "b1's bundle changed (used one-time pre key replaced)")
        box = [m for m in B.outbox if m["to"] == AJ]
        B.outbox.clear()
        check(len(box) == 2, f"B queued {len(box)} empty session-completion messages for alice")
        for m in box:
            d = A.ok(op="decrypt", name="a", **{"from": BJ}, xml=m["xml"])
            check(d["text"] is None and d["sid"] == m["sid"], f"a decrypts empty message from {m['sid']}")

        print("a -> bob again: sessions confirmed, no more key exchange")
        m2 = A.ok(op="encrypt", name="a", to=BJ, text="second")
        check(m2["prekey_rids"] == [], "no prekey keys after the peer answered")
        for n in ("b1", "b2"):
            check(B.ok(op="decrypt", name=n, **{"from": AJ}, xml=m2["xml"])["text"] == "second", f"{n} decrypts")

        print("b1 -> alice (and b1's own other device b2)")
        m3 = B.ok(op="encrypt", name="b1", to=AJ, text="hi alice")
        check(sorted(m3["rids"]) == sorted([a["device_id"], b2["device_id"]]), f"keys for a and b2 {m3['rids']}")
        d = A.ok(op="decrypt", name="a", **{"from": BJ}, xml=m3["xml"])
        check(d["text"] == "hi alice" and not d["prekey"], "a decrypts b1's reply (normal WhisperMessage)")
        d = B.ok(op="decrypt", name="b2", **{"from": BJ}, xml=m3["xml"])
        check(d["text"] == "hi alice" and d["prekey"], "b2 decrypts b1's carbon (key exchange b1->b2)")
        B.outbox.clear()

        print("errors")
        r = A.req(op="decrypt", name="a", **{"from": BJ}, xml=m3["xml"])
        check(not r["ok"], f"replay rejected: {r.get('error', '')[:80]}")
        r = A.req(op="decrypt", name="a", **{"from": BJ}, xml="<encrypted xmlns='eu.siacs.conversations.axolotl'/>")
        check(not r["ok"], f"garbage rejected: {r.get('error', '')[:80]}")
        r = A.req(op="decrypt", name="nobody", **{"from": BJ}, xml=m3["xml"])
        check(not r["ok"], f"unknown device rejected: {r.get('error', '')[:80]}")
        m3b = B.ok(op="encrypt", name="b1", to=AJ, text="tamper with me")
        r = A.req(op="decrypt", name="a", **{"from": BJ}, xml=m3b["xml"].replace("<payload>", "<payload>AAAA"))
        check(not r["ok"] and "Ciphertext" in r["error"], f"tampered payload rejected: {r.get('error', '')[:80]}")
        r = A.req(op="decrypt", name="a", **{"from": BJ}, xml=m3b["xml"])
        check(r["ok"] and r["text"] == "tamper with me", "the untampered copy still decrypts (no state change on failure)")

        print("reset a: it starts new sessions with a key exchange")
        r = A.ok(op="reset", name="a")
        check(r["sessions_dropped"] == 2, f"a dropped {r['sessions_dropped']} sessions")
        # bob still has its sessions; a cannot read bob's next message without a session:
        m4 = B.ok(op="encrypt", name="b1", to=AJ, text="are you there?")
        B.outbox.clear()
        r = A.req(op="decrypt", name="a", **{"from": BJ}, xml=m4["xml"])
        check(not r["ok"] and "NoSession" in r["error"], f"a (no session) cannot decrypt: {r.get('error', '')[:60]}")
        # bundles have changed since (pre keys used); hand A the current ones
        for n, dev in (("b1", b1), ("b2", b2)):
            A.ok(op="bundle", name="a", jid=BJ, device_id=dev["device_id"], xml=B.ok(op="own_bundle", name=n)["bundle"])
        # a knows bob's identity keys already, so it does not download the bundle again... unless needed for
        # the key exchange itself, which it does via _download_bundle:
        m5 = A.ok(op="encrypt", name="a", to=BJ, text="back again")
        check(sorted(m5["prekey_rids"]) == sorted(ids_b), "a sends a key exchange again")
        for n in ("b1", "b2"):
            d = B.ok(op="decrypt", name=n, **{"from": AJ}, xml=m5["xml"])
            check(d["text"] == "back again" and d["prekey"], f"{n} accepts the new session")
        for m in [m for m in B.outbox if m["to"] == AJ]:
            check(A.ok(op="decrypt", name="a", **{"from": BJ}, xml=m["xml"])["text"] is None, "a decrypts completion")
        B.outbox.clear()
        m6 = B.ok(op="encrypt", name="b2", to=AJ, text="welcome back")
        check(A.ok(op="decrypt", name="a", **{"from": BJ}, xml=m6["xml"])["text"] == "welcome back", "b2 -> a works after reset")
        m7 = A.ok(op="encrypt", name="a", to=BJ, text="thanks")
        check(m7["prekey_rids"] == [], "a's sessions confirmed again")
        for n in ("b1", "b2"):
            check(B.ok(op="decrypt", name=n, **{"from": AJ}, xml=m7["xml"])["text"] == "thanks", f"{n} decrypts")
    finally:
        A.close()
        B.close()
    print(f"{PASSED} passed, {FAILED} failed")
    return 0 if FAILED == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
