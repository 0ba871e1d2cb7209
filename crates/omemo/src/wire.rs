//! libsignal's wire format as OMEMO 0.3 carries it in a `<key>` element: a version byte, a
//! protobuf (`SignalMessage`, libsignal's `WhisperMessage`; `PreKeySignalMessage`, its
//! `PreKeyWhisperMessage`), and for a `SignalMessage` an 8-byte truncated HMAC-SHA-256 over
//! both identity keys and the serialised message.

use prost::Message as _;
use subtle::ConstantTimeEq;

use crate::error::{OmemoError, Result};
use crate::kdf;
use crate::keys::PublicKey;

/// libsignal's message version 3, as current and minimum version: `0x33`.
pub const VERSION_BYTE: u8 = 0x33;
/// The truncated MAC's length.
pub const MAC_LEN: usize = 8;
/// The largest serialised message accepted (a `<key>` carries 32 bytes of key material).
pub const MAX_MESSAGE_LEN: usize = 4096;

#[derive(Clone, PartialEq, prost::Message)]
struct SignalMessageProto {
    #[prost(bytes = "vec", optional, tag = "1")]
    ratchet_key: Option<Vec<u8>>,
    #[prost(uint32, optional, tag = "2")]
    counter: Option<u32>,
    #[prost(uint32, optional, tag = "3")]
    previous_counter: Option<u32>,
    #[prost(bytes = "vec", optional, tag = "4")]
    ciphertext: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PreKeySignalMessageProto {
    #[prost(uint32, optional, tag = "5")]
    registration_id: Option<u32>,
    #[prost(uint32, optional, tag = "1")]
    pre_key_id: Option<u32>,
    #[prost(uint32, optional, tag = "6")]
    signed_pre_key_id: Option<u32>,
    #[prost(bytes = "vec", optional, tag = "2")]
    base_key: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "3")]
    identity_key: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "4")]
    message: Option<Vec<u8>>,
}

/// Checks the length and the version byte, and returns the protobuf after it.
fn body(bytes: &[u8], min_tail: usize) -> Result<&[u8]> {
    if bytes.len() > MAX_MESSAGE_LEN || bytes.len() < 1 + min_tail {
        return Err(OmemoError::Malformed("message length"));
    }
    if bytes[0] >> 4 != 3 {
        return Err(OmemoError::Version(bytes[0] >> 4));
    }
    Ok(&bytes[1..])
}

/// A ratchet message: the sender's ratchet key, its counters and the AES-256-CBC ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalMessage {
    /// The sender's current ratchet public key.
    pub ratchet_key: PublicKey,
    /// This message's index in the sender's chain.
    pub counter: u32,
    /// The length of the sender's previous chain.
    pub previous_counter: u32,
    /// AES-256-CBC (PKCS#7) ciphertext.
    pub ciphertext: Vec<u8>,
    serialized: Vec<u8>,
}

impl SignalMessage {
    /// Builds and MACs a message from the sender's side.
    pub fn new(
        mac_key: &[u8; 32],
        sender_identity: &PublicKey,
        receiver_identity: &PublicKey,
        ratchet_key: PublicKey,
        counter: u32,
        previous_counter: u32,
        ciphertext: Vec<u8>,
    ) -> Self {
        let proto = SignalMessageProto {
            ratchet_key: Some(ratchet_key.serialize().to_vec()),
            counter: Some(counter),
            previous_counter: Some(previous_counter),
            ciphertext: Some(ciphertext.clone()),
        };
        let mut serialized = Vec::with_capacity(1 + proto.encoded_len() + MAC_LEN);
        serialized.push(VERSION_BYTE);
        proto.encode(&mut serialized).expect("a Vec grows");
        let mac = message_mac(mac_key, sender_identity, receiver_identity, &serialized);
        serialized.extend_from_slice(&mac);
        SignalMessage {
            ratchet_key,
            counter,
            previous_counter,
            ciphertext,
            serialized,
        }
    }

    /// Parses a serialised message (its MAC is checked later, with the message keys).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let body = body(bytes, MAC_LEN)?;
        let proto = SignalMessageProto::decode(&body[..body.len() - MAC_LEN])
            .map_err(|_| OmemoError::Malformed("SignalMessage"))?;
        let (Some(key), Some(counter), Some(ciphertext)) =
            (proto.ratchet_key, proto.counter, proto.ciphertext)
        else {
            return Err(OmemoError::Malformed("SignalMessage fields"));
        };
        Ok(SignalMessage {
            ratchet_key: PublicKey::deserialize(&key)?,
            counter,
            previous_counter: proto.previous_counter.unwrap_or(0),
            ciphertext,
            serialized: bytes.to_vec(),
        })
    }

    /// Whether the MAC matches, in constant time.
    pub fn verify_mac(
        &self,
        mac_key: &[u8; 32],
        sender_identity: &PublicKey,
        receiver_identity: &PublicKey,
    ) -> bool {
        let (signed, mac) = self.serialized.split_at(self.serialized.len() - MAC_LEN);
        let expected = message_mac(mac_key, sender_identity, receiver_identity, signed);
        bool::from(expected.ct_eq(mac))
    }

    /// The bytes on the wire.
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }
}

/// HMAC-SHA-256(mac key, sender identity || receiver identity || message), first 8 bytes.
fn message_mac(
    key: &[u8; 32],
    sender_identity: &PublicKey,
    receiver_identity: &PublicKey,
    message: &[u8],
) -> [u8; MAC_LEN] {
    let full = kdf::mac(
        key,
        &[
            &sender_identity.serialize(),
            &receiver_identity.serialize(),
            message,
        ],
    );
    full[..MAC_LEN].try_into().expect("8 of 32 bytes")
}

