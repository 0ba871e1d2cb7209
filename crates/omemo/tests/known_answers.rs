//! Known answers made by an independent implementation, python-omemo 2.1.0 with oldmemo
//! 2.1.0 (xeddsa, x3dh, doubleratchet), from seeded keys: `tests/omemo/make_vectors.py`
//! wrote `tests/vectors/oldmemo.json`, and checked the same values with the Python side.

use omemo::kdf::{ChainKey, RootKey};
use omemo::{decrypt, x3dh, xeddsa, Account, Encrypted, KeyElement, KeyPair, OsRandom};
use omemo::{PublicKey, SecretKey, SignalMessage, SignedPreKey};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/oldmemo.json")).unwrap()
}

fn hex(v: &Value) -> Vec<u8> {
    let s = v.as_str().expect("a hex string");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn b32(v: &Value) -> [u8; 32] {
    hex(v).try_into().expect("32 bytes")
}

fn secret(v: &Value) -> SecretKey {
    SecretKey::from_bytes(&mut b32(v))
}

fn pair(v: &Value) -> KeyPair {
    KeyPair::from_secret(secret(v))
}

fn public33(v: &Value) -> PublicKey {
    PublicKey::deserialize(&hex(v)).unwrap()
}

#[test]
fn xeddsa_signatures_match_byte_for_byte_and_both_layouts_verify() {
    let v = vectors();
    let cases = v["xeddsa"].as_array().unwrap();
    assert!(cases
        .iter()
        .any(|c| c["ed25519_sign_bit"].as_u64() == Some(1)));
    for c in cases {
        let key = secret(&c["private"]);
        assert_eq!(key.public_key().as_bytes(), &b32(&c["public"]));
        let message = hex(&c["message"]);
        let nonce: [u8; 64] = hex(&c["nonce"]).try_into().unwrap();
        assert_eq!(
            xeddsa::sign(&key, &message, &nonce).to_vec(),
            hex(&c["signature"])
        );
        assert!(xeddsa::verify(
            &key.public_key(),
            &message,
            &hex(&c["signature"])
        ));
        assert!(xeddsa::verify(
            &key.public_key(),
            &message,
            &hex(&c["signature_libsignal"])
        ));
        let mut other = message.clone();
        other.push(0);
        assert!(!xeddsa::verify(
            &key.public_key(),
            &other,
            &hex(&c["signature"])
        ));
    }
}

#[test]
fn the_python_bundles_signed_prekey_signature_verifies() {
    let v = &vectors()["signed_prekey"];
    assert_eq!(v["signature_sign_bit_set"].as_u64(), Some(1));
    let identity = public33(&v["identity_public_33"]);
    let spk = hex(&v["signed_prekey_public_33"]);
    assert!(xeddsa::verify(&identity, &spk, &hex(&v["signature"])));
}

#[test]
fn x3dh_gives_the_same_root_key_from_either_side() {
    let v = &vectors()["x3dh"];
    let (ia, ea) = (
        pair(&v["alice_identity_private"]),
        pair(&v["alice_ephemeral_private"]),
    );
    let (ib, sb, ob) = (
        pair(&v["bob_identity_private"]),
        pair(&v["bob_signed_prekey_private"]),
        pair(&v["bob_prekey_private"]),
    );
    assert_eq!(
        ia.public.serialize().to_vec(),
        hex(&v["alice_identity_public_33"])
    );
    assert_eq!(sb.public.as_bytes(), &b32(&v["bob_signed_prekey_public"]));
    let expected = b32(&v["shared_secret"]);
    let (root, _) = x3dh::initiator(&ia, &ea, &ib.public, &sb.public, Some(&ob.public)).unwrap();
    assert_eq!(
        root.as_bytes(),
        &expected,
        "python-x3dh's 32 bytes are libsignal's root key"
    );
    let (root, _) = x3dh::responder(&ib, &sb, Some(&ob), &ia.public, &ea.public).unwrap();
    assert_eq!(root.as_bytes(), &expected);
}

#[test]
fn the_first_ratchet_step_and_its_message_keys_match() {
    let v = vectors();
    let r = &v["root_step"];
    let (root, chain) = RootKey::from_bytes(b32(&r["root_key"]))
        .create_chain(
            &PublicKey::from_bytes(b32(&r["their_ratchet_public"])),
            &secret(&r["own_ratchet_private"]),
        )
        .unwrap();
    assert_eq!(root.as_bytes(), &b32(&r["new_root_key"]));
    assert_eq!(chain.as_bytes(), &b32(&r["new_chain_key"]));

    let m = &v["message_keys"];
    let chain = ChainKey::new(b32(&m["chain_key"]), 0);
    let keys = chain.message_keys();
    assert_eq!(keys.cipher_key, b32(&m["cipher_key"]));
    assert_eq!(keys.mac_key, b32(&m["mac_key"]));
    assert_eq!(keys.iv.to_vec(), hex(&m["iv"]));
    assert_eq!(
        chain.next().as_bytes(),
        &b32(&m["message_key_seed_or_next_chain_key"]["next_chain_key"])
    );

    // The SignalMessage those keys protect: its fields and its MAC over both identities.
    let w = &m["whisper_message"];
    let message = SignalMessage::parse(&hex(&w["serialized"])).unwrap();
    assert_eq!(message.ratchet_key.as_bytes(), &b32(&w["ratchet_public"]));
    assert_eq!(message.counter, 0);
    let x = &v["x3dh"];
    let (alice, bob) = (
        public33(&x["alice_identity_public_33"]),
        public33(&x["bob_identity_public_33"]),
    );
    assert!(message.verify_mac(&keys.mac_key, &alice, &bob));
    assert!(!message.verify_mac(&keys.mac_key, &bob, &alice));
}

#[test]
fn a_python_prekey_message_decrypts_with_bobs_keys() {
    let p = &vectors()["prekey_message"];
    let signed = pair(&p["bob_signed_prekey_private"]);
    let prekey_id = p["bob_prekey_id"].as_u64().unwrap() as u32;
    let mut bob = Account::from_keys(
        p["bob_device_id"].as_u64().unwrap() as u32,
        secret(&p["bob_identity_private"]),
        SignedPreKey {
            id: p["bob_signed_prekey_id"].as_u64().unwrap() as u32,
            key: signed,
            signature: hex(&p["bob_signed_prekey_signature_raw"]),
            created: 0,
        },
        vec![(prekey_id, secret(&p["bob_prekey_private"]))],
    );
    let message = Encrypted {
        sid: p["alice_device_id"].as_u64().unwrap() as u32,
        keys: vec![KeyElement {
            rid: bob.device_id(),
            prekey: true,
            data: hex(&p["key_element"]),
        }],
        iv: hex(&p["iv"]),
        payload: Some(hex(&p["payload"])),
    };
    let got = decrypt(&mut bob, None, &message, &mut OsRandom).unwrap();
    assert_eq!(got.body.unwrap(), hex(&p["plaintext"]));
    assert_eq!(got.used_pre_key, Some(prekey_id));
    assert_eq!(
        got.session.remote_identity(),
        &public33(&p["alice_identity_public_33"])
    );
    // The one-time prekey is gone: the same message again, without the session, is refused.
    assert!(decrypt(&mut bob, None, &message, &mut OsRandom).is_err());
}
