//! DSA arithmetic for OTR keys: signing constant time in the secrets (key x, nonce k) with
//! crypto-bigint; verification with a variable-time multi-exponentiation, as every value it
//! touches (p, q, g, y, r, s, the MAC) is public.

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, NonZero, Odd};
use num_bigint::BigUint;
use num_traits::{One, Zero};
use zeroize::{Zeroize, Zeroizing};

use super::error::{random_bytes, OtrError, Result};

/// A DSA public key (p, q, g, y) prepared for fast arithmetic.
#[derive(Clone)]
pub struct DsaPublic {
    params: BoxedMontyParams,
    p: BigUint,
    q: BigUint,
    q_odd: Odd<BoxedUint>,
    q_bits: u32,
    g: BoxedMontyForm,
    y: BoxedMontyForm,
    /// g * y mod p, for the joint digits of the multi-exponentiation.
    gy: BoxedMontyForm,
}

fn uint(bytes: &[u8], bits: u32) -> Result<BoxedUint> {
    BoxedUint::from_be_slice(bytes, bits).map_err(|_| OtrError::Key("value"))
}

/// Bits of precision (whole 64-bit limbs) able to hold `bytes` bytes.
fn precision(bytes: usize) -> u32 {
    (bytes.div_ceil(8) * 64).max(64) as u32
}

impl DsaPublic {
    /// Checks and prepares p, q, g, y (minimal big-endian): p and q odd, q divides p - 1,
    /// 1 < g < p, 1 < y < p, and y of order q (variable time: all values are public).
    pub fn new(p: &[u8], q: &[u8], g: &[u8], y: &[u8]) -> Result<DsaPublic> {
        let key = DsaPublic::new_stored(p, q, g, y)?;
        let zero = BigUint::zero();
        let unit = BoxedMontyForm::one(&key.params);
        if key.multi_pow(&zero, &key.q) != unit {
            return Err(OtrError::Key("y not of order q"));
        }
        Ok(key)
    }

    /// As [`DsaPublic::new`] without the order check (a 1024-bit power): for a key this
    /// crate checked when it was made or imported, and serialised.
    pub(crate) fn new_stored(p: &[u8], q: &[u8], g: &[u8], y: &[u8]) -> Result<DsaPublic> {
        let (pb, qb) = (BigUint::from_bytes_be(p), BigUint::from_bytes_be(q));
        let (gb, yb) = (BigUint::from_bytes_be(g), BigUint::from_bytes_be(y));
        let one = BigUint::one();
        if !pb.bit(0) || !qb.bit(0) || qb <= one || pb <= qb {
            return Err(OtrError::Key("p, q"));
        }
        if !((&pb - 1u32) % &qb).is_zero() {
            return Err(OtrError::Key("q does not divide p - 1"));
        }
        if gb <= one || gb >= pb || yb <= one || yb >= pb {
            return Err(OtrError::Key("g or y out of range"));
        }
        let pbits = precision(p.len());
        let p_odd = Odd::new(uint(p, pbits)?)
            .into_option()
            .ok_or(OtrError::Key("p"))?;
        let params = BoxedMontyParams::new_vartime(p_odd);
        let q_odd = Odd::new(uint(q, precision(q.len()))?)
            .into_option()
            .ok_or(OtrError::Key("q"))?;
        let g = BoxedMontyForm::new(uint(g, pbits)?, &params);
        let y = BoxedMontyForm::new(uint(y, pbits)?, &params);
        let gy = g.mul(&y);
        Ok(DsaPublic {
            params,
            q_bits: qb.bits() as u32,
            p: pb,
            q: qb,
            q_odd,
            g,
            y,
            gy,
        })
    }

    /// g^a * y^b mod p, variable time (Shamir's trick: shared squarings, joint digits).
    fn multi_pow(&self, a: &BigUint, b: &BigUint) -> BoxedMontyForm {
        let bits = a.bits().max(b.bits());
        let mut acc = BoxedMontyForm::one(&self.params);
        for i in (0..bits).rev() {
            acc = acc.square();
            match (a.bit(i), b.bit(i)) {
                (true, true) => acc = acc.mul(&self.gy),
                (true, false) => acc = acc.mul(&self.g),
                (false, true) => acc = acc.mul(&self.y),
                (false, false) => {}
            }
        }
        acc
    }

    /// Whether `x` is this key's secret: g^x = y (constant time in x).
    pub fn is_secret(&self, x: &DsaSecret) -> bool {
        self.g.pow_bounded_exp(&x.0, self.q_bits) == self.y
    }

