#!/usr/bin/env python3
"""Python-to-Python OMEMO 0.3 benchmark with python-omemo 2.1.0 + oldmemo 2.1.0, one process, one core.

Prints one JSON line. Two measurements, each running until at least --seconds of *counted* time:

session setup = fresh device A (new account) gets B's device list and current bundle (bundle XML parsed by
  oldmemo.etree), encrypts one 100-byte message (X3DH + first ratchet step + PreKeyWhisperMessage, XML
  serialization), B gets A's device list and bundle (the library needs the sender's bundle to learn its
  identity key), parses the XML and decrypts (passive X3DH, pre key deletion and refill to 100, re-publishing
  its bundle, and the automatic empty "session completion" message B's library encrypts for A).
  Not counted: creating A (identity key, signed pre key, 100 pre keys), delivering B's completion message.

messages = one-way A -> B on one established, confirmed session: SessionManager.encrypt of a 100-byte
  message + serialize to an XML string, then XML parse + parse_message + SessionManager.decrypt. Both sides
  persist their session to the (in-memory, JSON-serialized) storage on every message, as the library does.
  Because the flow is one-way, after 53 unanswered messages B's library encrypts an empty heartbeat for A
  on every decrypt (python-omemo's staleness prevention); that work is counted and the number is
  reported ("receiver_heartbeats"). With --reply-heartbeats the heartbeats are delivered to A (not counted)
  so A's next message ratchets and the chain restarts.

Run:  python3 tests/omemo/bench.py [--seconds 2] [--reply-heartbeats]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
import xml.etree.ElementTree as ET
import importlib.metadata as md

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oldmemo.etree  # noqa: E402
from peer import NS, Device  # noqa: E402

MSG = ("0123456789" * 10).encode()  # 100 bytes
assert len(MSG) == 100


async def encrypt_xml(dev: Device, to: str, text: bytes) -> str:
    messages, _ = await dev.sm.encrypt(frozenset({to}), {NS: text})
    (msg,) = [m for m in messages if m.namespace == NS]
    return ET.tostring(oldmemo.etree.serialize_message(msg), encoding="unicode")


async def decrypt_xml(dev: Device, sender: str, xml: str) -> bytes:
    message = await oldmemo.etree.parse_message(ET.fromstring(xml), sender, dev.jid, dev.sm)
    plaintext, _, _ = await dev.sm.decrypt(message)
    assert plaintext is not None
    return plaintext


async def bench_setups(seconds: float) -> dict:
    bjid = "bob@bench.example"
    bob = await Device.create("bob", bjid)
    counted = 0.0
    n = 0
    create_time = 0.0
    wall0 = time.perf_counter()
    while counted < seconds or n < 3:
        ajid = f"a{n}@bench.example"
        t0 = time.perf_counter()
        alice = await Device.create(f"a{n}", ajid)
        create_time += time.perf_counter() - t0
        alice_bundle = alice.bundle_xml()  # what alice has published; not counted (part of its creation)

        t0 = time.perf_counter()
        # A "fetches" B's device list and current bundle
        await alice.set_devices(bjid, [bob.device_id])
        alice.set_bundle(bjid, bob.device_id, bob.bundle_xml())
        xml = await encrypt_xml(alice, bjid, MSG)
        # B learns A's device list + bundle and decrypts
        await bob.set_devices(ajid, [alice.device_id])
        bob.set_bundle(ajid, alice.device_id, alice_bundle)
        pt = await decrypt_xml(bob, ajid, xml)
        counted += time.perf_counter() - t0
        assert pt == MSG
        bob.server.outbox.clear()
        await alice.sm.shutdown()
        n += 1
    await bob.sm.shutdown()
    return {
        "session_setups": n,
        "session_setup_seconds_counted": round(counted, 4),
        "session_setups_per_s": round(n / counted, 2),
        "device_creation_ms_avg_not_counted": round(1000 * create_time / n, 2),
        "session_setup_wall_s": round(time.perf_counter() - wall0, 3),
    }


async def bench_messages(seconds: float, reply_heartbeats: bool) -> dict:
    ajid, bjid = "alice@bench.example", "bob@bench.example"
    alice = await Device.create("alice", ajid)
    bob = await Device.create("bob", bjid)
    await alice.set_devices(bjid, [bob.device_id])
    alice.set_bundle(bjid, bob.device_id, bob.bundle_xml())
    await bob.set_devices(ajid, [alice.device_id])
    bob.set_bundle(ajid, alice.device_id, alice.bundle_xml())
    # establish + confirm the session (not counted)
    await decrypt_xml(bob, ajid, await encrypt_xml(alice, bjid, MSG))
    for m in bob.server.outbox:
        await alice.decrypt(bjid, m["xml"])
    bob.server.outbox.clear()
    assert ET.fromstring(await encrypt_xml(alice, bjid, b"x")).find(f".//{{{NS}}}key").get("prekey") is None
    bob.server.outbox.clear()

    t_enc = t_dec = 0.0
    n = 0
    heartbeats = 0
    while (t_enc + t_dec) < seconds or n < 10:
        t0 = time.perf_counter()
        xml = await encrypt_xml(alice, bjid, MSG)
        t1 = time.perf_counter()
        pt = await decrypt_xml(bob, ajid, xml)
        t2 = time.perf_counter()
        t_enc += t1 - t0
        t_dec += t2 - t1
        assert pt == MSG
        n += 1
        if bob.server.outbox:
            heartbeats += len(bob.server.outbox)
            if reply_heartbeats:
                for m in bob.server.outbox:
                    await alice.decrypt(bjid, m["xml"])
            bob.server.outbox.clear()
    await alice.sm.shutdown()
    await bob.sm.shutdown()
    total = t_enc + t_dec
    return {
        "messages": n,
        "message_seconds_counted": round(total, 4),
        "messages_per_s": round(n / total, 2),
        "encrypt_per_s": round(n / t_enc, 2),
        "decrypt_per_s": round(n / t_dec, 2),
        "receiver_heartbeats": heartbeats,
        "heartbeats_delivered_back": reply_heartbeats,
    }


async def main_async(args: argparse.Namespace) -> dict:
    out = {"impl": "python-oldmemo"}
    out.update(await bench_setups(args.seconds))
    out.update(await bench_messages(args.seconds, args.reply_heartbeats))
    out["message_bytes"] = len(MSG)
    out["counted"] = (
        "setup: A parses B's bundle, SessionManager.encrypt (X3DH+PreKeyWhisperMessage) + XML, B parses A's "
        "bundle + XML, SessionManager.decrypt incl. pre key refill and its auto-sent completion message; not "
        "device creation. messages: one-way SessionManager.encrypt + XML serialize, XML parse + "
        "SessionManager.decrypt, incl. per-message session persistence (in-memory JSON storage) and any "
        "staleness heartbeats the receiver's library encrypts"
    )
    out["versions"] = {p: md.version(p) for p in ("OMEMO", "Oldmemo", "XEdDSA", "X3DH", "DoubleRatchet", "cryptography")}
    out["python"] = sys.version.split()[0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="minimum counted seconds per measurement")
    ap.add_argument("--reply-heartbeats", action="store_true",
                    help="deliver the receiver's staleness heartbeats back to the sender (not counted)")
    args = ap.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.ERROR)
    print(json.dumps(asyncio.run(main_async(args))), flush=True)


if __name__ == "__main__":
    main()
