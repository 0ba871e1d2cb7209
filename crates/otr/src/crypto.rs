//! Thin wrappers over the symmetric primitives OTR uses.

use aes::Aes128;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type Aes128Ctr = ctr::Ctr128BE<Aes128>;

/// AES-128 in counter mode with the 8-byte `top` as the counter's top half, in place.
pub fn aes_ctr(key: &[u8; 16], top: &[u8; 8], data: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..8].copy_from_slice(top);
    let mut c = Aes128Ctr::new(key.into(), (&iv).into());
    c.apply_keystream(data);
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
    let mut m = <Hmac<Sha1> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac());
    m.update(data);
    m.finalize().into_bytes().into()
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
