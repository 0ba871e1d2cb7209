//! The SMP secret: SHA-256 over the version, both fingerprints, the session id and the answer.

use sha2::{Digest, Sha256};

use crate::group::Exponent;

/// The SMP secret x = SHA256(0x01 || initiator fp || responder fp || ssid || user secret).
///
/// `initiator_fp` is the fingerprint of the party that started this SMP exchange (for the
/// responder, the peer's), `ssid` the secure session id of the AKE.
pub fn secret(
    initiator_fp: &[u8; 20],
    responder_fp: &[u8; 20],
    ssid: &[u8],
    user_secret: &[u8],
) -> Exponent {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(initiator_fp);
    h.update(responder_fp);
    h.update(ssid);
    h.update(user_secret);
    let mut digest: [u8; 32] = h.finalize().into();
    let x = Exponent::from_be_bytes(&digest);
    zeroize::Zeroize::zeroize(&mut digest);
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn fp(s: &str) -> [u8; 20] {
        unhex(s).try_into().unwrap()
    }

    /// Known answers from vectors.md (alice initiates, ssid 01..08, "hello world").
    #[test]
    fn known_answer() {
        let alice = fp("0bb01c360424522e94ee9c346ce877a1a4288b2f");
        let bob = fp("8798faa7735267fb8457733098482e94096d4abd");
        let ssid = [1, 2, 3, 4, 5, 6, 7, 8];
        let x = secret(&alice, &bob, &ssid, b"hello world");
        let want = unhex("03d7264bd983b8ca53cb365444844816f7d2453580b552eee45cd09ca13614a5");
        assert_eq!(&x.to_be_bytes()[..], &want[..]);
        assert_eq!(x, Exponent::from_be_bytes(&want));
        let swapped = secret(&bob, &alice, &ssid, b"hello world");
        let wrong = unhex("62bae55b39361fac01f145f35389a3da3903cb612bb33397b73c7ffac0972d01");
        assert_eq!(swapped, Exponent::from_be_bytes(&wrong));
        assert_ne!(swapped, x);
    }
}
