#!/usr/bin/env python3
"""Scriptable OMEMO (XEP-0384 v0.3, ``eu.siacs.conversations.axolotl``) peer.

Built only on the PyPI packages ``omemo`` 2.1.0 + ``oldmemo`` 2.1.0 (which use ``xeddsa``, ``x3dh`` and
``doubleratchet``). No cryptography is implemented here: every key, signature, session and message goes
through ``omemo.SessionManager`` with the ``oldmemo.Oldmemo`` backend and ``oldmemo.etree`` for the XML.

Protocol: one JSON object per line on stdin, exactly one JSON object per line on stdout (flushed), logs on
stderr. The harness plays the XMPP server: it hands out device lists and bundles and carries the
``<encrypted/>`` elements between peers. Requests:

  {"op":"device","name":"p1","jid":"py@example.org"}
  {"op":"devices","name":"p1","jid":"rust@example.org","ids":[1234,5678]}
  {"op":"bundle","name":"p1","jid":"rust@example.org","device_id":1234,"xml":"<bundle .../>"}
  {"op":"own_bundle","name":"p1"}
  {"op":"encrypt","name":"p1","to":"rust@example.org","text":"hello"}
  {"op":"decrypt","name":"p1","from":"rust@example.org","xml":"<encrypted ...>"}
  {"op":"reset","name":"p1"}
  {"op":"quit"}

  {"op":"info","name":"p1"}            -> same fields as "device" (current bundle)

Extra response fields beyond the brief: encrypt -> "prekey_rids" (rids whose <key> has prekey='true') and
"errors" (devices skipped, e.g. no bundle); decrypt -> "prekey" (our key was a PreKeyWhisperMessage) and
"key_hex" (the decrypted key element content: 16-byte AES key || GCM tag, or just 16 bytes for the
library's own empty messages); reset -> "sessions_dropped". Encrypting "" or null yields an <encrypted/>
without <payload> (the key elements then carry key || tag of the empty GCM encryption, 32 bytes).
Peers are created with after_history_sync() already called, so used pre keys are deleted and refilled at
once and the empty "session completion" messages go out immediately (in "outbox").
To decrypt a key exchange from a device, the peer must have its device list ("devices") and bundle
("bundle"): oldmemo takes the sender's identity key and its Ed25519 sign bit from the sender's bundle.

Every response is {"ok":true,...} or {"ok":false,"error":"..."}; if any local device wanted to send
empty OMEMO messages (session completion / staleness heartbeats) while handling the request, they are
returned in "outbox":[{"from_name":..,"from":jid,"sid":id,"to":jid,"rids":[..],"xml":"<encrypted/>"}].

This file doubles as a small library (``MemStorage``, ``Device``) for make_vectors.py and bench.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sys
import traceback
import xml.etree.ElementTree as ET
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

import omemo
import oldmemo
import oldmemo.etree
import xeddsa
from omemo.storage import Just, Maybe, Nothing
from omemo.types import DeviceInformation, DeviceList, JSONType, TrustLevel

NS = oldmemo.oldmemo.NAMESPACE  # "eu.siacs.conversations.axolotl"
ET.register_namespace("", NS)  # serialize as <encrypted xmlns="eu.siacs...">, not ns0:

TRUST_NAME = "BLIND"  # the single custom trust level: evaluates to TRUSTED


class MemStorage(omemo.Storage):
    """omemo.Storage kept in a dict. Values are JSON-typed; we store a JSON round-tripped copy so that
    nothing the library mutates later can alias what is stored."""

    def __init__(self) -> None:
        super().__init__(disable_cache=True)
        self.data: Dict[str, str] = {}

    async def _load(self, key: str) -> Maybe[JSONType]:
        if key in self.data:
            return Just(json.loads(self.data[key]))
        return Nothing()

    async def _store(self, key: str, value: JSONType) -> None:
        self.data[key] = json.dumps(value)

    async def _delete(self, key: str) -> None:
        self.data.pop(key, None)


class Server:
    """What one local device sees of "the server": device lists and bundles (as XML), fed by the harness.
    Uploads by the device itself (own bundle, own device list) land here too."""

    def __init__(self) -> None:
        self.device_lists: Dict[str, Dict[int, None]] = {}
        self.bundles: Dict[Tuple[str, int], str] = {}
        self.own_bundle: Optional[oldmemo.oldmemo.BundleImpl] = None
        self.outbox: List[Dict[str, Any]] = []


class PeerSessionManager(omemo.SessionManager):
    """Blind-trust, network-less SessionManager. A subclass carrying ``server`` (a ``Server``) as class
    attribute is made per device (create() instantiates the class itself and calls the download hooks before
    we could set instance attributes)."""

    server: Server
    name: str = "?"

    # --- "network" -------------------------------------------------------------------------------------
    async def _upload_bundle(self, bundle: omemo.Bundle) -> None:  # type: ignore[override]
        assert isinstance(bundle, oldmemo.oldmemo.BundleImpl)
        self.server.own_bundle = bundle

    async def _download_bundle(  # type: ignore[override]
        self, namespace: str, bare_jid: str, device_id: int
    ) -> omemo.Bundle:
        if namespace != NS:
            raise omemo.UnknownNamespace(namespace)
        xml = self.server.bundles.get((bare_jid, device_id))
        if xml is None:
            raise omemo.BundleNotFound(f"no bundle for {bare_jid}/{device_id} given by the harness")
        try:
            return oldmemo.etree.parse_bundle(ET.fromstring(xml), bare_jid, device_id)
        except Exception as e:  # malformed bundle from the harness
            raise omemo.BundleDownloadFailed(f"bundle for {bare_jid}/{device_id} unparseable: {e!r}") from e

    async def _delete_bundle(self, namespace: str, device_id: int) -> None:  # type: ignore[override]
        pass

    async def _upload_device_list(  # type: ignore[override]
        self, namespace: str, device_list: DeviceList
    ) -> None:
        jid = self.own_jid
        self.server.device_lists[jid] = {int(d): None for d in device_list}

    async def _download_device_list(  # type: ignore[override]
        self, namespace: str, bare_jid: str
    ) -> DeviceList:
        if namespace != NS:
            raise omemo.UnknownNamespace(namespace)
        return dict(self.server.device_lists.get(bare_jid, {}))

    async def _send_message(  # type: ignore[override]
        self, message: omemo.Message, bare_jid: str
    ) -> None:
        try:
            elt = oldmemo.etree.serialize_message(message)
            self.server.outbox.append({
                "from_name": self.name,
                "from": message.bare_jid,
                "sid": message.device_id,
                "to": bare_jid,
                "rids": sorted(km.device_id for km, _ in message.keys),
                "prekey_rids": sorted(km.device_id for km, kx in message.keys if kx is not None),
                "xml": ET.tostring(elt, encoding="unicode"),
            })
        except Exception as e:  # never let the library fail because of us
            logging.getLogger("peer").exception("queueing empty message failed: %r", e)

    # --- trust: everything trusted ----------------------------------------------------------------------
    async def _evaluate_custom_trust_level(self, device: DeviceInformation) -> TrustLevel:
        return TrustLevel.TRUSTED

    async def _make_trust_decision(
        self, undecided: FrozenSet[DeviceInformation], identifier: Optional[str]
    ) -> None:
        for device in undecided:
            await self.set_trust(device.bare_jid, device.identity_key, TRUST_NAME)

    @property
    def own_jid(self) -> str:
        return self._own_jid  # set right after the class is made, see Device.create


class Device:
    """One local OMEMO device: storage + SessionManager(Oldmemo) + its view of the server."""

    def __init__(self, name: str, jid: str) -> None:
        self.name = name
        self.jid = jid
        self.storage = MemStorage()
        self.server = Server()
        self.sm: PeerSessionManager
        self.backend: oldmemo.Oldmemo

    @classmethod
    async def create(cls, name: str, jid: str, storage: Optional[MemStorage] = None,
                     history_sync: bool = False) -> "Device":
        self = cls(name, jid)
        if storage is not None:
            self.storage = storage
        klass = type(f"PeerSessionManager_{name}", (PeerSessionManager,), {
            "server": self.server, "name": name, "_own_jid": jid,
        })
        self.backend = oldmemo.Oldmemo(self.storage)
        self.sm = await klass.create(
            [self.backend], self.storage, jid, None, TRUST_NAME,
        )
        if not history_sync:
            # Leave "history synchronization mode": used pre keys are deleted (and replaced) at once, and
            # empty messages that complete a key exchange are sent right away instead of being queued.
            await self.sm.after_history_sync()
        return self

    # --- info ------------------------------------------------------------------------------------------
    async def info(self) -> Dict[str, Any]:
        own, _ = await self.sm.get_own_device_information()
        curve = xeddsa.ed25519_pub_to_curve25519_pub(own.identity_key)
        return {
            "device_id": own.device_id,
            "bundle": self.bundle_xml(),
            "fingerprint": curve.hex(),
            "identity_key": base64.b64encode(b"\x05" + curve).decode("ascii"),
        }

    @property
    def device_id(self) -> int:
        assert self.server.own_bundle is not None
        return self.server.own_bundle.device_id

    def bundle_xml(self) -> str:
        assert self.server.own_bundle is not None
        return ET.tostring(oldmemo.etree.serialize_bundle(self.server.own_bundle), encoding="unicode")

    # --- server view -----------------------------------------------------------------------------------
    async def set_devices(self, jid: str, ids: List[int]) -> None:
        dl = {int(i): None for i in ids}
        self.server.device_lists[jid] = dl
        await self.sm.update_device_list(NS, jid, dict(dl))

    def set_bundle(self, jid: str, device_id: int, xml: str) -> None:
        ET.fromstring(xml)  # reject garbage early; full validation happens on use
        self.server.bundles[(jid, int(device_id))] = xml

    # --- messaging -------------------------------------------------------------------------------------
    async def encrypt_message(self, to: str, text: Optional[str]) -> Tuple[omemo.Message, Any]:
        plaintext = b"" if text is None else text.encode("utf-8")
        messages, errors = await self.sm.encrypt(frozenset({to}), {NS: plaintext})
        msg = next(m for m in messages if m.namespace == NS)
        return msg, errors

    async def encrypt(self, to: str, text: Optional[str]) -> Dict[str, Any]:
        msg, errors = await self.encrypt_message(to, text)
        return {
            "xml": ET.tostring(oldmemo.etree.serialize_message(msg), encoding="unicode"),
            "rids": sorted(km.device_id for km, _ in msg.keys),
            "prekey_rids": sorted(km.device_id for km, kx in msg.keys if kx is not None),
            "errors": [f"{e.bare_jid}/{e.device_id}: {type(e.exception).__name__}: {e.exception}"
                       for e in errors],
        }

    async def decrypt(self, sender: str, xml: str) -> Dict[str, Any]:
        elt = ET.fromstring(xml)
        if elt.tag != f"{{{NS}}}encrypted":
            found = elt.find(f".//{{{NS}}}encrypted")  # tolerate a wrapping <message/>
            if found is None:
                raise ValueError(f"no <encrypted xmlns='{NS}'> element in input (root is {elt.tag})")
            elt = found
        message = await oldmemo.etree.parse_message(elt, sender, self.jid, self.sm)
        plaintext, device, pkm = await self.sm.decrypt(message)
        text: Optional[str] = None
        out: Dict[str, Any] = {"sid": message.device_id}
        if plaintext is not None:
            try:
                text = plaintext.decode("utf-8")
            except UnicodeDecodeError:
                out["text_hex"] = plaintext.hex()
        out["text"] = text
        out["prekey"] = any(kx is not None and km.device_id == self.device_id for km, kx in message.keys)
        assert isinstance(pkm, oldmemo.oldmemo.PlainKeyMaterialImpl)
        out["key_hex"] = (pkm.key + pkm.auth_tag).hex()  # the bytes the key element transported
        return out

    async def reset(self) -> int:
        """Forget every session (identity, device id, pre keys and device lists stay)."""
        jids = (await self.storage.load_list(f"/{NS}/bare_jids", str)).maybe([])
        n = 0
        for jid in list(jids):
            n += len((await self.storage.load_list(f"/{NS}/{jid}/device_ids", int)).maybe([]))
            await self.backend.purge_bare_jid(jid)
        # Drop any empty messages still queued from history-sync mode for the lost sessions.
        for jid in (await self.storage.load_list(f"/queue/{NS}", str)).maybe([]):
            await self.storage.delete(f"/queue/{NS}/{jid}")
        await self.storage.delete(f"/queue/{NS}")
        return n


class Peer:
    def __init__(self) -> None:
        self.devices: Dict[str, Device] = {}

    def dev(self, req: Dict[str, Any]) -> Device:
        name = req.get("name")
        if not isinstance(name, str) or name not in self.devices:
            raise KeyError(f"unknown device name {name!r}")
        return self.devices[name]

    @staticmethod
    def field(req: Dict[str, Any], key: str, typ: type) -> Any:
        if key not in req:
            raise ValueError(f"missing field {key!r}")
        v = req[key]
        if typ is int and isinstance(v, str) and v.strip().lstrip("-").isdigit():
            v = int(v)
        if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
            raise ValueError(f"field {key!r} must be {typ.__name__}")
        return v

    async def handle(self, req: Dict[str, Any]) -> Dict[str, Any]:
        op = req.get("op")
        f = self.field
        if op == "device":
            name = f(req, "name", str)
            if name in self.devices:
                raise ValueError(f"device {name!r} exists already")
            d = await Device.create(name, f(req, "jid", str))
            self.devices[name] = d
            return await d.info()
        if op == "devices":
            d = self.dev(req)
            ids = f(req, "ids", list)
            await d.set_devices(f(req, "jid", str), [int(i) for i in ids])
            return {}
        if op == "bundle":
            d = self.dev(req)
            d.set_bundle(f(req, "jid", str), f(req, "device_id", int), f(req, "xml", str))
            return {}
        if op == "own_bundle":
            d = self.dev(req)
            return {"bundle": d.bundle_xml(), "device_id": d.device_id}
        if op == "info":
            return await self.dev(req).info()
        if op == "encrypt":
            d = self.dev(req)
            text = req.get("text")
            if text is not None and not isinstance(text, str):
                raise ValueError("field 'text' must be a string or null")
            return await d.encrypt(f(req, "to", str), text)
        if op == "decrypt":
            d = self.dev(req)
            return await d.decrypt(f(req, "from", str), f(req, "xml", str))
        if op == "reset":
            return {"sessions_dropped": await self.dev(req).reset()}
        raise ValueError(f"unknown op {op!r}")

    def drain_outbox(self) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        for d in self.devices.values():
            out.extend(d.server.outbox)
            d.server.outbox.clear()
        return out


def main() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="peer.py %(levelname)s %(name)s: %(message)s")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    peer = Peer()
    out = sys.stdout
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        quit_ = False
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("request must be a JSON object")
            if req.get("op") == "quit":
                quit_ = True
                resp: Dict[str, Any] = {"ok": True}
            else:
                resp = {"ok": True, **loop.run_until_complete(peer.handle(req))}
        except Exception as e:  # noqa: BLE001 - the protocol says: never crash
            print(f"peer.py: request failed: {line[:200]}", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            msg = str(e)
            resp = {"ok": False, "error": f"{type(e).__name__}: {msg}" if msg else type(e).__name__}
        box = peer.drain_outbox()
        if box:
            resp["outbox"] = box
        out.write(json.dumps(resp) + "\n")
        out.flush()
        if quit_:
            break
    for d in peer.devices.values():
        try:
            loop.run_until_complete(d.sm.shutdown())
        except Exception:  # noqa: BLE001
            pass
    loop.close()


if __name__ == "__main__":
    main()
