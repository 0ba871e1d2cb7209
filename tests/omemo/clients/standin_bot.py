#!/usr/bin/env python3
"""A stand-in for the OMEMO lesson's bot: one account, TWO OMEMO devices (a "true" one and an "impostor").

Research tool for issue 21 (the OMEMO lesson: verify the bot's device, refuse the impostor). It is not
the bot: it only shows what a real client encrypts for, so that the lesson can be designed around it.

How the two devices are made: slixmpp-omemo's plugin holds exactly one omemo.SessionManager (one device)
per XMPP connection, so this process opens TWO connections to the same account, bot@localhost/true and
bot@localhost/impostor, each with the plugin and its own storage file. They are started one after the
other; python-omemo's SessionManager downloads the account's device list at start and adds its own device
if it is missing (and does so again on every PEP update that lacks it), so the published list ends up
holding both ids. Each device publishes its own bundle (access model open, as slixmpp-omemo does).

What it prints (stdout, one JSON object per line, flushed):
  {"event":"device","role":"true","rid":..,"fingerprint":"05..","groups":"xxxxxxxx xxxxxxxx .."}
  {"event":"device_list","ids":[..]}                 the oldmemo list as the server now holds it
  {"event":"ready"}
  {"event":"message","seen_by":"true|impostor","id":..,"from":..,"sid":..,
   "keys":[{"rid":..,"device":"true|impostor|other","prekey":false}],
   "decrypted_by_seen_by":"text" | null, "error":".."}
for every incoming message in the eu.siacs.conversations.axolotl namespace (both connections may see the
same stanza: messages to the bare JID go to both resources; dedupe by "id").

  standin_bot.py --state DIR [--befriend learner@localhost:learner-pw [--seed-devicelist]] [--reply]
  standin_bot.py --state DIR --pep-only [--befriend ..] [--seed-devicelist] [--show-devicelist JID]

A learner's message whose text contains "impostor-speak" makes the IMPOSTOR device send one encrypted
message to the learner (to see how the client shows a message from a device it does not trust).

--state keeps the two devices (true.json, impostor.json) so that fingerprints survive a restart; delete the
directory for new devices. --befriend first logs in as the learner with plain slixmpp and makes the
subscription mutual (the bot side auto-accepts), so that PEP and presence work both ways. --reply makes
the TRUE device answer each decrypted message ("stand-in: got '<text>'"), encrypted with BTBV.

TLS: the loopback Prosody uses a self-signed leaf (scripts/lib/prosody.sh, DIR/certs/localhost.crt);
--cafile trusts exactly that certificate, --insecure turns verification off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import ssl
import sys
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Optional

import oldmemo
import oldmemo.etree
import xeddsa
import xml.etree.ElementTree as ET
from omemo.storage import Just, Maybe, Nothing, Storage
from omemo.types import DeviceInformation, JSONType
from slixmpp import JID, ClientXMPP
from slixmpp.plugins import register_plugin
from slixmpp.stanza import Message
from slixmpp_omemo import TrustLevel, XEP_0384

NS = oldmemo.oldmemo.NAMESPACE  # eu.siacs.conversations.axolotl
DEVICELIST_NODE = f"{NS}.devicelist"

log = logging.getLogger("standin")


def emit(obj: Dict[str, Any]) -> None:
    print(json.dumps(obj, sort_keys=False), flush=True)


class FileStorage(Storage):
    """omemo.Storage in one JSON file, rewritten on every change (a research tool: small and slow is fine)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.data: Dict[str, JSONType] = {}
        if path.exists():
            self.data = json.loads(path.read_text())

    def _flush(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data))
        tmp.replace(self.path)

    async def _load(self, key: str) -> Maybe[JSONType]:
        if key in self.data:
            return Just(self.data[key])
        return Nothing()

    async def _store(self, key: str, value: JSONType) -> None:
        self.data[key] = value
        self._flush()

    async def _delete(self, key: str) -> None:
        self.data.pop(key, None)
        self._flush()