    /// Bytes of q (the length of r and of s in an OTR signature).
    pub fn q_len(&self) -> usize {
        self.q_bits.div_ceil(8) as usize
    }

    /// The hash `h` as an integer reduced mod q (OTR signs the MAC mod q).
    pub fn reduce(&self, h: &[u8]) -> BigUint {
        BigUint::from_bytes_be(h) % &self.q
    }

    /// Verifies (r, s) over the reduced hash z: 0 < r, s < q and (g^u1 y^u2 mod p) mod q = r.
    pub fn verify(&self, z: &BigUint, r: &[u8], s: &[u8]) -> bool {
        let (r, s) = (BigUint::from_bytes_be(r), BigUint::from_bytes_be(s));
        if r.is_zero() || s.is_zero() || r >= self.q || s >= self.q {
            return false;
        }
        let Some(w) = s.modinv(&self.q) else {
            return false;
        };
        let u1 = (z * &w) % &self.q;
        let u2 = (&r * &w) % &self.q;
        let v = BigUint::from_bytes_be(&self.multi_pow(&u1, &u2).retrieve().to_be_bytes());
        debug_assert!(v < self.p);
        v % &self.q == r
    }

    /// Signs the reduced hash z with the secret x (constant time in x and in the nonce k).
    pub fn sign(&self, x: &DsaSecret, z: &BigUint) -> Result<(Vec<u8>, Vec<u8>)> {
        let qprec = self.q_odd.bits_precision();
        let q_nz: NonZero<BoxedUint> = self.q_odd.as_nz_ref().clone();
        let z = uint(&z.to_bytes_be(), qprec)?;
        for _ in 0..16 {
            // k uniform in [0, q) up to 2^-64, from 64 extra random bits.
            let mut buf = Zeroizing::new(vec![0u8; self.q_len() + 8]);
            random_bytes(&mut buf)?;
            let mut wide = uint(&buf, precision(buf.len()))?;
            let mut k = wide.rem(&q_nz);
            wide.zeroize();
            if bool::from(k.is_zero()) {
                continue;
            }
            let mut k_inv = Option::<BoxedUint>::from(k.invert_odd_mod(&self.q_odd))
                .ok_or(OtrError::Signature)?;
            let gk = self.g.pow_bounded_exp(&k, self.q_bits).retrieve();
            k.zeroize();
            let r = gk.rem(&q_nz);
            let mut xr = x.0.mul_mod(&r, &q_nz);
            let mut t = xr.add_mod(&z, &q_nz);
            let s = k_inv.mul_mod(&t, &q_nz);
            xr.zeroize();
            t.zeroize();
            k_inv.zeroize();
            if bool::from(r.is_zero()) || bool::from(s.is_zero()) {
                continue;
            }
            return Ok((fixed(&r, self.q_len()), fixed(&s, self.q_len())));
        }
        Err(OtrError::Signature)
    }
}

/// Big-endian bytes of v in exactly `len` bytes (v < 2^(8 len)).
fn fixed(v: &BoxedUint, len: usize) -> Vec<u8> {
    let b = v.to_be_bytes();
    let b = &b[b.len().saturating_sub(len)..];
    let mut out = vec![0u8; len - b.len()];
    out.extend_from_slice(b);
    out
}

/// The secret x of a DSA key, at the precision of q; zeroized on drop.
pub struct DsaSecret(BoxedUint);

impl DsaSecret {
    /// The secret from big-endian bytes, checked 0 < x < q.
    pub fn new(public: &DsaPublic, x: &[u8]) -> Result<DsaSecret> {
        let v = uint(x, public.q_odd.bits_precision())?;
        let ok = !bool::from(v.is_zero()) && v < *public.q_odd.as_ref();
        if !ok {
            return Err(OtrError::Key("x"));
        }
        Ok(DsaSecret(v))
    }

    /// Big-endian bytes of x, minimal (for storage).
    pub fn to_be_bytes(&self) -> Zeroizing<Vec<u8>> {
        let b = Zeroizing::new(self.0.to_be_bytes().to_vec());
        let start = b.iter().position(|&v| v != 0).unwrap_or(b.len());
        Zeroizing::new(b[start..].to_vec())
    }
}

impl Drop for DsaSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Clone for DsaSecret {
    fn clone(&self) -> DsaSecret {
        DsaSecret(self.0.clone())
    }
}
