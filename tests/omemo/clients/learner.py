#!/usr/bin/env python3
"""A scriptable OMEMO learner: one XMPP connection = one OMEMO device, driven by JSON lines.

The Rust integration tests spawn it to play a learner of the bot's OMEMO lesson. Built on slixmpp +
slixmpp-omemo + python-omemo/oldmemo (versions: OTRBOT_PYTHON_PACKAGES in scripts/lib/deps.sh). Messages
are encrypted with OMEMO 0.3 (eu.siacs.conversations.axolotl) only: slixmpp-omemo also publishes
urn:xmpp:omemo:2 nodes, but it encrypts with omemo:2 only with SCE, which it does not implement, so what it
sends is always oldmemo.

  learner.py --jid learner@localhost --password PW --resource R --server 127.0.0.1:PORT --state DIR
             [--cafile F | --insecure] [--trust manual|blind] [--timeout S] [-v]

--state DIR   this device's storage (DIR/omemo.json): a restart with the same DIR keeps the device id,
              identity key, sessions and trust decisions. Two processes with different --resource and
              --state are two devices of the same account.
--trust manual (default): no device of anyone (contacts and our own other devices alike) is trusted until
              a "trust" command says so; an undecided device is not encrypted for (Profanity's manual
              mode). blind: blind trust before verification (slixmpp-omemo's BTBV, Conversations'
              default): while every device of a JID is undecided or blindly trusted, new devices are
              blindly trusted and encrypted for; once a device of that JID was trusted or distrusted by a
              command, new devices of that JID stay undecided and are not encrypted for.
              Trust is checked at every send (not only when a session is built, unlike Profanity), so a
              session that a distrusted/undecided device starts by writing to us is never used to encrypt.
              Messages FROM undecided devices are decrypted; from distrusted devices they are not
              (python-omemo: SenderDistrusted).
--cafile F    trust exactly this certificate (the test Prosody's DIR/certs/localhost.crt);
--insecure    no certificate verification. STARTTLS only (direct TLS is off).
--timeout S   start-up limit (default 30): connection, login and OMEMO set-up. A refused connection, a bad
              certificate or failed authentication end the process at once.

Output (stdout, one JSON object per line, flushed; logs go to stderr):
  {"event":"ready","device_id":N,"fingerprint":"<64 hex>"}       once: logged in, presence sent, roster
        fetched, own bundle published and own device in the server's oldmemo device list.
  {"event":"error","error":".."} then exit 1                       if start-up fails or times out.
  Fingerprints everywhere: the Curve25519 identity key, 64 lower-case hex digits, WITHOUT libsignal's 05.

Commands (stdin, one JSON object per line; each answered by exactly one line, in order):
  {"cmd":"send","to":JID,"text":T,"encrypt":false}
        -> {"event":"sent","encrypted":false,"id":ID}               plain <message type="chat"> with <body>;
        ID is the stanza's id attribute (also on encrypted sends), to find it on the bot's side.
  {"cmd":"send","to":JID,"text":T,"encrypt":true}
        -> {"event":"sent","encrypted":true,"rids":[..],"prekey_rids":[..],"sid":N,"id":ID}
        The device list of JID's bare JID is downloaded anew, bundles as needed; encrypted for the devices
        of JID and of our own account that the trust policy allows (never this device itself). "rids" are
        all rid attributes of the <key> elements of the stanza sent, in stanza order; "prekey_rids" the
        subset with prekey="true". Extra "errors":[..] lists devices skipped because of a bundle or key
        exchange failure (the message is still sent).
        -> {"event":"error","cmd":"send","error":".."}              when no device of JID may be or could be
        encrypted for (python-omemo's NoEligibleDevices); nothing is sent.
  {"cmd":"devices","jid":JID}
        -> {"event":"devices","jid":JID,"devices":[{"id":N,"fingerprint":"..","trust":"trusted|distrusted|
        undecided","blind":bool}, ..]}
        After downloading the device list and any missing bundles. Lists the devices active in JID's
        oldmemo device list whose bundle could be fetched, sorted by id; for our own JID, not this device.
        "blind": the trust is blind (BTBV); with --trust blind, listing applies blind trust to new devices
        just as a send would (like Conversations, which trusts them when it sees them).
  {"cmd":"trust","jid":JID,"fingerprint":FP,"state":"trusted"|"distrusted"|"undecided"}
        -> {"event":"trusted","id":N,"state":S}       FP: hex, with or without spaces/dashes/colons and 05.
        -> {"event":"error","cmd":"trust","error":".."}  if no device of JID has that identity key.
        Trust belongs to the identity key (python-omemo), so every device with that key gets it. Distrust
        does not delete the session (unlike Profanity): after a later trust, no new key exchange.
  {"cmd":"subscribe","jid":JID}
        -> {"event":"subscribed","jid":JID,"subscription":"both|to|from|none"}
        Sends <presence type="subscribe"/> and a pre-approval <presence type="subscribed"/>, then waits
        up to 10 s for the roster to say "both" (the other side must accept); answers with the state
        reached either way.
  {"cmd":"quit"} -> {"event":"bye"}, disconnect, exit 0. End of stdin does the same.
  Anything else (bad JSON, unknown cmd, missing field, a command failing or taking over 60 s)
        -> {"event":"error","cmd":<cmd or null>,"error":".."}; the process keeps running.

Asynchronous events:
  {"event":"message","from":FULLJID,"encrypted":bool,"text":T|null,"sender_device":N|null,
   "error":null|"..","sender_trust":"trusted|distrusted|undecided"|null,"id":stanza id|null}
        for every incoming chat/normal message with a body or an OMEMO payload. sender_device is the
        header's sid for OMEMO messages (also when decryption failed), null for plain ones. Not printed:
        messages without body and without OMEMO payload (chat states, python-omemo's empty key-exchange
        completion/heartbeat messages; those are still processed, so sessions complete).
  {"event":"disconnected","error":".."} then exit 1   if the server drops the connection.

Presence subscription requests from anyone are accepted and answered with a subscription of our own.
Message carbons are NOT enabled: a device sees only messages addressed to it or to the bare JID, so the
learner's other devices never receive (the carbon of) what this one sends, though it is encrypted for them.
Note that python-omemo sends empty OMEMO messages by itself: after decrypting a key-exchange message it
answers the sending device with an empty message (no payload) to complete the session, and after 53
received messages without sending it sends one against staleness. Those go out as type="normal".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import ssl
import sys
import threading
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

import oldmemo
import xeddsa
from omemo.session_manager import NoEligibleDevices
from omemo.storage import Just, Maybe, Nothing, Storage
from omemo.types import DeviceInformation, JSONType
from slixmpp import JID, ClientXMPP
from slixmpp.plugins import register_plugin
from slixmpp.stanza import Message
from slixmpp_omemo import TrustLevel, XEP_0384

NS = oldmemo.oldmemo.NAMESPACE  # eu.siacs.conversations.axolotl
NS2 = "urn:xmpp:omemo:2"
DEVICELIST_NODE = f"{NS}.devicelist"
COMMAND_TIMEOUT = 60.0

log = logging.getLogger("learner")


def emit(obj: Dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def fingerprint(identity_key_ed25519: bytes) -> str:
    """64 hex digits of the Curve25519 form of the identity key, without the 05 byte."""
    return xeddsa.ed25519_pub_to_curve25519_pub(identity_key_ed25519).hex()


def normalize_fingerprint(fp: str) -> Optional[str]:
    h = re.sub(r"[^0-9a-f]", "", fp.lower())
    if len(h) == 66 and h.startswith("05"):
        h = h[2:]
    return h if len(h) == 64 else None


class FileStorage(Storage):
    """omemo.Storage in one JSON file, rewritten (atomically) on every change."""

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
    """slixmpp-omemo with a file storage, BTBV on or off, and "skip this time" for undecided devices.

    python-omemo's encrypt() asks _prompt_manual_trust to decide on every undecided recipient device and
    fails (StillUndecided) if one is left undecided. A learner in manual mode must simply not encrypt for
    them, so they are set DISTRUSTED for the duration of one encrypt_message call (the caller restores
    their previous level right after, see Learner.send_encrypted; commands and decryption are serialized
    by a lock so nothing else sees the temporary level).
    """

    default_config = {
        "fallback_message": "This message is OMEMO encrypted.",
        "json_file_path": None,
        "btbv": False,
    }

    def plugin_init(self) -> None:
        if not self.json_file_path:
            raise ValueError("json_file_path not given")
        self._storage_impl = FileStorage(Path(self.json_file_path))
        self.skipped: List[Tuple[str, bytes, str]] = []
        super().plugin_init()

    @property
    def storage(self) -> Storage:
        return self._storage_impl

    @property
    def _btbv_enabled(self) -> bool:
        return bool(self.btbv)

    async def _devices_blindly_trusted(self, blindly_trusted: FrozenSet[DeviceInformation],
                                       identifier: Optional[str]) -> None:
        log.info("blindly trusted %s", sorted((d.bare_jid, d.device_id) for d in blindly_trusted))

    async def _prompt_manual_trust(self, manually_trusted: FrozenSet[DeviceInformation],
                                   identifier: Optional[str]) -> None:
        session_manager = await self.get_session_manager()
        for device in manually_trusted:
            log.info("not encrypting for undecided device %s/%s", device.bare_jid, device.device_id)
            self.skipped.append((device.bare_jid, device.identity_key, device.trust_level_name))
            await session_manager.set_trust(device.bare_jid, device.identity_key,
                                            TrustLevel.DISTRUSTED.value)


register_plugin(XEP_0384Impl)


class Learner:
    def __init__(self, args: argparse.Namespace, ssl_ctx: ssl.SSLContext) -> None:
        self.args = args
        self.btbv = args.trust == "blind"
        self.lock = asyncio.Lock()
        self.quitting = False
        self.fatal: asyncio.Future = asyncio.get_running_loop().create_future()
        xmpp = ClientXMPP(f"{args.jid}/{args.resource}", args.password)
        xmpp.ssl_context = ssl_ctx
        xmpp.enable_direct_tls = False  # the test Prosody has STARTTLS only; a direct-TLS try would fail
        xmpp.enable_plaintext = False
        xmpp.auto_authorize = True
        xmpp.auto_subscribe = True
        for plugin in ("xep_0030", "xep_0060", "xep_0163", "xep_0280", "xep_0334"):
            xmpp.register_plugin(plugin)
        xmpp.register_plugin("xep_0384", {"json_file_path": str(args.state / "omemo.json"), "btbv": self.btbv},
                             module=sys.modules[__name__])
        self.xmpp = xmpp
        self.session_started = asyncio.get_running_loop().create_future()
        self.omemo_ready = asyncio.get_running_loop().create_future()

        xmpp.add_event_handler("session_start", self.on_session_start)
        xmpp.add_event_handler("omemo_initialized", lambda _e: self._done(self.omemo_ready, True))
        xmpp.add_event_handler("failed_all_auth", lambda _e: self._fail("authentication failed"))
        xmpp.add_event_handler("connection_failed", lambda e: self._fail(f"connection failed: {e}"))
        xmpp.add_event_handler("ssl_invalid_chain", lambda e: self._fail(f"TLS certificate not trusted: {e}"))
        xmpp.add_event_handler("disconnected", self.on_disconnected)
        xmpp.add_event_handler("message", self.on_message)

    @staticmethod
    def _done(fut: asyncio.Future, value: Any) -> None:
        if not fut.done():
            fut.set_result(value)

    def _fail(self, why: str) -> None:
        if not self.fatal.done():
            self.fatal.set_result(why)

    @property
    def plugin(self) -> XEP_0384Impl:
        return self.xmpp.plugin["xep_0384"]

    async def on_session_start(self, _event: Any) -> None:
        self.xmpp.send_presence()
        try:
            await self.xmpp.get_roster()
        except Exception as e:  # noqa: BLE001
            log.warning("roster: %s", e)
        self._done(self.session_started, True)

    def on_disconnected(self, reason: Any) -> None:
        if not self.quitting:
            self._fail(f"disconnected: {reason}")

    # ---- start-up ------------------------------------------------------------------------------------

    async def start(self) -> None:
        host, port = self.args.server
        self.xmpp.connect(host, port)
        everything = asyncio.gather(self.session_started, self.omemo_ready)
        done, _ = await asyncio.wait([everything, self.fatal], timeout=self.args.timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if self.fatal in done:
            raise RuntimeError(self.fatal.result())
        if everything not in done:
            everything.cancel()
            raise RuntimeError(f"not logged in with OMEMO ready within {self.args.timeout} s")
        sm = await self.plugin.get_session_manager()
        own, _others = await sm.get_own_device_information()
        # python-omemo adds this device to the account's list on the first run and whenever a PEP update
        # lacks it; make sure of it now (after a restart it would otherwise wait for the PEP update).
        for attempt in range(20):
            ids = await self.published_device_ids(self.xmpp.boundjid.bare)
            if own.device_id in ids:
                break
            log.info("own device %s not in published list %s (attempt %d)", own.device_id, ids, attempt)
            await sm.refresh_device_list(NS, self.xmpp.boundjid.bare)
            await asyncio.sleep(0.2)
        else:
            raise RuntimeError("own device not in the published device list")
        emit({"event": "ready", "device_id": own.device_id, "fingerprint": fingerprint(own.identity_key)})

    async def published_device_ids(self, bare: str) -> List[int]:
        try:
            items = await self.xmpp.plugin["xep_0060"].get_items(JID(bare), DEVICELIST_NODE, max_items=1)
        except Exception:  # noqa: BLE001 - item-not-found: no list yet
            return []
        ids: List[int] = []
        for item in items["pubsub"]["items"]:
            lst = item.xml.find(f"{{{NS}}}list")
            if lst is not None:
                ids = [int(d.get("id")) for d in lst.findall(f"{{{NS}}}device")]
        return ids

    # ---- trust helpers -------------------------------------------------------------------------------

    def trust_name(self, level: str) -> Tuple[str, bool]:
        """(trusted|distrusted|undecided, blind) as this learner's policy evaluates a stored level."""
        if level == TrustLevel.TRUSTED.value:
            return "trusted", False
        if level == TrustLevel.DISTRUSTED.value:
            return "distrusted", False
        if level == TrustLevel.BLINDLY_TRUSTED.value:
            return ("trusted" if self.btbv else "undecided"), True
        return "undecided", False

    async def refresh(self, bare: str) -> None:
        sm = await self.plugin.get_session_manager()
        if bare == self.xmpp.boundjid.bare:
            for ns in (NS, NS2):
                try:
                    await sm.refresh_device_list(ns, bare)
                except Exception as e:  # noqa: BLE001
                    log.info("own %s device list: %s", ns, e)
        else:
            await self.plugin.refresh_device_lists({JID(bare)}, force_download=True)

    async def known_devices(self, bare: str, only_active: bool) -> List[DeviceInformation]:
        """Devices of bare (bundles fetched as needed), without this device; BTBV applied in blind mode."""
        sm = await self.plugin.get_session_manager()
        own_id = (await sm.get_own_device_information())[0].device_id
        devices = [d for d in await sm.get_device_information(bare)
                   if not (bare == self.xmpp.boundjid.bare and d.device_id == own_id)]
        if self.btbv:
            # What encrypt() would do (BaseSessionManager._make_trust_decision): blind trust while every
            # device of the JID is undecided or blindly trusted.
            blind_names = {TrustLevel.UNDECIDED.value, TrustLevel.BLINDLY_TRUSTED.value}
            if all(d.trust_level_name in blind_names for d in devices):
                changed = False
                for d in devices:
                    if d.trust_level_name == TrustLevel.UNDECIDED.value and dict(d.active).get(NS, False):
                        await sm.set_trust(bare, d.identity_key, TrustLevel.BLINDLY_TRUSTED.value)
                        changed = True
                if changed:
                    devices = [d for d in await sm.get_device_information(bare)
                               if not (bare == self.xmpp.boundjid.bare and d.device_id == own_id)]
        if only_active:
            devices = [d for d in devices if NS in d.namespaces and dict(d.active).get(NS, False)]
        return sorted(devices, key=lambda d: d.device_id)

    # ---- commands ------------------------------------------------------------------------------------

    async def command(self, line: str) -> bool:
        """Handle one input line; False once the process should end."""
        cmd: Optional[str] = None
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
            cmd = obj.get("cmd")
            if cmd == "quit":
                await self.quit()
                return False
            handler = {"send": self.cmd_send, "devices": self.cmd_devices, "trust": self.cmd_trust,
                       "subscribe": self.cmd_subscribe}.get(cmd)  # type: ignore[arg-type]
            if handler is None:
                raise ValueError(f"unknown command {cmd!r}")
            emit(await asyncio.wait_for(handler(obj), COMMAND_TIMEOUT))
        except asyncio.TimeoutError:
            emit({"event": "error", "cmd": cmd, "error": f"timed out after {COMMAND_TIMEOUT} s"})
        except Exception as e:  # noqa: BLE001 - never crash on a command
            log.debug("command failed", exc_info=True)
            emit({"event": "error", "cmd": cmd, "error": f"{type(e).__name__}: {e}"})
        return True

    @staticmethod
    def need(obj: Dict[str, Any], key: str) -> str:
        v = obj.get(key)
        if not isinstance(v, str) or not v:
            raise ValueError(f"missing or empty string field {key!r}")
        return v

    async def cmd_send(self, obj: Dict[str, Any]) -> Dict[str, Any]:
        to = JID(self.need(obj, "to"))
        text = obj.get("text")
        if not isinstance(text, str):
            raise ValueError("missing string field 'text'")
        if not obj.get("encrypt", False):
            msg = self.xmpp.make_message(mto=to, mbody=text, mtype="chat")
            msg.send()
            return {"event": "sent", "encrypted": False, "id": msg["id"]}
        async with self.lock:
            return await self.send_encrypted(to, text)

    async def send_encrypted(self, to: JID, text: str) -> Dict[str, Any]:
        plugin = self.plugin
        sm = await plugin.get_session_manager()
        await self.refresh(to.bare)
        if self.btbv:
            await self.known_devices(to.bare, only_active=True)  # the same blind trust a send applies
        msg = self.xmpp.make_message(mto=to, mbody=text, mtype="chat")
        plugin.skipped = []
        try:
            encrypted, errors = await plugin.encrypt_message(msg, {JID(to.bare)})
        except NoEligibleDevices as e:
            return {"event": "error", "cmd": "send",
                    "error": f"no device of {to.bare} may be or could be encrypted for (NoEligibleDevices: {e})"}
        finally:
            for bare, ik, level in plugin.skipped:
                await sm.set_trust(bare, ik, level)
            plugin.skipped = []
        if encrypted is None:
            return {"event": "error", "cmd": "send", "error": "nothing to encrypt"}
        enc = encrypted.xml.find(f"{{{NS}}}encrypted")
        if enc is None:
            return {"event": "error", "cmd": "send", "error": "no oldmemo element produced"}
        header = enc.find(f"{{{NS}}}header")
        keys = header.findall(f"{{{NS}}}key") if header is not None else []
        rids = [int(k.get("rid")) for k in keys]
        prekey_rids = [int(k.get("rid")) for k in keys if k.get("prekey") in ("true", "1")]
        encrypted.send()
        out: Dict[str, Any] = {"event": "sent", "encrypted": True, "rids": rids, "prekey_rids": prekey_rids,
                               "sid": int(header.get("sid")) if header is not None else None,
                               "id": encrypted["id"]}
        if errors:
            out["errors"] = [f"{e.bare_jid}/{e.device_id}: {type(e.exception).__name__}: {e.exception}"
                             for e in errors]
        return out

    async def cmd_devices(self, obj: Dict[str, Any]) -> Dict[str, Any]:
        bare = JID(self.need(obj, "jid")).bare
        async with self.lock:
            await self.refresh(bare)
            devices = await self.known_devices(bare, only_active=True)
        out = []
        for d in devices:
            trust, blind = self.trust_name(d.trust_level_name)
            out.append({"id": d.device_id, "fingerprint": fingerprint(d.identity_key), "trust": trust,
                        "blind": blind})
        return {"event": "devices", "jid": bare, "devices": out}

    async def cmd_trust(self, obj: Dict[str, Any]) -> Dict[str, Any]:
        bare = JID(self.need(obj, "jid")).bare
        fp = normalize_fingerprint(self.need(obj, "fingerprint"))
        if fp is None:
            raise ValueError("fingerprint is not 32 bytes of hex (optionally with a 05 byte)")
        state = self.need(obj, "state")
        level = {"trusted": TrustLevel.TRUSTED, "distrusted": TrustLevel.DISTRUSTED,
                 "undecided": TrustLevel.UNDECIDED}.get(state)
        if level is None:
            raise ValueError("state must be trusted, distrusted or undecided")
        async with self.lock:
            await self.refresh(bare)
            devices = await self.known_devices(bare, only_active=False)
            match = [d for d in devices if fingerprint(d.identity_key) == fp]
            if not match:
                return {"event": "error", "cmd": "trust",
                        "error": f"no device of {bare} has fingerprint {fp} (known: "
                                 f"{[d.device_id for d in devices]})"}
            sm = await self.plugin.get_session_manager()
            await sm.set_trust(bare, match[0].identity_key, level.value)
        # Prefer a device that is in the current list if the key is on several.
        match.sort(key=lambda d: not dict(d.active).get(NS, False))
        return {"event": "trusted", "id": match[0].device_id, "state": state}

    async def cmd_subscribe(self, obj: Dict[str, Any]) -> Dict[str, Any]:
        bare = JID(self.need(obj, "jid")).bare
        self.xmpp.send_presence(pto=bare, ptype="subscribe")
        self.xmpp.send_presence(pto=bare, ptype="subscribed")
        sub = "none"
        for _ in range(100):
            await asyncio.sleep(0.1)
            roster = self.xmpp.client_roster
            if roster.has_jid(bare):
                sub = roster[bare]["subscription"]
                if sub == "both":
                    break
        return {"event": "subscribed", "jid": bare, "subscription": sub}

    async def quit(self) -> None:
        self.quitting = True
        try:
            await asyncio.wait_for(self.xmpp.disconnect(wait=2.0), 5)
        except Exception as e:  # noqa: BLE001
            log.info("disconnect: %s", e)
        emit({"event": "bye"})

    # ---- incoming ------------------------------------------------------------------------------------

    async def on_message(self, stanza: Message) -> None:
        try:
            await self.handle_message(stanza)
        except Exception:  # noqa: BLE001
            log.warning("incoming message not handled", exc_info=True)

    async def handle_message(self, stanza: Message) -> None:
        mtype = stanza["type"]
        if mtype not in ("chat", "normal"):
            log.info("ignoring %s message from %s", mtype, stanza["from"])
            return
        enc = stanza.xml.find(f"{{{NS}}}encrypted")
        enc2 = stanza.xml.find(f"{{{NS2}}}encrypted")
        record: Dict[str, Any] = {"event": "message", "from": str(stanza["from"]), "id": stanza["id"] or None}
        if enc is None and enc2 is None:
            body = stanza["body"]
            if not body:
                return
            record.update({"encrypted": False, "text": body, "sender_device": None, "error": None,
                           "sender_trust": None})
            emit(record)
            return
        ns = NS if enc is not None else NS2
        element = enc if enc is not None else enc2
        header = element.find(f"{{{ns}}}header")
        sid = int(header.get("sid")) if header is not None and header.get("sid", "").isdigit() else None
        has_payload = element.find(f"{{{ns}}}payload") is not None
        text = None
        error = None
        trust = None
        async with self.lock:
            try:
                decrypted, device = await self.plugin.decrypt_message(stanza)
                text = decrypted["body"] if decrypted["body"] != "" else None
                trust = self.trust_name(device.trust_level_name)[0]
                sid = device.device_id
            except Exception as e:  # noqa: BLE001 - report any failure, e.g. not encrypted for us
                error = f"{type(e).__name__}: {e}"
        if not has_payload:
            if error:
                log.info("empty OMEMO message from %s not processed: %s", stanza["from"], error)
            return
        record.update({"encrypted": True, "text": text, "sender_device": sid, "error": error,
                       "sender_trust": trust})
        emit(record)