class XEP_0384Impl(XEP_0384):  # pylint: disable=invalid-name
    """slixmpp-omemo with a file storage and BTBV on (the bot trusts learners' devices blindly)."""

    default_config = {
        "fallback_message": "This message is OMEMO encrypted.",
        "json_file_path": None,
    }

    def plugin_init(self) -> None:
        if not self.json_file_path:
            raise ValueError("json_file_path not given")
        self._storage_impl = FileStorage(Path(self.json_file_path))
        super().plugin_init()

    @property
    def storage(self) -> Storage:
        return self._storage_impl

    @property
    def _btbv_enabled(self) -> bool:
        return True

    async def _devices_blindly_trusted(self, blindly_trusted: FrozenSet[DeviceInformation],
                                       identifier: Optional[str]) -> None:
        log.info("[%s] blindly trusted %s", self.xmpp.boundjid.resource,
                 sorted((d.bare_jid, d.device_id) for d in blindly_trusted))

    async def _prompt_manual_trust(self, manually_trusted: FrozenSet[DeviceInformation],
                                   identifier: Optional[str]) -> None:
        # Not reached with BTBV unless someone set a manual trust level; trust anyway (research tool).
        session_manager = await self.get_session_manager()
        for device in manually_trusted:
            await session_manager.set_trust(device.bare_jid, device.identity_key, TrustLevel.TRUSTED.value)


register_plugin(XEP_0384Impl)


def fingerprint_hex(identity_key_ed25519: bytes) -> str:
    """The identity key as oldmemo puts it on the wire (Curve25519 with libsignal's 0x05 byte), in hex."""
    return "05" + xeddsa.ed25519_pub_to_curve25519_pub(identity_key_ed25519).hex()


def grouped(fp_hex: str) -> str:
    """Conversations/Gajim/Dino style: the 64 hex digits without the 05 byte, in groups of eight."""
    h = fp_hex[2:] if len(fp_hex) == 66 else fp_hex
    return " ".join(h[i:i + 8] for i in range(0, len(h), 8))


class Shared:
    """What both connections know: which rid is which role."""

    def __init__(self) -> None:
        self.roles: Dict[int, str] = {}
        self.reply = False
        self.clients: Dict[str, ClientXMPP] = {}


def make_client(jid: str, password: str, resource: str, storage_path: Path, ssl_ctx: ssl.SSLContext,
                shared: Shared) -> ClientXMPP:
    xmpp = ClientXMPP(f"{jid}/{resource}", password)
    xmpp.ssl_context = ssl_ctx
    xmpp.auto_authorize = True
    xmpp.auto_subscribe = True
    for plugin in ("xep_0030", "xep_0060", "xep_0163", "xep_0199", "xep_0280", "xep_0334"):
        xmpp.register_plugin(plugin)
    xmpp.register_plugin("xep_0384", {"json_file_path": str(storage_path)}, module=sys.modules[__name__])

    async def on_session_start(_event: Any) -> None:
        xmpp.send_presence()
        await xmpp.get_roster()
        try:
            await xmpp.plugin["xep_0280"].enable()
        except Exception as e:  # carbons are optional here
            log.info("[%s] carbons: %s", resource, e)

    async def on_message(stanza: Message) -> None:
        await handle_message(xmpp, resource, stanza, shared)

    xmpp.add_event_handler("session_start", on_session_start)
    xmpp.add_event_handler("message", on_message)
    return xmpp


