//! libsignal's key derivations (version 3): the root chain ("WhisperRatchet"), the symmetric
//! chain (HMAC-SHA-256 with 0x01 and 0x02) and message keys ("WhisperMessageKeys").

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::Result;
use crate::keys::{PublicKey, SecretKey};

type HmacSha256 = Hmac<Sha256>;

/// HKDF-SHA-256 (salt of zeroes when `None`) into `N` bytes.
pub(crate) fn hkdf<const N: usize>(
    salt: Option<&[u8]>,
    ikm: &[u8],
    info: &[u8],
) -> Zeroizing<[u8; N]> {
    let mut out = Zeroizing::new([0u8; N]);
    Hkdf::<Sha256>::new(Some(salt.unwrap_or(&[0u8; 32])), ikm)
        .expand(info, out.as_mut())
        .expect("N is at most 255 * 32");
    out
}

fn hmac(key: &[u8; 32], data: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The root key of the Double Ratchet.
#[derive(Clone, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
pub struct RootKey([u8; 32]);

impl RootKey {
    /// The root key with these bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        RootKey(bytes)
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A Diffie-Hellman ratchet step: HKDF(DH(ours, theirs), salt = this root key,
    /// "WhisperRatchet") into the next root key and a new chain key at index 0.
    pub fn create_chain(
        &self,
        theirs: &PublicKey,
        ours: &SecretKey,
    ) -> Result<(RootKey, ChainKey)> {
        let shared = ours.agree(theirs)?;
        let okm = hkdf::<64>(Some(&self.0), shared.as_ref(), b"WhisperRatchet");
        let mut root = [0u8; 32];
        let mut chain = [0u8; 32];
        root.copy_from_slice(&okm[..32]);
        chain.copy_from_slice(&okm[32..]);
        Ok((RootKey(root), ChainKey::new(chain, 0)))
    }
}

/// A chain key and the index of the next message key it gives.
#[derive(Clone, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
pub struct ChainKey {
    key: [u8; 32],
    index: u32,
}

impl ChainKey {
    /// The chain key with these bytes at this index.
    pub fn new(key: [u8; 32], index: u32) -> Self {
        ChainKey { key, index }
    }

    /// The index of the message key this chain key gives.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// The next chain key: HMAC(key, 0x02).
    pub fn next(&self) -> ChainKey {
        ChainKey::new(hmac(&self.key, &[0x02]), self.index + 1)
    }

    /// This index's message keys: HKDF(HMAC(key, 0x01), "WhisperMessageKeys") split into
    /// a 32-byte AES key, a 32-byte MAC key and a 16-byte IV.
    pub fn message_keys(&self) -> MessageKeys {
        let mut seed = hmac(&self.key, &[0x01]);
        let okm = hkdf::<80>(None, &seed, b"WhisperMessageKeys");
        seed.zeroize();
        let mut keys = MessageKeys {
            cipher_key: [0; 32],
            mac_key: [0; 32],
            iv: [0; 16],
            counter: self.index,
        };
        keys.cipher_key.copy_from_slice(&okm[..32]);
        keys.mac_key.copy_from_slice(&okm[32..64]);
        keys.iv.copy_from_slice(&okm[64..]);
        keys
    }
}

/// The keys of one message: AES-256-CBC key and IV, HMAC-SHA-256 key, and its counter.
#[derive(Clone, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
pub struct MessageKeys {
    /// AES-256 key.
    pub cipher_key: [u8; 32],
    /// HMAC-SHA-256 key.
    pub mac_key: [u8; 32],
    /// AES-CBC IV.
    pub iv: [u8; 16],
    /// The message counter these keys belong to.
    pub counter: u32,
}

/// HMAC-SHA-256 of the parts, for the message MAC.
pub(crate) fn mac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}
