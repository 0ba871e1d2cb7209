//! XEdDSA on Curve25519 (Signal's XEdDSA and VXEdDSA specification, section 2): Ed25519
//! signatures made and checked with Montgomery (X25519) keys, as libsignal signs a signed
//! prekey with the identity key.
//!
//! Signing follows the specification: the Edwards public key is made positive (sign bit 0) by
//! negating the private scalar. Verification also accepts what older libsignal code
//! (libsignal-protocol-c/-java's `curve25519_sign`, still in deployed clients) produces: the
//! Edwards key's sign bit carried in the top bit of `s`, the last byte of the signature.

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use crate::keys::{PublicKey, SecretKey};

/// The length of a signature.
pub const SIGNATURE_LEN: usize = 64;

/// Signs `message` with the Curve25519 private key; `random` is 64 fresh random bytes (Z).
pub fn sign(key: &SecretKey, message: &[u8], random: &[u8; 64]) -> [u8; SIGNATURE_LEN] {
    let k = Zeroizing::new(Scalar::from_bytes_mod_order(*key.scalar_bytes()));
    let edwards = EdwardsPoint::mul_base(&k).compress();
    let negative = Choice::from(edwards.as_bytes()[31] >> 7);
    // calculate_key_pair: A with sign bit 0, a = -k when kB's sign bit was 1.
    let a = Zeroizing::new(Scalar::conditional_select(&k, &-*k, negative));
    // As libsignal's xed25519_sign and libxeddsa hash it: the clamped key's own bytes when it
    // is kept (unreduced), -k mod q when negated. (Any a works for validity; this matches
    // their signatures byte for byte.)
    let mut a_hashed = Zeroizing::new(*key.scalar_bytes());
    let negated = a.to_bytes();
    for (byte, neg) in a_hashed.iter_mut().zip(negated.iter()) {
        byte.conditional_assign(neg, negative);
    }
    let mut public = edwards.to_bytes();
    public[31] &= 0x7f;

    // r = hash_1(a || M || Z) mod q, hash_1(X) = SHA-512(0xFE || 0xFF * 31 || X).
    let mut h = Sha512::new();
    h.update([0xfe]);
    h.update([0xff; 31]);
    h.update(a_hashed.as_ref());
    h.update(message);
    h.update(random);
    let r = Zeroizing::new(Scalar::from_bytes_mod_order_wide(&h.finalize().into()));
    let big_r = EdwardsPoint::mul_base(&r).compress();
    let challenge = challenge(big_r.as_bytes(), &public, message);
    let s = *r + challenge * *a;

    let mut signature = [0u8; SIGNATURE_LEN];
    signature[..32].copy_from_slice(big_r.as_bytes());
    signature[32..].copy_from_slice(s.as_bytes());
    signature
}

/// Whether `signature` is a valid signature of `message` under the Curve25519 `key`.
pub fn verify(key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    let Ok(signature) = <&[u8; SIGNATURE_LEN]>::try_from(signature) else {
        return false;
    };
    // The sign bit of the Edwards key rides in the top bit of s (0 for XEdDSA proper).
    let sign = signature[63] >> 7;
    let Some(edwards) = MontgomeryPoint(*key.as_bytes()).to_edwards(sign) else {
        return false;
    };
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&signature[32..]);
    s_bytes[31] &= 0x7f;
    let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
        return false;
    };
    let public = edwards.compress();
    let challenge = challenge(&signature[..32], public.as_bytes(), message);
    // R' = sB - hA, compared with R as bytes (ref10's check, as libsignal does).
    let expected = EdwardsPoint::vartime_double_scalar_mul_basepoint(&-challenge, &edwards, &s);
    bool::from(expected.compress().as_bytes().ct_eq(&signature[..32]))
}

/// h = SHA-512(R || A || M) mod q.
fn challenge(big_r: &[u8], public: &[u8; 32], message: &[u8]) -> Scalar {
    let mut h = Sha512::new();
    h.update(big_r);
    h.update(public);
    h.update(message);
    Scalar::from_bytes_mod_order_wide(&h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_bytes(&mut [byte; 32])
    }

    #[test]
    fn a_signature_verifies_and_nothing_else_does() {
        for byte in 1..=16u8 {
            let k = key(byte);
            let sig = sign(&k, b"signed prekey", &[byte; 64]);
            assert_eq!(sig[63] >> 7, 0, "XEdDSA signs with the sign bit clear");
            assert!(verify(&k.public_key(), b"signed prekey", &sig));
            assert!(!verify(&k.public_key(), b"signed prekeY", &sig));
            assert!(!verify(
                &key(byte + 100).public_key(),
                b"signed prekey",
                &sig
            ));
            let mut bad = sig;
            bad[5] ^= 1;
            assert!(!verify(&k.public_key(), b"signed prekey", &bad));
            assert!(!verify(&k.public_key(), b"signed prekey", &sig[..63]));
        }
    }

    #[test]
    fn the_sign_bit_may_ride_in_s_as_old_libsignal_signs() {
        // Old libsignal signed with the Edwards key as it came out (either sign) and put its
        // sign bit into s. Make such a signature from first principles for a key whose
        // Edwards form is negative, and check that it verifies.
        let k = (1..=40u8)
            .map(key)
            .find(|k| {
                let a = Scalar::from_bytes_mod_order(*k.scalar_bytes());
                EdwardsPoint::mul_base(&a).compress().as_bytes()[31] >> 7 == 1
            })
            .expect("about half of all keys are negative");
        let a = Scalar::from_bytes_mod_order(*k.scalar_bytes());
        let public = EdwardsPoint::mul_base(&a).compress();
        let r = Scalar::from_bytes_mod_order_wide(&[7u8; 64]);
        let big_r = EdwardsPoint::mul_base(&r).compress();
        let s = r + challenge(big_r.as_bytes(), public.as_bytes(), b"m") * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(big_r.as_bytes());
        sig[32..].copy_from_slice(s.as_bytes());
        sig[63] |= 0x80;
        assert!(verify(&k.public_key(), b"m", &sig));
        sig[63] &= 0x7f;
        assert!(!verify(&k.public_key(), b"m", &sig));
    }
}