async def handle_message(xmpp: ClientXMPP, seen_by: str, stanza: Message, shared: Shared) -> None:
    enc = stanza.xml.find(f"{{{NS}}}encrypted")
    if enc is None:
        body = stanza["body"]
        if body and stanza["type"] in ("chat", "normal"):
            emit({"event": "plain", "seen_by": seen_by, "id": stanza["id"], "from": str(stanza["from"]),
                  "body": body})
        return
    header = enc.find(f"{{{NS}}}header")
    keys: List[Dict[str, Any]] = []
    sid = None
    if header is not None:
        sid = int(header.get("sid", "0"))
        for key in header.findall(f"{{{NS}}}key"):
            rid = int(key.get("rid", "0"))
            keys.append({"rid": rid, "device": shared.roles.get(rid, "other"),
                         "prekey": key.get("prekey") in ("true", "1")})
    has_payload = enc.find(f"{{{NS}}}payload") is not None
    record: Dict[str, Any] = {"event": "message", "seen_by": seen_by, "id": stanza["id"],
                              "from": str(stanza["from"]), "sid": sid, "payload": has_payload, "keys": keys}
    if stanza["from"].bare == xmpp.boundjid.bare:
        # Our own other device's (empty) OMEMO messages, or a carbon of our own: log only.
        emit(record)
        return
    xep_0384: XEP_0384 = xmpp.plugin["xep_0384"]
    text = None
    try:
        decrypted, device = await xep_0384.decrypt_message(stanza)
        text = decrypted["body"] or None
        record["decrypted_by_seen_by"] = text
        record["sender_trust"] = device.trust_level_name
    except Exception as e:  # noqa: BLE001 - report any failure, e.g. "not for us"
        record["decrypted_by_seen_by"] = None
        record["error"] = f"{type(e).__name__}: {e}"
    emit(record)
    if text and "impostor-speak" in text and seen_by == "true" and "impostor" in shared.clients:
        # The learner asked (through the true device) to hear from the impostor: it sends one message, so
        # that one can see how the learner's client shows a message from a device it does not trust.
        impostor = shared.clients["impostor"]
        # Speak as a device the learner's client has no session with, as a real impostor would: a
        # key exchange (PreKeySignalMessage). replace_sessions drops any session the impostor already
        # has with the learner's devices and notifies them with an empty key-exchange message.
        imp_sm = await impostor.plugin["xep_0384"].get_session_manager()
        for device in await imp_sm.get_device_information(stanza["from"].bare):
            if (NS, True) in device.active:
                failures = await imp_sm.replace_sessions(device)
                if failures:
                    log.info("replace_sessions(%s): %s", device.device_id, failures)
        msg = impostor.make_message(mto=stanza["from"].bare, mtype="chat")
        msg["body"] = "impostor device here: trust me"
        try:
            encrypted, errors = await impostor.plugin["xep_0384"].encrypt_message(msg, {JID(stanza["from"].bare)})
            if encrypted is not None:
                encrypted.send()
                emit({"event": "impostor_sent", "to": stanza["from"].bare})
            if errors:
                log.info("impostor encrypt errors: %s", errors)
        except Exception as e:  # noqa: BLE001
            log.warning("impostor message failed: %s", e)
    if shared.reply and text and seen_by == "true":
        reply = xmpp.make_message(mto=stanza["from"].bare, mtype="chat")
        reply["body"] = f"stand-in: got {text!r}"
        try:
            encrypted, errors = await xep_0384.encrypt_message(reply, {JID(stanza["from"].bare)})
            if encrypted is not None:
                encrypted.send()
            if errors:
                log.info("encrypt errors: %s", errors)
        except Exception as e:  # noqa: BLE001
            log.warning("reply failed: %s", e)


