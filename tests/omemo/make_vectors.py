#!/usr/bin/env python3
"""Known-answer vectors for OMEMO 0.3 (eu.siacs.conversations.axolotl) from python-omemo/oldmemo.

Writes crates/omemo/tests/vectors/oldmemo.json (or the path given as argv[1]). Every value comes out of the
libraries' own functions (omemo 2.1.0, oldmemo 2.1.0, xeddsa, x3dh, doubleratchet); this script implements
no cryptography. Reproducibility comes from
  * a seeded byte source patched over the libraries' randomness: secrets.token_bytes / secrets.randbelow /
    secrets.choice (identity seeds, signed pre keys, pre keys, device ids, X3DH ephemeral keys, AES-GCM key
    and IV, XEdDSA nonces) and the X25519PrivateKey class used by doubleratchet's Curve25519 ratchet to
    generate ratchet keys (X25519PrivateKey.generate -> X25519PrivateKey.from_private_bytes(seeded bytes));
  * PYTHONHASHSEED=0 (the script re-executes itself with it), because the libraries iterate over sets of
    bytes (pre key id assignment, pre key choice, recipient device sets).
Running it twice gives a byte-identical file; it checks every vector against the libraries again
(decryption by the original Bob and by a fresh Bob rebuilt from the recorded keys only, signature
verification, X3DH from both sides, AEAD decryption of the key element with the recorded message key).

Run:  python3 tests/omemo/make_vectors.py [out.json]
"""

from __future__ import annotations

import os
import sys

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import asyncio
import base64
import hashlib
import importlib.metadata as md
import json
import secrets
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional, Tuple

import doubleratchet
import doubleratchet.recommended.diffie_hellman_ratchet_curve25519 as dr25519
import oldmemo
import oldmemo.etree
import oldmemo.oldmemo as om
import x3dh
import x3dh.identity_key_pair
import x3dh.models
import xeddsa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey as _RealX25519PrivateKey
from doubleratchet.kdf_chain import KDFChain
from doubleratchet.recommended import HashFunction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer import NS, Device, MemStorage  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "..", "crates", "omemo", "tests", "vectors", "oldmemo.json")