/// The first messages of a session: the X3DH parameters around a [`SignalMessage`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreKeySignalMessage {
    /// The sender's registration id (in OMEMO, its device id).
    pub registration_id: u32,
    /// The receiver's one-time prekey used, if any.
    pub pre_key_id: Option<u32>,
    /// The receiver's signed prekey used.
    pub signed_pre_key_id: u32,
    /// The sender's X3DH ephemeral ("base") key.
    pub base_key: PublicKey,
    /// The sender's identity key.
    pub identity_key: PublicKey,
    /// The first ratchet message.
    pub message: SignalMessage,
    serialized: Vec<u8>,
}

impl PreKeySignalMessage {
    /// Wraps `message` with the X3DH parameters.
    pub fn new(
        registration_id: u32,
        pre_key_id: Option<u32>,
        signed_pre_key_id: u32,
        base_key: PublicKey,
        identity_key: PublicKey,
        message: SignalMessage,
    ) -> Self {
        let proto = PreKeySignalMessageProto {
            registration_id: Some(registration_id),
            pre_key_id,
            signed_pre_key_id: Some(signed_pre_key_id),
            base_key: Some(base_key.serialize().to_vec()),
            identity_key: Some(identity_key.serialize().to_vec()),
            message: Some(message.serialized.clone()),
        };
        let mut serialized = Vec::with_capacity(1 + proto.encoded_len());
        serialized.push(VERSION_BYTE);
        proto.encode(&mut serialized).expect("a Vec grows");
        PreKeySignalMessage {
            registration_id,
            pre_key_id,
            signed_pre_key_id,
            base_key,
            identity_key,
            message,
            serialized,
        }
    }

    /// Parses a serialised message.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let body = body(bytes, 0)?;
        let proto = PreKeySignalMessageProto::decode(body)
            .map_err(|_| OmemoError::Malformed("PreKeySignalMessage"))?;
        let (Some(signed_pre_key_id), Some(base_key), Some(identity_key), Some(message)) = (
            proto.signed_pre_key_id,
            proto.base_key,
            proto.identity_key,
            proto.message,
        ) else {
            return Err(OmemoError::Malformed("PreKeySignalMessage fields"));
        };
        Ok(PreKeySignalMessage {
            registration_id: proto.registration_id.unwrap_or(0),
            pre_key_id: proto.pre_key_id,
            signed_pre_key_id,
            base_key: PublicKey::deserialize(&base_key)?,
            identity_key: PublicKey::deserialize(&identity_key)?,
            message: SignalMessage::parse(&message)?,
            serialized: bytes.to_vec(),
        })
    }

    /// The bytes on the wire.
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }
}

/// What a session's encrypt gives: a `PreKeySignalMessage` until the peer has answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CiphertextMessage {
    /// Carries the X3DH parameters (the `<key prekey="true">` of OMEMO 0.3).
    PreKey(PreKeySignalMessage),
    /// A plain ratchet message.
    Signal(SignalMessage),
}

impl CiphertextMessage {
    /// The bytes on the wire.
    pub fn serialized(&self) -> &[u8] {
        match self {
            CiphertextMessage::PreKey(m) => m.serialized(),
            CiphertextMessage::Signal(m) => m.serialized(),
        }
    }

    /// Whether this is a `PreKeySignalMessage`.
    pub fn is_prekey(&self) -> bool {
        matches!(self, CiphertextMessage::PreKey(_))
    }

    /// Parses the contents of a `<key>` element; `prekey` is its `prekey` attribute.
    pub fn parse(bytes: &[u8], prekey: bool) -> Result<Self> {
        if prekey {
            PreKeySignalMessage::parse(bytes).map(CiphertextMessage::PreKey)
        } else {
            SignalMessage::parse(bytes).map(CiphertextMessage::Signal)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> SignalMessage {
        SignalMessage::new(
            &[1; 32],
            &PublicKey::from_bytes([2; 32]),
            &PublicKey::from_bytes([3; 32]),
            PublicKey::from_bytes([4; 32]),
            7,
            3,
            vec![5; 32],
        )
    }

    #[test]
    fn messages_round_trip_and_the_mac_binds_both_identities() {
        let m = message();
        assert_eq!(m.serialized()[0], 0x33);
        let parsed = SignalMessage::parse(m.serialized()).unwrap();
        assert_eq!(parsed, m);
        let (a, b) = (
            PublicKey::from_bytes([2; 32]),
            PublicKey::from_bytes([3; 32]),
        );
        assert!(parsed.verify_mac(&[1; 32], &a, &b));
        assert!(!parsed.verify_mac(&[1; 32], &b, &a));
        assert!(!parsed.verify_mac(&[9; 32], &a, &b));
        let mut altered = m.serialized().to_vec();
        altered[10] ^= 1;
        assert!(SignalMessage::parse(&altered).map_or(true, |p| !p.verify_mac(&[1; 32], &a, &b)));

        let p = PreKeySignalMessage::new(42, Some(9), 1, a, b, m);
        assert_eq!(PreKeySignalMessage::parse(p.serialized()).unwrap(), p);
    }

    #[test]
    fn other_versions_missing_fields_and_oversize_are_refused() {
        let mut v2 = message().serialized().to_vec();
        v2[0] = 0x22;
        assert_eq!(SignalMessage::parse(&v2), Err(OmemoError::Version(2)));
        assert!(SignalMessage::parse(&[0x33]).is_err());
        assert!(SignalMessage::parse(&[0x33; 9]).is_err());
        assert!(SignalMessage::parse(&vec![0x33; MAX_MESSAGE_LEN + 1]).is_err());
        assert!(PreKeySignalMessage::parse(&[0x33]).is_err());
        assert!(PreKeySignalMessage::parse(&[]).is_err());
    }
}
