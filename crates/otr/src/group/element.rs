//! Group elements: residues mod p in Montgomery form, range-checked when received.

use std::fmt;

use crypto_bigint::U1536;
use serde::de;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

use super::{
    modulus, significant, uint_from_be, uint_to_be_minimal, wipe, BytesVisitor, Fp, GroupError,
};

/// An element of the multiplicative group mod p, zeroized on drop.
///
/// Values decoded from the network are checked to lie in 2..=p-2; values computed locally are
/// any non-zero residue.
#[derive(Clone, PartialEq, Eq)]
pub struct Element(pub(super) Fp);

impl Drop for Element {
    fn drop(&mut self) {
        self.0.as_montgomery_mut().as_mut_words().zeroize();
    }
}

impl Zeroize for Element {
    fn zeroize(&mut self) {
        self.0.as_montgomery_mut().as_mut_words().zeroize();
    }
}

impl fmt::Debug for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Element(<1536-bit value>)")
    }
}

impl Element {
    /// The generator g = 2.
    pub fn generator() -> Element {
        Element(Fp::new(&U1536::from_u8(2)))
    }

    /// Decodes a received value and checks 2 <= v <= p-2 (leading zero bytes are allowed).
    pub fn from_be_bytes(bytes: &[u8]) -> Result<Element, GroupError> {
        let bytes = significant(bytes)?;
        let mut v = uint_from_be(bytes);
        let p_minus_2 = modulus().wrapping_sub(&U1536::from_u8(2));
        let ok = v.cmp_vartime(&U1536::from_u8(2)) != core::cmp::Ordering::Less
            && v.cmp_vartime(&p_minus_2) != core::cmp::Ordering::Greater;
        if !ok {
            wipe(&mut v);
            return Err(GroupError::ElementOutOfRange);
        }
        let e = Element(Fp::new(&v));
        wipe(&mut v);
        Ok(e)
    }

    /// Minimal big-endian bytes of the value, as the body of an OTR MPI.
    pub fn to_be_bytes(&self) -> Vec<u8> {
        self.to_be_bytes_secret().to_vec()
    }

    /// Minimal big-endian bytes, zeroized on drop (for secrets such as a DH shared value).
    pub fn to_be_bytes_secret(&self) -> Zeroizing<Vec<u8>> {
        let mut v = self.0.retrieve();
        let out = uint_to_be_minimal(&v);
        wipe(&mut v);
        out
    }

    /// The product `self * other mod p`.
    pub fn mul(&self, other: &Element) -> Element {
        Element(self.0.mul(&other.0))
    }

    /// The quotient `self / other mod p` (constant time).
    pub fn div(&self, other: &Element) -> Element {
        // Every non-zero residue mod the prime p is invertible; zero never occurs in an Element.
        let inv = other.0.invert().into_option().unwrap_or(Fp::ZERO);
        Element(self.0.mul(&inv))
    }
}

impl Serialize for Element {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.to_be_bytes_secret())
    }
}

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = Zeroizing::new(deserializer.deserialize_bytes(BytesVisitor)?);
        let sig = significant(&bytes).map_err(de::Error::custom)?;
        let mut v = uint_from_be(sig);
        // Stored state may hold any locally computed residue 1..p-1.
        let ok = !bool::from(v.is_zero()) && v.cmp_vartime(&modulus()) == core::cmp::Ordering::Less;
        let out = if ok {
            Ok(Element(Fp::new(&v)))
        } else {
            Err(de::Error::custom(GroupError::ElementOutOfRange))
        };
        wipe(&mut v);
        out
    }
}