# ------------------------------------------------------------------------------------------------------
# Seeded randomness patched over the libraries' random sources (no crypto here: just a byte stream).
# ------------------------------------------------------------------------------------------------------
class SeededBytes:
    def __init__(self) -> None:
        self.reseed("init")
        self.log: List[bytes] = []  # every token_bytes / ratchet-key output, to find keys generated inside

    def reseed(self, label: str) -> None:
        self.label = label.encode()
        self.counter = 0

    def _raw(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(b"omemo-test-vectors|" + self.label + b"|" + self.counter.to_bytes(8, "big")).digest()
            self.counter += 1
        return out[:n]

    def token_bytes(self, n: Optional[int] = None) -> bytes:
        out = self._raw(32 if n is None else n)
        self.log.append(out)
        return out

    def randbelow(self, n: int) -> int:
        return int.from_bytes(self._raw(8), "big") % n

    def choice(self, seq: Any) -> Any:
        return seq[self.randbelow(len(seq))]


RNG = SeededBytes()
secrets.token_bytes = RNG.token_bytes  # type: ignore[assignment]
secrets.randbelow = RNG.randbelow  # type: ignore[assignment]
secrets.choice = RNG.choice  # type: ignore[assignment]


class _SeededX25519PrivateKey:
    """Stand-in for the name X25519PrivateKey inside doubleratchet's Curve25519 ratchet module only."""

    @staticmethod
    def generate() -> _RealX25519PrivateKey:
        return _RealX25519PrivateKey.from_private_bytes(RNG.token_bytes(32))

    from_private_bytes = staticmethod(_RealX25519PrivateKey.from_private_bytes)


dr25519.X25519PrivateKey = _SeededX25519PrivateKey  # type: ignore[attr-defined,misc]

# SPK timestamps come from time.time(); they are stored in the X3DH state only (never on the wire or in
# this file), so they do not affect reproducibility.


def h(b: bytes) -> str:
    return b.hex()


def find_priv(log: List[bytes], pub: bytes) -> bytes:
    """Find which of the seeded outputs is the private key of `pub` (library's own derivation)."""
    for cand in reversed(log):
        if len(cand) == 32 and xeddsa.priv_to_curve25519_pub(cand) == pub:
            return cand
    raise LookupError("private key not found in the seeded outputs")


# ------------------------------------------------------------------------------------------------------
async def xeddsa_vectors() -> List[Dict[str, str]]:
    RNG.reseed("xeddsa")
    out: List[Dict[str, str]] = []
    messages = [
        b"",
        b"\x05" + bytes(range(32)),  # shaped like a serialized signed pre key
        b"The quick brown fox jumps over the lazy dog",
        bytes(range(256)) * 2,
    ]
    want_sign = [False, True, True, False]
    for i, (msg, want) in enumerate(zip(messages, want_sign)):
        while True:
            priv = RNG.token_bytes(32)
            ed = xeddsa.priv_to_ed25519_pub(priv)
            if bool(ed[31] & 0x80) == want:
                break
        pub = xeddsa.priv_to_curve25519_pub(priv)
        nonce = RNG.token_bytes(64)
        # XEdDSA proper (spec: a = +-k so that A has sign bit 0; r = hash1(a||M||Z)); libxeddsa's
        # ed25519_priv_sign computes exactly R||s with r = SHA512(0xFE 0xFF*31 || a || M || Z), A = aB.
        a_xeddsa = xeddsa.priv_force_sign(priv, False)
        sig = xeddsa.ed25519_priv_sign(a_xeddsa, msg, nonce)
        # libsignal / python-omemo style: the clamped scalar is NOT negated, A keeps its own sign bit, which
        # is then carried in the top bit of s (oldmemo/etree.py lines 204-206 for bundles).
        a_clamped = xeddsa.priv_force_sign(priv, bool(ed[31] & 0x80))  # = clamp(priv), no negation
        sig_ls = bytearray(xeddsa.ed25519_priv_sign(a_clamped, msg, nonce))
        sig_ls[63] |= ed[31] & 0x80
        # verify both with the library
        assert xeddsa.ed25519_verify(sig, xeddsa.curve25519_pub_to_ed25519_pub(pub, False), msg)
        tmp = bytearray(sig_ls)
        tmp[63] &= 0x7F
        assert xeddsa.ed25519_verify(bytes(tmp), xeddsa.curve25519_pub_to_ed25519_pub(pub, bool(sig_ls[63] >> 7)), msg)
        assert (sig == bytes(sig_ls)) == (not want)
        out.append({
            "private": h(priv),
            "private_clamped": h(a_clamped),
            "public": h(pub),
            "ed25519_public": h(ed),
            "ed25519_sign_bit": int(bool(ed[31] & 0x80)),
            "message": h(msg),
            "nonce": h(nonce),
            "signature": h(sig),
            "signature_libsignal": h(bytes(sig_ls)),
        })
    return out


# ------------------------------------------------------------------------------------------------------
def key_elements(xml: str) -> Dict[int, Tuple[bytes, bool]]:
    elt = ET.fromstring(xml)
    out = {}
    for k in elt.iter(f"{{{NS}}}key"):
        out[int(k.get("rid"))] = (base64.b64decode(k.text or ""), k.get("prekey") in ("true", "1"))
    return out


def xml_field(xml: str, tag: str) -> Optional[bytes]:
    e = ET.fromstring(xml).find(f".//{{{NS}}}{tag}")
    return None if e is None else base64.b64decode(e.text or "")


async def main_async(out_path: str) -> None:
    vectors: Dict[str, Any] = {}
    versions = {p: md.version(p) for p in ("OMEMO", "Oldmemo", "XEdDSA", "X3DH", "DoubleRatchet")}
    vectors["_source"] = (
        f"python omemo {versions['OMEMO']} / oldmemo {versions['Oldmemo']} / xeddsa {versions['XEdDSA']} / "
        f"x3dh {versions['X3DH']} / doubleratchet {versions['DoubleRatchet']}; tests/omemo/make_vectors.py"
    )
    vectors["_note"] = NOTE
    vectors["xeddsa"] = await xeddsa_vectors()

    # --------------------------------------------------------------------------------------------------
    # A real exchange through SessionManager + Oldmemo with seeded devices.
    ajid, bjid = "alice@example.org", "bob@example.org"
    RNG.reseed("bob")
    bob = await Device.create("bob", bjid)
    RNG.reseed("alice")
    alice = await Device.create("alice", ajid)
    bob_bundle_xml, alice_bundle_xml = bob.bundle_xml(), alice.bundle_xml()
    await alice.set_devices(bjid, [bob.device_id])
    alice.set_bundle(bjid, bob.device_id, bob_bundle_xml)
    await bob.set_devices(ajid, [alice.device_id])
    bob.set_bundle(ajid, alice.device_id, alice_bundle_xml)

    plaintext = "Hello Bob! A deterministic OMEMO 0.3 test vector. \u2713".encode("utf-8")
    RNG.reseed("alice-encrypt")
    RNG.log.clear()
    messages, errors = await alice.sm.encrypt(frozenset({bjid}), {NS: plaintext})
    assert not errors, errors
    (msg, pkm), = messages.items()
    assert isinstance(pkm, om.PlainKeyMaterialImpl)
    msg_xml = ET.tostring(oldmemo.etree.serialize_message(msg), encoding="unicode")
    keys = key_elements(msg_xml)
    key_element, is_prekey = keys[bob.device_id]
    assert is_prekey
    key_and_tag = pkm.key + pkm.auth_tag
    assert len(key_and_tag) == 32
    iv, payload = xml_field(msg_xml, "iv"), xml_field(msg_xml, "payload")
    assert iv is not None and payload is not None

    # Take the key exchange apart with oldmemo's own parser.
    bob_ed_known = oldmemo.etree.parse_bundle(ET.fromstring(alice_bundle_xml), ajid, alice.device_id).identity_key
    kx, authenticated = om.KeyExchangeImpl.parse(key_element, bool(bob_ed_known[31] >> 7))
    ekm = om.EncryptedKeyMaterialImpl.parse(authenticated, bjid, bob.device_id)
    whisper_header = ekm.encrypted_message.header
    alice_ratchet_pub = whisper_header.ratchet_pub
    alice_ephemeral_pub = kx.header.ephemeral_key
    alice_ephemeral_priv = find_priv(RNG.log, alice_ephemeral_pub)
    alice_ratchet_priv = find_priv(RNG.log, alice_ratchet_pub)

    # Bob's and Alice's long-term keys, as held in their storages by the libraries.
    def state_of(dev: Device) -> om.StateImpl:
        st, _ = om.StateImpl.from_json(json.loads(dev.storage.data[f"/{NS}/x3dh"]), x3dh.IdentityKeyFormat.ED_25519,
                                       x3dh.HashFunction.SHA_256, om.StateImpl.INFO)
        return st

    bob_state, alice_state = state_of(bob), state_of(alice)
    bob_seed = (await bob.storage.load_bytes("/ikp/key")).from_just()
    alice_seed = (await alice.storage.load_bytes("/ikp/key")).from_just()
    assert json.loads(bob.storage.data["/ikp/is_seed"]) is True
    bob_id_priv = xeddsa.seed_to_priv(bob_seed)
    alice_id_priv = xeddsa.seed_to_priv(alice_seed)
    bob_model = bob_state.model
    spk_priv = bob_model.signed_pre_key.priv
    spk_pub = xeddsa.priv_to_curve25519_pub(spk_priv)
    bob_pre_key_ids = {base64.b64decode(k): v for k, v in json.loads(bob.storage.data[f"/{NS}/pre_key_ids"]).items()}
    bob_spk_ids = {base64.b64decode(k): v for k, v in json.loads(bob.storage.data[f"/{NS}/signed_pre_key_ids"]).items()}
    pk_pub = next(pub for pub, i in bob_pre_key_ids.items() if i == kx.pre_key_id)
    pk_priv = next(p for p in bob_model.pre_keys if xeddsa.priv_to_curve25519_pub(p) == pk_pub)
    assert bob_spk_ids[spk_pub] == kx.signed_pre_key_id

    # ---- signed pre key as published in Bob's bundle ----
    bb = ET.fromstring(bob_bundle_xml)
    b_ik33 = base64.b64decode(bb.find(f"{{{NS}}}identityKey").text)
    b_spk33 = base64.b64decode(bb.find(f"{{{NS}}}signedPreKeyPublic").text)
    b_sig = base64.b64decode(bb.find(f"{{{NS}}}signedPreKeySignature").text)
    assert b_spk33 == b"\x05" + spk_pub and b_ik33 == b"\x05" + xeddsa.priv_to_curve25519_pub(bob_id_priv)
    raw_sig = bytearray(b_sig)
    raw_sig[63] &= 0x7F
    bob_ed = xeddsa.seed_to_ed25519_pub(bob_seed)
    assert xeddsa.ed25519_verify(bytes(raw_sig), xeddsa.curve25519_pub_to_ed25519_pub(b_ik33[1:], bool(b_sig[63] >> 7)), b_spk33)
    assert xeddsa.curve25519_pub_to_ed25519_pub(b_ik33[1:], bool(b_sig[63] >> 7)) == bob_ed
    vectors["signed_prekey"] = {
        "identity_public_33": h(b_ik33),
        "identity_ed25519_public": h(bob_ed),
        "signed_prekey_id": bob_spk_ids[spk_pub],
        "signed_prekey_public_33": h(b_spk33),
        "signature": h(b_sig),
        "signature_sign_bit_set": int(bool(b_sig[63] & 0x80)),
        "bundle_xml": bob_bundle_xml,
    }

    # ---- X3DH, recomputed from both sides with the libraries' X3DH state (oldmemo's StateImpl) ----
    header = x3dh.Header(identity_key=kx.header.identity_key, ephemeral_key=alice_ephemeral_pub,
                         signed_pre_key=spk_pub, pre_key=pk_pub)
    ss_passive, ad_passive, _ = await bob_state.get_shared_secret_passive(header)
    # active side replayed: Alice's state, Bob's bundle, the seeded generator made to hand out the same
    # ephemeral key and pre key choice
    orig_tb, orig_choice = secrets.token_bytes, secrets.choice
    secrets.token_bytes = lambda n=32: alice_ephemeral_priv  # type: ignore[assignment]
    secrets.choice = lambda seq: pk_pub  # type: ignore[assignment]
    try:
        bob_x3dh_bundle = oldmemo.etree.parse_bundle(bb, bjid, bob.device_id).bundle
        ss_active, ad_active, hdr_active = await alice_state.get_shared_secret_active(bob_x3dh_bundle)
    finally:
        secrets.token_bytes, secrets.choice = orig_tb, orig_choice
    assert ss_active == ss_passive and ad_active == ad_passive and hdr_active.ephemeral_key == alice_ephemeral_pub
    a_ik33 = om.StateImpl.serialize_public_key(xeddsa.priv_to_curve25519_pub(alice_id_priv))
    assert ad_active == a_ik33 + b_ik33
    vectors["x3dh"] = {
        "alice_identity_seed": h(alice_seed),
        "alice_identity_private": h(alice_id_priv),
        "alice_identity_public_33": h(a_ik33),
        "alice_ephemeral_private": h(alice_ephemeral_priv),
        "alice_ephemeral_public": h(alice_ephemeral_pub),
        "bob_identity_seed": h(bob_seed),
        "bob_identity_private": h(bob_id_priv),
        "bob_identity_public_33": h(b_ik33),
        "bob_signed_prekey_private": h(spk_priv),
        "bob_signed_prekey_public": h(spk_pub),
        "bob_prekey_private": h(pk_priv),
        "bob_prekey_public": h(pk_pub),
        "info": h(om.StateImpl.INFO),
        "shared_secret": h(ss_active),
        "associated_data": h(ad_active),
    }

    # ---- root chain step: Alice's first sending chain (root key = X3DH secret, DH(ratchet, Bob's SPK)) ----
    root = KDFChain.create(om.RootChainKDFImpl, ss_active)
    dh_out = dr25519.DiffieHellmanRatchet._perform_diffie_hellman(alice_ratchet_priv, spk_pub)
    chain_key = await root.step(dh_out, 32)
    new_root = root.model.key
    vectors["root_step"] = {
        "root_key": h(ss_active),
        "own_ratchet_private": h(alice_ratchet_priv),
        "own_ratchet_public": h(alice_ratchet_pub),
        "their_ratchet_public": h(spk_pub),
        "dh_output": h(dh_out),
        "info": h(om.RootChainKDFImpl._get_info()),
        "new_root_key": h(new_root),
        "new_chain_key": h(chain_key),
    }

    # ---- one symmetric step + WhisperMessageKeys split; this is message n=0 of the key element ----
    mchain = KDFChain.create(om.MessageChainKDFImpl, chain_key)
    mk = await mchain.step(om.DoubleRatchetImpl.MESSAGE_CHAIN_CONSTANT, 32)
    next_ck = mchain.model.key
    cipher_key, mac_key, aes_iv = await om.AEADImpl._AEADImpl__derive(  # type: ignore[attr-defined]
        mk, HashFunction.SHA_256, om.AEADImpl._get_info())
    # The recorded message key really decrypts the WhisperMessage inside Bob's key element:
    whisper_ad = om.DoubleRatchetImpl._build_associated_data(ad_active, whisper_header)
    assert await om.AEADImpl.decrypt(authenticated, mk, whisper_ad) == key_and_tag
    vectors["message_keys"] = {
        "chain_key": h(chain_key),
        "message_key_seed_or_next_chain_key": {
            "message_key_seed": h(mk),          # HMAC-SHA256(chain_key, 0x01)
            "next_chain_key": h(next_ck),       # HMAC-SHA256(chain_key, 0x02)
        },
        "info": h(om.AEADImpl._get_info()),
        "cipher_key": h(cipher_key),
        "mac_key": h(mac_key),
        "iv": h(aes_iv),
        "whisper_message": {
            "_what": "the OMEMOAuthenticatedMessage inside prekey_message.key_element (version byte 0x33, "
                     "protobuf WhisperMessage, 8-byte MAC); plaintext = key_and_tag; mac input = "
                     "associated_data || serialized[:-8]",
            "associated_data": h(ad_active),
            "ratchet_public": h(whisper_header.ratchet_pub),
            "counter": whisper_header.sending_chain_length,
            "previous_counter": whisper_header.previous_sending_chain_length,
            "plaintext": h(key_and_tag),
            "serialized": h(authenticated),
        },
    }

    # ---- the PreKeyWhisperMessage ----
    vectors["prekey_message"] = {
        "bob_identity_seed": h(bob_seed),
        "bob_identity_private": h(bob_id_priv),
        "bob_signed_prekey_id": kx.signed_pre_key_id,
        "bob_signed_prekey_private": h(spk_priv),
        "bob_signed_prekey_signature_raw": h(bytes(raw_sig)),
        "bob_prekey_id": kx.pre_key_id,
        "bob_prekey_private": h(pk_priv),
        "bob_device_id": bob.device_id,
        "bob_jid": bjid,
        "alice_identity_public_33": h(a_ik33),
        "alice_identity_ed25519_public": h(kx.header.identity_key),
        "alice_device_id": alice.device_id,
        "alice_jid": ajid,
        "alice_bundle_xml": alice_bundle_xml,
        "key_element": h(key_element),
        "iv": h(iv),
        "payload": h(payload),
        "plaintext": h(plaintext),
        "key_and_tag": h(key_and_tag),
        "encrypted_xml": msg_xml,
    }

    # Original Bob decrypts.
    res = await bob.decrypt(ajid, msg_xml)
    assert res["text"] == plaintext.decode() and res["sid"] == alice.device_id
    completion = [m for m in bob.server.outbox if m["to"] == ajid]
    assert len(completion) == 1
    comp_xml = completion[0]["xml"]
    # Alice decrypts Bob's empty "session completion" message; it carries a 16-byte key, no payload.
    res_a = await alice.decrypt(bjid, comp_xml)
    assert res_a["text"] is None and len(bytes.fromhex(res_a["key_hex"])) == 16
    ck, ck_prekey = key_elements(comp_xml)[alice.device_id]
    assert not ck_prekey
    vectors["prekey_message"]["bob_completion_xml"] = comp_xml
    vectors["prekey_message"]["bob_completion_key_transport"] = res_a["key_hex"]

    # A fresh Bob that has only the recorded keys (built through the library's own X3DH state model) also
    # decrypts it.
    await fresh_bob_decrypts(vectors["prekey_message"], vectors["signed_prekey"])

    for d in (alice, bob):
        await d.sm.shutdown()

    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(vectors, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {os.path.normpath(out_path)}")


async def fresh_bob_decrypts(pm: Dict[str, Any], spk: Dict[str, Any]) -> None:
    seed = bytes.fromhex(pm["bob_identity_seed"])
    spk_priv = bytes.fromhex(pm["bob_signed_prekey_private"])
    pk_priv = bytes.fromhex(pm["bob_prekey_private"])
    storage = MemStorage()
    await storage.store("/ikp/is_seed", True)
    await storage.store_bytes("/ikp/key", seed)
    model = x3dh.models.BaseStateModel(
        identity_key=x3dh.identity_key_pair.IdentityKeyPairSeed(seed).model,
        signed_pre_key=x3dh.models.SignedPreKeyPairModel(
            priv=spk_priv, sig=bytes.fromhex(pm["bob_signed_prekey_signature_raw"]), timestamp=0),
        old_signed_pre_key=None,
        pre_keys=frozenset({pk_priv}),
    )
    state = om.StateImpl.from_model(model, x3dh.IdentityKeyFormat.ED_25519, x3dh.HashFunction.SHA_256,
                                    om.StateImpl.INFO)
    await storage.store(f"/{NS}/x3dh", state.json)
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    await storage.store(f"/{NS}/signed_pre_key_ids",
                        {b64(xeddsa.priv_to_curve25519_pub(spk_priv)): pm["bob_signed_prekey_id"]})
    await storage.store(f"/{NS}/pre_key_ids", {b64(xeddsa.priv_to_curve25519_pub(pk_priv)): pm["bob_prekey_id"]})
    await storage.store(f"/{NS}/pre_key_id_counter", pm["bob_prekey_id"])
    # the device id is drawn with secrets.randbelow on first start: make the source return the recorded one
    orig = secrets.randbelow
    secrets.randbelow = lambda n: pm["bob_device_id"] - 1  # type: ignore[assignment]
    try:
        fresh = await Device.create("fresh-bob", pm["bob_jid"], storage=storage)
    finally:
        secrets.randbelow = orig
    assert fresh.device_id == pm["bob_device_id"]
    await fresh.set_devices(pm["alice_jid"], [pm["alice_device_id"]])
    fresh.set_bundle(pm["alice_jid"], pm["alice_device_id"], pm["alice_bundle_xml"])
    # Also rebuild the wire XML from the recorded raw fields only.
    enc = ET.Element(f"{{{NS}}}encrypted")
    hdr = ET.SubElement(enc, f"{{{NS}}}header", sid=str(pm["alice_device_id"]))
    ET.SubElement(hdr, f"{{{NS}}}key", rid=str(pm["bob_device_id"]), prekey="true").text = \
        base64.b64encode(bytes.fromhex(pm["key_element"])).decode()
    ET.SubElement(hdr, f"{{{NS}}}iv").text = base64.b64encode(bytes.fromhex(pm["iv"])).decode()
    ET.SubElement(enc, f"{{{NS}}}payload").text = base64.b64encode(bytes.fromhex(pm["payload"])).decode()
    res = await fresh.decrypt(pm["alice_jid"], ET.tostring(enc, encoding="unicode"))
    assert res["text"] == bytes.fromhex(pm["plaintext"]).decode("utf-8"), res
    assert res["key_hex"] == pm["key_and_tag"]
    # its bundle (same identity + signed pre key) carries the same signature bytes
    fb = ET.fromstring(fresh.bundle_xml())
    assert base64.b64decode(fb.find(f"{{{NS}}}signedPreKeySignature").text).hex() == spk["signature"]
    await fresh.sm.shutdown()
    print("fresh Bob rebuilt from the recorded keys decrypts the PreKeyWhisperMessage: ok")


NOTE = (
    "All values come from the python libraries' own code paths (no crypto in the script). Randomness: the "
    "script replaces secrets.token_bytes / secrets.randbelow / secrets.choice and (inside doubleratchet's "
    "Curve25519 ratchet module only) X25519PrivateKey.generate with a SHA-256 counter stream, and runs with "
    "PYTHONHASHSEED=0; nothing else is patched. "
    "Private keys: '*_private' of pre keys, signed pre keys, ephemeral and ratchet keys are the 32 raw bytes "
    "the libraries generate and store, NOT clamped (X25519 clamps on use). Identity keys: python-omemo "
    "keeps an Ed25519 *seed* ('*_identity_seed'); '*_identity_private' is xeddsa.seed_to_priv(seed) = "
    "clamp(SHA-512(seed)[0:32]), the scalar used both for X25519 and for signing. "
    "xeddsa[]: 'private' raw (unclamped), 'private_clamped' = clamp(private); 'signature' is XEdDSA per "
    "the Signal spec (scalar negated when needed so the Edwards key has sign bit 0; r = SHA-512(0xFE "
    "0xFF*31 || a || M || Z)), i.e. xeddsa.ed25519_priv_sign(xeddsa.priv_force_sign(private, False), M, Z); "
    "'signature_libsignal' is what libsignal's Curve.calculateSignature and python-omemo do: sign with the "
    "un-negated clamped scalar and put the Edwards sign bit into bit 7 of byte 63 (the top bit of s). The "
    "two are equal when ed25519_sign_bit is 0. Verifiers of bundle signatures must take the Edwards sign "
    "bit from signature[63]>>7 and clear it before verifying (libsignal curve25519_verify does; "
    "oldmemo/etree.py parse_bundle does). "
    "signed_prekey.signature is exactly the bundle's <signedPreKeySignature> (sign bit included as oldmemo "
    "put it); the signed message is the 33-byte 0x05||spk. "
    "x3dh.shared_secret is 32 bytes: HKDF-SHA256(salt=32 zero bytes, ikm=0xFF*32||DH1||DH2||DH3||DH4, "
    "info='WhisperText'); it equals the first half (root key) of libsignal's 64-byte derivation. "
    "root_step/message_keys continue that session: Alice's first sending chain and message 0, which is the "
    "key element of prekey_message. prekey_message.key_element is the raw (base64-decoded) content of "
    "<key prekey='true'>: 0x33 || protobuf PreKeyWhisperMessage{preKeyId=1, baseKey=2, identityKey=3, "
    "message=4, signedPreKeyId=6}. The receiving python Bob also needs alice_bundle_xml: oldmemo recovers the "
    "sender's Ed25519 identity sign bit from the sender's bundle signature. prekey_message was checked to "
    "decrypt by Bob and by a fresh Bob built only from the recorded keys; bob_completion_xml is the empty "
    "message Bob's library sends back right after (a key transport with a 16-byte key and no auth tag)."
)


def main() -> None:
    import logging
    logging.basicConfig(stream=sys.stderr, level=logging.ERROR)  # the first-run warnings are expected
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    asyncio.run(main_async(out))


if __name__ == "__main__":
    main()
