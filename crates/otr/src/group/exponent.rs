//! Secret exponents: integers below q (or below a public bit bound), zeroized on drop.

use std::fmt;

use crypto_bigint::{NonZero, U1536};
use serde::de;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::{
    order, significant, uint_from_be, uint_to_be_minimal, wipe, BytesVisitor, Fq, GroupError,
    MODULUS_BITS, MODULUS_BYTES,
};

/// A secret exponent (at most 1536 bits), zeroized on drop.
///
/// It carries a public bound on its bit length so that short exponents (such as 320-bit DH
/// keys) are cheap; only the bound, never the value, shows in the timing.
#[derive(Clone)]
pub struct Exponent {
    pub(super) value: U1536,
    pub(super) bits: u32,
}

impl Drop for Exponent {
    fn drop(&mut self) {
        wipe(&mut self.value);
    }
}

impl Zeroize for Exponent {
    fn zeroize(&mut self) {
        wipe(&mut self.value);
    }
}

impl fmt::Debug for Exponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Exponent(<{} bits, secret>)", self.bits)
    }
}

impl PartialEq for Exponent {
    /// Constant-time comparison of the values (the bit bounds are ignored).
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.value.as_words()[..].ct_eq(&other.value.as_words()[..]))
    }
}

impl Eq for Exponent {}

impl Exponent {
    /// A uniformly random exponent of `bits` bits (at most 1536) from the OS generator.
    pub fn random(bits: usize) -> Exponent {
        let bits = bits.min(MODULUS_BITS as usize);
        let len = bits.div_ceil(8);
        let mut buf = Zeroizing::new([0u8; MODULUS_BYTES]);
        // Without OS randomness no key can be made: there is nothing sensible to fall back to.
        #[allow(clippy::expect_used)]
        getrandom::fill(&mut buf[MODULUS_BYTES - len..])
            .expect("OS random number generator failed");
        let extra = len * 8 - bits;
        if len > 0 {
            buf[MODULUS_BYTES - len] &= 0xff >> extra;
        }
        Exponent {
            value: U1536::from_be_slice(&buf[..]),
            bits: bits as u32,
        }
    }

    /// The exponent with these big-endian bytes; inputs longer than 192 bytes are reduced mod q.
    pub fn from_be_bytes(bytes: &[u8]) -> Exponent {
        if bytes.len() <= MODULUS_BYTES {
            return Exponent {
                value: uint_from_be(bytes),
                bits: (bytes.len() * 8) as u32,
            };
        }
        // Horner in 1536-bit digits: acc = (acc * 2^1536 + digit) mod q, constant time in the value.
        let q = NonZero::new(order())
            .into_option()
            .unwrap_or(NonZero::<U1536>::ONE);
        let head = bytes.len() % MODULUS_BYTES;
        let (first, rest) = bytes.split_at(head);
        let mut acc = uint_from_be(first).rem_vartime(&q);
        for chunk in rest.chunks(MODULUS_BYTES) {
            let mut digit = uint_from_be(chunk);
            let next = U1536::rem_wide_vartime((digit, acc), &q);
            wipe(&mut digit);
            wipe(&mut acc);
            acc = next;
        }
        Exponent {
            value: acc,
            bits: MODULUS_BITS,
        }
    }

    /// Decodes a received exponent and checks 1 <= v < q (libotr's `check_expon`).
    pub fn from_be_bytes_checked(bytes: &[u8]) -> Result<Exponent, GroupError> {
        let bytes = significant(bytes)?;
        let value = uint_from_be(bytes);
        if bytes.is_empty() || value.cmp_vartime(&order()) != core::cmp::Ordering::Less {
            return Err(GroupError::ExponentOutOfRange);
        }
        Ok(Exponent {
            value,
            bits: (bytes.len() * 8) as u32,
        })
    }

    /// Minimal big-endian bytes of the value (empty for zero), zeroized on drop.
    pub fn to_be_bytes(&self) -> Zeroizing<Vec<u8>> {
        uint_to_be_minimal(&self.value)
    }

    /// The public bound on the bit length of the value.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// `(r - a * c) mod q` in constant time (the response of a Schnorr-style proof).
    pub fn sub_mul_mod_q(r: &Exponent, a: &Exponent, c: &Exponent) -> Exponent {
        let mut rq = Fq::new(&r.value);
        let mut aq = Fq::new(&a.value);
        let mut cq = Fq::new(&c.value);
        let mut d = rq.sub(&aq.mul(&cq));
        let value = d.retrieve();
        for v in [&mut rq, &mut aq, &mut cq, &mut d] {
            v.as_montgomery_mut().as_mut_words().zeroize();
        }
        Exponent {
            value,
            bits: MODULUS_BITS - 1,
        }
    }
}

impl Serialize for Exponent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Fixed length from the bound, so the encoding does not reveal the magnitude.
        let full = Zeroizing::new(self.value.to_be_bytes());
        let bytes: &[u8] = full.as_ref();
        let len = (self.bits as usize).div_ceil(8);
        serializer.serialize_bytes(&bytes[MODULUS_BYTES - len..])
    }
}

impl<'de> Deserialize<'de> for Exponent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = Zeroizing::new(deserializer.deserialize_bytes(BytesVisitor)?);
        if bytes.len() > MODULUS_BYTES {
            return Err(de::Error::custom(GroupError::TooLong));
        }
        Ok(Exponent::from_be_bytes(&bytes))
    }
}
