//! The OMEMO 0.3 payload: the message body in AES-128-GCM under a fresh key; the key and
//! the 16-byte authentication tag travel together (32 bytes) in each device's `<key>`.

use aes::Aes128;
use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::AesGcm;
use zeroize::Zeroizing;

use crate::error::{OmemoError, Result};
use crate::random::{self, Random};

/// AES-128-GCM with the 12-byte IV that current clients send.
type Gcm12 = AesGcm<Aes128, U12>;
/// AES-128-GCM with the 16-byte IV that older clients (Conversations before 2.0) sent.
type Gcm16 = AesGcm<Aes128, U16>;

/// The GCM tag length.
pub const TAG_LEN: usize = 16;
/// The largest payload accepted or made.
pub const MAX_PAYLOAD_LEN: usize = 64 * 1024;

/// An encrypted body and the key material for the `<key>` elements.
pub struct Sealed {
    /// Key (16 bytes) then tag (16 bytes): what each device's `<key>` encrypts.
    pub key_material: Zeroizing<[u8; 32]>,
    /// The IV (12 bytes).
    pub iv: [u8; 12],
    /// The ciphertext without its tag (the `<payload>`).
    pub ciphertext: Vec<u8>,
}

/// Encrypts `plaintext` under a fresh key and IV.
pub fn seal(plaintext: &[u8], rng: &mut dyn Random) -> Result<Sealed> {
    if plaintext.len() > MAX_PAYLOAD_LEN {
        return Err(OmemoError::Malformed("payload too long"));
    }
    let key = Zeroizing::new(random::bytes::<16>(rng)?);
    let iv = random::bytes::<12>(rng)?;
    let mut ciphertext = Gcm12::new((&*key).into())
        .encrypt(&iv.into(), plaintext)
        .map_err(|_| OmemoError::Decrypt)?;
    let tag = ciphertext.split_off(ciphertext.len() - TAG_LEN);
    let mut key_material = Zeroizing::new([0u8; 32]);
    key_material[..16].copy_from_slice(key.as_ref());
    key_material[16..].copy_from_slice(&tag);
    Ok(Sealed {
        key_material,
        iv,
        ciphertext,
    })
}

/// Decrypts a payload with the key material from our `<key>`: key and tag (32 bytes or
/// more), or a bare 16-byte key with the tag at the end of the payload (older clients).
pub fn open(key_material: &[u8], iv: &[u8], payload: &[u8]) -> Result<Vec<u8>> {
    if payload.len() > MAX_PAYLOAD_LEN + TAG_LEN {
        return Err(OmemoError::Malformed("payload too long"));
    }
    let (key, joined) = match key_material.len() {
        16 => (key_material, Zeroizing::new(payload.to_vec())),
        n if n >= 32 => {
            let mut joined = Zeroizing::new(Vec::with_capacity(payload.len() + TAG_LEN));
            joined.extend_from_slice(payload);
            joined.extend_from_slice(&key_material[16..32]);
            (&key_material[..16], joined)
        }
        _ => return Err(OmemoError::Malformed("key material length")),
    };
    let key: &[u8; 16] = key.try_into().expect("16 bytes");
    let result = match iv.len() {
        12 => Gcm12::new(key.into()).decrypt(iv.try_into().expect("12 bytes"), joined.as_slice()),
        16 => Gcm16::new(key.into()).decrypt(iv.try_into().expect("16 bytes"), joined.as_slice()),
        _ => return Err(OmemoError::Malformed("IV length")),
    };
    result.map_err(|_| OmemoError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    #[test]
    fn sealed_payloads_open_in_both_layouts_and_a_flipped_bit_fails() {
        let sealed = seal(b"hello", &mut OsRandom).unwrap();
        let opened = open(sealed.key_material.as_ref(), &sealed.iv, &sealed.ciphertext).unwrap();
        assert_eq!(opened, b"hello");
        let mut with_tag = sealed.ciphertext.clone();
        with_tag.extend_from_slice(&sealed.key_material[16..]);
        assert_eq!(
            open(&sealed.key_material[..16], &sealed.iv, &with_tag).unwrap(),
            b"hello"
        );
        let mut bad = sealed.ciphertext.clone();
        bad[0] ^= 1;
        assert_eq!(
            open(sealed.key_material.as_ref(), &sealed.iv, &bad),
            Err(OmemoError::Decrypt)
        );
        assert!(open(&[0; 8], &sealed.iv, &bad).is_err());
        assert!(open(sealed.key_material.as_ref(), &[0; 5], &bad).is_err());
    }
}
