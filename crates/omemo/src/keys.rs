//! Curve25519 keys as libsignal serialises them (the `0x05` type byte), Diffie-Hellman, and
//! the fingerprint clients show.

use curve25519_dalek::montgomery::MontgomeryPoint;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{OmemoError, Result};
use crate::random::{self, Random};

/// libsignal's type byte for a Curve25519 ("DJB") public key.
pub const DJB_TYPE: u8 = 0x05;

/// A Curve25519 public key (the Montgomery u-coordinate).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// The key with this u-coordinate.
    pub fn from_bytes(u: [u8; 32]) -> Self {
        PublicKey(u)
    }

    /// The 32-byte u-coordinate.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// libsignal's serialisation: `0x05` then the u-coordinate (33 bytes).
    pub fn serialize(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = DJB_TYPE;
        out[1..].copy_from_slice(&self.0);
        out
    }

    /// Parses libsignal's 33-byte serialisation.
    pub fn deserialize(bytes: &[u8]) -> Result<Self> {
        match bytes {
            [DJB_TYPE, rest @ ..] if rest.len() == 32 => {
                Ok(PublicKey(rest.try_into().expect("32 bytes")))
            }
            _ => Err(OmemoError::BadKey),
        }
    }

    /// The fingerprint of this key as an identity key.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint(self.0)
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", hex(&self.0[..4]))
    }
}

/// A Curve25519 private key, clamped; wiped when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    /// A new random key.
    pub fn generate(rng: &mut dyn Random) -> Result<Self> {
        let mut raw = Zeroizing::new(random::bytes::<32>(rng)?);
        Ok(Self::from_bytes(&mut raw))
    }

    /// The key with these bytes (clamped as X25519 does); wipes `bytes`.
    pub fn from_bytes(bytes: &mut [u8; 32]) -> Self {
        let key = SecretKey(curve25519_dalek::scalar::clamp_integer(*bytes));
        bytes.zeroize();
        key
    }

    /// The clamped private scalar's bytes.
    pub(crate) fn scalar_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(MontgomeryPoint::mul_base_clamped(self.0).to_bytes())
    }

    /// X25519 with `theirs`; refuses an all-zero result (a low-order point).
    pub fn agree(&self, theirs: &PublicKey) -> Result<Zeroizing<[u8; 32]>> {
        let shared = Zeroizing::new(MontgomeryPoint(theirs.0).mul_clamped(self.0).to_bytes());
        if bool::from(shared.ct_eq(&[0u8; 32])) {
            return Err(OmemoError::LowOrder);
        }
        Ok(shared)
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// A Curve25519 key pair: identity keys, prekeys and ratchet keys alike.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyPair {
    /// The public half.
    pub public: PublicKey,
    secret: SecretKey,
}

impl KeyPair {
    /// A new random key pair.
    pub fn generate(rng: &mut dyn Random) -> Result<Self> {
        Ok(Self::from_secret(SecretKey::generate(rng)?))
    }

    /// The pair of this private key.
    pub fn from_secret(secret: SecretKey) -> Self {
        KeyPair {
            public: secret.public_key(),
            secret,
        }
    }

    /// The private half.
    pub fn secret(&self) -> &SecretKey {
        &self.secret
    }
}

/// An identity key's fingerprint: the 32-byte Curve25519 key in hex, as Conversations, Gajim,
/// Dino and Profanity show it (without the `05` type byte).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// 64 lowercase hex digits.
    pub fn hex(&self) -> String {
        hex(&self.0)
    }

    /// Eight groups of eight hex digits separated by spaces, as the clients group it.
    pub fn grouped(&self) -> String {
        let h = self.hex();
        h.as_bytes()
            .chunks(8)
            .map(|c| std::str::from_utf8(c).expect("hex is ASCII"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Parses a fingerprint as a person types or pastes it: hex digits, any case, with
    /// spaces, colons or dashes, an optional leading `05` type byte.
    pub fn parse(text: &str) -> Option<Fingerprint> {
        let digits: Vec<u8> = text
            .bytes()
            .filter(|b| !matches!(b, b' ' | b':' | b'-' | b'\t' | b'\n'))
            .collect();
        let digits = match digits.len() {
            66 if digits.starts_with(b"05") => &digits[2..],
            64 => &digits[..],
            _ => return None,
        };
        let mut out = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            let s = std::str::from_utf8(pair).ok()?;
            out[i] = u8::from_str_radix(s, 16).ok()?;
        }
        Some(Fingerprint(out))
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.grouped())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_byte_is_required_and_the_length_checked() {
        let k = PublicKey::from_bytes([9; 32]);
        assert_eq!(PublicKey::deserialize(&k.serialize()).unwrap(), k);
        assert_eq!(PublicKey::deserialize(&[9; 32]), Err(OmemoError::BadKey));
        let mut wrong = k.serialize();
        wrong[0] = 0x06;
        assert_eq!(PublicKey::deserialize(&wrong), Err(OmemoError::BadKey));
        assert_eq!(
            PublicKey::deserialize(&wrong[..20]),
            Err(OmemoError::BadKey)
        );
    }

    #[test]
    fn diffie_hellman_agrees_and_refuses_low_order_points() {
        let mut a = [1u8; 32];
        let mut b = [2u8; 32];
        let (a, b) = (SecretKey::from_bytes(&mut a), SecretKey::from_bytes(&mut b));
        assert_eq!(
            *a.agree(&b.public_key()).unwrap(),
            *b.agree(&a.public_key()).unwrap()
        );
        assert_eq!(
            a.agree(&PublicKey::from_bytes([0; 32])),
            Err(OmemoError::LowOrder)
        );
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(
            a.agree(&PublicKey::from_bytes(one)),
            Err(OmemoError::LowOrder)
        );
    }

    #[test]
    fn fingerprints_group_and_parse_as_people_type_them() {
        let f = PublicKey::from_bytes([0xab; 32]).fingerprint();
        assert_eq!(f.grouped().len(), 64 + 7);
        assert!(f.grouped().starts_with("abababab abababab"));
        assert_eq!(Fingerprint::parse(&f.grouped().to_uppercase()), Some(f));
        assert_eq!(Fingerprint::parse(&format!("05{}", f.hex())), Some(f));
        assert_eq!(Fingerprint::parse("abab"), None);
        assert_eq!(Fingerprint::parse(&"zz".repeat(32)), None);
    }
}
