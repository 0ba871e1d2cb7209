//! X3DH as libsignal version 3 does it: 32 bytes of 0xFF, then three or four Diffie-Hellman
//! results, through HKDF-SHA-256 ("WhisperText") into the first root key and chain key.

use zeroize::Zeroizing;

use crate::error::Result;
use crate::kdf::{self, ChainKey, RootKey};
use crate::keys::{KeyPair, PublicKey};

/// The initiator's ("Alice's") side: our identity and ephemeral base key, their bundle's keys.
pub fn initiator(
    our_identity: &KeyPair,
    our_base_key: &KeyPair,
    their_identity: &PublicKey,
    their_signed_prekey: &PublicKey,
    their_one_time_prekey: Option<&PublicKey>,
) -> Result<(RootKey, ChainKey)> {
    let mut secrets = Zeroizing::new(Vec::with_capacity(32 * 5));
    secrets.extend_from_slice(&[0xff; 32]);
    secrets.extend_from_slice(our_identity.secret().agree(their_signed_prekey)?.as_ref());
    secrets.extend_from_slice(our_base_key.secret().agree(their_identity)?.as_ref());
    secrets.extend_from_slice(our_base_key.secret().agree(their_signed_prekey)?.as_ref());
    if let Some(one_time) = their_one_time_prekey {
        secrets.extend_from_slice(our_base_key.secret().agree(one_time)?.as_ref());
    }
    Ok(derive(&secrets))
}

/// The responder's ("Bob's") side: our identity, signed prekey and one-time prekey, their
/// identity and base key.
pub fn responder(
    our_identity: &KeyPair,
    our_signed_prekey: &KeyPair,
    our_one_time_prekey: Option<&KeyPair>,
    their_identity: &PublicKey,
    their_base_key: &PublicKey,
) -> Result<(RootKey, ChainKey)> {
    let mut secrets = Zeroizing::new(Vec::with_capacity(32 * 5));
    secrets.extend_from_slice(&[0xff; 32]);
    secrets.extend_from_slice(our_signed_prekey.secret().agree(their_identity)?.as_ref());
    secrets.extend_from_slice(our_identity.secret().agree(their_base_key)?.as_ref());
    secrets.extend_from_slice(our_signed_prekey.secret().agree(their_base_key)?.as_ref());
    if let Some(one_time) = our_one_time_prekey {
        secrets.extend_from_slice(one_time.secret().agree(their_base_key)?.as_ref());
    }
    Ok(derive(&secrets))
}

/// HKDF(secrets, salt of zeroes, "WhisperText") into 64 bytes: root key, then chain key.
fn derive(secrets: &[u8]) -> (RootKey, ChainKey) {
    let okm = kdf::hkdf::<64>(None, secrets, b"WhisperText");
    let mut root = [0u8; 32];
    let mut chain = [0u8; 32];
    root.copy_from_slice(&okm[..32]);
    chain.copy_from_slice(&okm[32..]);
    (RootKey::from_bytes(root), ChainKey::new(chain, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    fn pair(b: u8) -> KeyPair {
        KeyPair::from_secret(SecretKey::from_bytes(&mut [b; 32]))
    }

    #[test]
    fn both_sides_derive_the_same_keys_with_and_without_a_one_time_prekey() {
        let (ia, ea, ib, sb, ob) = (pair(1), pair(2), pair(3), pair(4), pair(5));
        for one_time in [None, Some(&ob)] {
            let (ra, ca) = initiator(
                &ia,
                &ea,
                &ib.public,
                &sb.public,
                one_time.map(|k| &k.public),
            )
            .unwrap();
            let (rb, cb) = responder(&ib, &sb, one_time, &ia.public, &ea.public).unwrap();
            assert_eq!(ra.as_bytes(), rb.as_bytes());
            assert_eq!(ca.as_bytes(), cb.as_bytes());
        }
        let (with, _) = initiator(&ia, &ea, &ib.public, &sb.public, Some(&ob.public)).unwrap();
        let (without, _) = initiator(&ia, &ea, &ib.public, &sb.public, None).unwrap();
        assert_ne!(with.as_bytes(), without.as_bytes());
    }
}