async def start(xmpp: ClientXMPP, host: str, port: int) -> None:
    initialized = asyncio.get_running_loop().create_future()
    failed = asyncio.get_running_loop().create_future()
    xmpp.add_event_handler("omemo_initialized", lambda _e: initialized.done() or initialized.set_result(True))
    xmpp.add_event_handler("failed_auth", lambda _e: failed.done() or failed.set_result("auth failed"))
    xmpp.connect(host, port)
    done, _ = await asyncio.wait([initialized, failed], timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if failed in done:
        raise SystemExit(f"{xmpp.boundjid}: {failed.result()}")
    if not done:
        raise SystemExit(f"{xmpp.boundjid}: OMEMO not initialized within 60 s")


async def show_devicelists(args: argparse.Namespace, ssl_ctx: ssl.SSLContext) -> None:
    xmpp = ClientXMPP(f"{args.jid}/look", args.password)
    xmpp.ssl_context = ssl_ctx
    xmpp.register_plugin("xep_0060")
    ready = asyncio.get_running_loop().create_future()
    xmpp.add_event_handler("session_start", lambda _e: ready.done() or ready.set_result(True))
    xmpp.connect(args.host, args.port)
    await asyncio.wait_for(ready, 30)
    for jid in args.show_devicelist:
        try:
            emit({"event": "devicelist_of", "jid": jid, "ids": await device_list_of(xmpp, jid)})
        except Exception as e:  # noqa: BLE001 - item-not-found when the node does not exist
            emit({"event": "devicelist_of", "jid": jid, "ids": None,
                  "error": getattr(e, "condition", None) or type(e).__name__})
    xmpp.disconnect()
    await asyncio.sleep(0.3)


async def befriend(learner: str, password: str, bot_jid: str, host: str, port: int,
                   ssl_ctx: ssl.SSLContext, seed_devicelist: bool = False) -> None:
    """Log in as the learner (plain slixmpp) and make learner <-> bot subscriptions mutual."""
    xmpp = ClientXMPP(f"{learner}/befriend", password)
    xmpp.register_plugin("xep_0060")
    xmpp.ssl_context = ssl_ctx
    xmpp.auto_authorize = True
    xmpp.auto_subscribe = False
    ready = asyncio.get_running_loop().create_future()
    xmpp.add_event_handler("session_start", lambda _e: ready.done() or ready.set_result(True))
    xmpp.connect(host, port)
    await asyncio.wait_for(ready, 30)
    xmpp.send_presence()
    await xmpp.get_roster()
    xmpp.send_presence(pto=bot_jid, ptype="subscribe")
    for _ in range(100):
        await asyncio.sleep(0.1)
        await xmpp.get_roster()
        if xmpp.client_roster[bot_jid]["subscription"] == "both":
            break
    seeded = False
    if seed_devicelist:
        try:
            await device_list_of(xmpp, learner)
        except Exception:  # noqa: BLE001 - no node yet
            await xmpp.plugin["xep_0060"].publish(JID(learner), DEVICELIST_NODE, id="current",
                                                   payload=ET.Element(f"{{{NS}}}list"))
            seeded = True
    emit({"event": "befriended", "learner": learner,
          "subscription": xmpp.client_roster[bot_jid]["subscription"], "seeded_empty_devicelist": seeded})
    xmpp.disconnect()
    await asyncio.sleep(0.5)


async def published_device_list(xmpp: ClientXMPP) -> List[int]:
    return await device_list_of(xmpp, xmpp.boundjid.bare)


async def device_list_of(xmpp: ClientXMPP, jid: str) -> List[int]:
    items = await xmpp.plugin["xep_0060"].get_items(JID(jid), DEVICELIST_NODE)
    ids: List[int] = []
    for item in items["pubsub"]["items"]:
        lst = item.xml.find(f"{{{NS}}}list")
        if lst is not None:
            ids = [int(d.get("id")) for d in lst.findall(f"{{{NS}}}device")]
    return ids


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jid", default="bot@localhost")
    ap.add_argument("--password", default="bot-pw")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=15240)
    ap.add_argument("--state", required=True, type=Path)
    ap.add_argument("--cafile", type=Path, default=Path("/tmp/omemo-research/prosody/certs/localhost.crt"))
    ap.add_argument("--insecure", action="store_true", help="do not verify the server certificate")
    ap.add_argument("--befriend", action="append", default=[],
                    help="learner@host:password: make the subscription mutual first (repeatable)")
    ap.add_argument("--seed-devicelist", action="store_true",
                    help="with --befriend: if the learner has no OMEMO device list node, publish an empty one "
                         "(Profanity 0.13.1 does not publish its list when the node does not exist)")
    ap.add_argument("--pep-only", action="store_true",
                    help="do only --befriend/--seed-devicelist and --show-devicelist, then exit")
    ap.add_argument("--show-devicelist", action="append", default=[], metavar="JID",
                    help="print the oldmemo device list of JID (as the bot sees it)")
    ap.add_argument("--reply", action="store_true", help="the true device answers each message")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log.setLevel(logging.INFO)

    if args.insecure:
        ssl_ctx = ssl.create_default_context()
        ssl_ctx.check_hostname = False
        ssl_ctx.verify_mode = ssl.CERT_NONE
    else:
        ssl_ctx = ssl.create_default_context(cafile=str(args.cafile))
    args.state.mkdir(parents=True, exist_ok=True)

    if args.pep_only:
        for spec in args.befriend:
            learner, _, pw = spec.partition(":")
            await befriend(learner, pw, args.jid, args.host, args.port, ssl_ctx, args.seed_devicelist)
        if args.show_devicelist:
            await show_devicelists(args, ssl_ctx)
        return

    shared = Shared()
    shared.reply = args.reply
    clients = shared.clients
    # One after the other, so that the second SessionManager downloads a list that already has the first.
    for role in ("true", "impostor"):
        xmpp = make_client(args.jid, args.password, role, args.state / f"{role}.json", ssl_ctx, shared)
        await start(xmpp, args.host, args.port)
        clients[role] = xmpp
        session_manager = await xmpp.plugin["xep_0384"].get_session_manager()
        own, _others = await session_manager.get_own_device_information()
        shared.roles[own.device_id] = role
        fp = fingerprint_hex(own.identity_key)
        emit({"event": "device", "role": role, "rid": own.device_id, "fingerprint": fp,
              "groups": grouped(fp)})

    for spec in args.befriend:
        learner, _, pw = spec.partition(":")
        await befriend(learner, pw, args.jid, args.host, args.port, ssl_ctx, args.seed_devicelist)

    # The server's list must name both devices; if a race dropped one, its manager re-adds it on the
    # PEP notification. Wait for that.
    ids: List[int] = []
    for _ in range(50):
        ids = await published_device_list(clients["true"])
        if all(rid in ids for rid in shared.roles):
            break
        await asyncio.sleep(0.2)
    emit({"event": "device_list", "ids": ids, "roles": {str(k): v for k, v in shared.roles.items()}})
    if not all(rid in ids for rid in shared.roles):
        raise SystemExit("the published device list does not name both devices")
    emit({"event": "ready"})
    await asyncio.Event().wait()  # run until killed


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