def parse_server(s: str) -> Tuple[str, int]:
    m = re.fullmatch(r"\[?([^\]]+?)\]?:(\d+)", s)
    if not m:
        raise argparse.ArgumentTypeError("expected HOST:PORT")
    return m.group(1), int(m.group(2))


def stdin_lines(loop: asyncio.AbstractEventLoop, queue: "asyncio.Queue[Optional[str]]") -> None:
    """Read stdin in a daemon thread (works for pipes, files and terminals alike); None at EOF."""
    def run() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)
    threading.Thread(target=run, daemon=True, name="stdin").start()


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jid", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--resource", required=True)
    ap.add_argument("--server", required=True, type=parse_server, help="HOST:PORT")
    ap.add_argument("--state", required=True, type=Path)
    tls = ap.add_mutually_exclusive_group()
    tls.add_argument("--cafile", type=Path)
    tls.add_argument("--insecure", action="store_true")
    ap.add_argument("--trust", choices=("manual", "blind"), default="manual")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)

    try:
        if args.insecure:
            ssl_ctx = ssl.create_default_context()
            ssl_ctx.check_hostname = False
            ssl_ctx.verify_mode = ssl.CERT_NONE
        elif args.cafile:
            ssl_ctx = ssl.create_default_context(cafile=str(args.cafile))
        else:
            ssl_ctx = ssl.create_default_context()
        args.state.mkdir(parents=True, exist_ok=True)
    except Exception as e:  # noqa: BLE001
        emit({"event": "error", "error": f"{type(e).__name__}: {e}"})
        return 1

    learner = Learner(args, ssl_ctx)
    try:
        await learner.start()
    except Exception as e:  # noqa: BLE001
        emit({"event": "error", "error": str(e) or type(e).__name__})
        learner.quitting = True
        learner.xmpp.cancel_connection_attempt()
        try:
            await asyncio.wait_for(learner.xmpp.disconnect(wait=0.5), 2)
        except Exception:  # noqa: BLE001
            pass
        return 1

    loop = asyncio.get_running_loop()
    queue: "asyncio.Queue[Optional[str]]" = asyncio.Queue()
    stdin_lines(loop, queue)
    while True:
        line_task = asyncio.ensure_future(queue.get())
        done, _ = await asyncio.wait([line_task, learner.fatal], return_when=asyncio.FIRST_COMPLETED)
        if line_task not in done:
            line_task.cancel()
            emit({"event": "disconnected", "error": learner.fatal.result()})
            return 1
        line = line_task.result()
        if line is None:  # EOF: as quit
            await learner.quit()
            return 0
        if not line.strip():
            continue
        if not await learner.command(line):
            return 0


if __name__ == "__main__":
    try:
        rc = asyncio.run(main())
    except KeyboardInterrupt:
        rc = 130
    sys.stdout.flush()
    sys.exit(rc)
