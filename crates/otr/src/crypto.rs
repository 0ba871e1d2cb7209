//! Thin wrappers over the symmetric primitives OTR uses.

use aes::Aes128;
use ctr::cipher::{InnerIvInit, StreamCipher};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type Aes128Ctr = ctr::Ctr128BE<Aes128>;

/// AES-128 in counter mode with the 8-byte `top` as the counter's top half, in place.
pub fn aes_ctr(key: &[u8; 16], top: &[u8; 8], data: &mut [u8]) {
    aes_ctr_keyed(&aes_key(key), top, data);
}

/// An AES-128 key schedule, for [`aes_ctr_keyed`] (wiped when dropped, by the aes crate).
pub fn aes_key(key: &[u8; 16]) -> Aes128 {
    Aes128::new(key.into())
}

/// [`aes_ctr`] with a key schedule made once for many messages.
pub fn aes_ctr_keyed(cipher: &Aes128, top: &[u8; 8], data: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..8].copy_from_slice(top);
    let core =
        ctr::CtrCore::<Aes128, ctr::flavors::Ctr128BE>::inner_iv_init(cipher.clone(), (&iv).into());
    let mut c = Aes128Ctr::from_core(core);
    c.apply_keystream(data);
}

/// HMAC-SHA1 keyed once (the inner and outer pads hashed), for [`hmac_sha1_keyed`].
pub fn hmac_sha1_key(key: &[u8]) -> Hmac<Sha1> {
    <Hmac<Sha1> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac())
}

/// [`hmac_sha1`] with a key prepared once for many messages.
pub fn hmac_sha1_keyed(keyed: &Hmac<Sha1>, data: &[u8]) -> [u8; 20] {
    let mut m = keyed.clone();
    m.update(data);
    m.finalize().into_bytes().into()
}

/// HMAC-SHA256 over the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac());
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// HMAC-SHA1 over `data`.
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    hmac_sha1_keyed(&hmac_sha1_key(key), data)
}

/// HMAC accepts keys of every length; this only satisfies the type checker.
fn unreachable_hmac<T>() -> T {
    unreachable!("HMAC accepts keys of any length")
}

/// SHA-256 over the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// SHA-1 over the concatenation of `parts`.
pub fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        Digest::update(&mut h, p);
    }
    h.finalize().into()
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_ctr_uses_top_half_counter() {
        // FIPS-197 AES-128 key/plaintext: first block of CTR with a zero IV is E_k(0).
        let key = [0u8; 16];
        let mut block = [0u8; 16];
        aes_ctr(&key, &[0; 8], &mut block);
        assert_eq!(block[..4], [0x66, 0xe9, 0x4b, 0xd4]);
        let mut a = [0u8; 32];
        aes_ctr(&key, &[0, 0, 0, 0, 0, 0, 0, 1], &mut a);
        assert_ne!(a[..16], block[..]);
        let mut back = a;
        aes_ctr(&key, &[0, 0, 0, 0, 0, 0, 0, 1], &mut back);
        assert_eq!(back, [0u8; 32]);
    }

    #[test]
    fn hmacs_match_rfc_vectors() {
        // RFC 4231 test case 2 and RFC 2202 test case 2.
        let h = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(h[..4], [0x5b, 0xdc, 0xc1, 0x46]);
        let h = hmac_sha1(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(h[..4], [0xef, 0xfc, 0xdf, 0x6a]);
        assert!(ct_eq(b"ab", b"ab") && !ct_eq(b"ab", b"ac") && !ct_eq(b"a", b"ab"));
    }
}
