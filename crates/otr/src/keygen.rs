//! DSA-1024/160 key generation for OTR (versions 2 and 3 use DSA with L = 1024, N = 160).
//!
//! Domain parameters are made the usual way: a random 160-bit prime `q`, then `p = k·2q + 1`
//! for consecutive `k` from a random start until `p` is a 1024-bit prime, then `g = h^((p-1)/q)`.
//! Candidates for `p` are first sieved by the small primes below [`SIEVE_LIMIT`] (about nine
//! in ten go without a modular exponentiation), and only the rest get Miller–Rabin and
//! Lucas (BPSW, crypto-primes). The private exponent `x` is uniform in `[1, q)` and
//! `y = g^x mod p` is computed in constant time. Primality work is on public values and may
//! take variable time.

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, NonZero, RandomBits, RandomMod, Resize};
use crypto_primes::{is_prime, random_prime, Flavor};
use rand::CryptoRng;
use std::sync::OnceLock;
use zeroize::Zeroize;

/// The bit length of `p`.
pub const L: u32 = 1024;
/// The bit length of `q`.
pub const N: u32 = 160;
/// Candidates for `p` are sieved by the odd primes below this.
pub const SIEVE_LIMIT: u32 = 1 << 15;
/// Consecutive candidates sieved at once (a prime is expected about every 355).
const WINDOW: usize = 4096;

/// A DSA key: the domain parameters, the public `y` and the private `x`.
pub struct DsaKey {
    /// The 1024-bit prime modulus.
    pub p: BoxedUint,
    /// The 160-bit prime order of the subgroup.
    pub q: BoxedUint,
    /// The generator of the subgroup of order `q`.
    pub g: BoxedUint,
    /// The public key `g^x mod p`.
    pub y: BoxedUint,
    /// The private key, wiped on drop.
    pub x: BoxedUint,
}

impl Drop for DsaKey {
    fn drop(&mut self) {
        self.x.zeroize();
    }
}

/// The odd primes below [`SIEVE_LIMIT`].
fn small_primes() -> &'static [u32] {
    static PRIMES: OnceLock<Vec<u32>> = OnceLock::new();
    PRIMES.get_or_init(|| {
        let n = SIEVE_LIMIT as usize;
        let mut composite = vec![false; n];
        let mut out = Vec::new();
        for i in 3..n {
            if composite[i] || i % 2 == 0 {
                continue;
            }
            out.push(i as u32);
            let mut j = i * i;
            while j < n {
                composite[j] = true;
                j += i;
            }
        }
        out
    })
}

/// `v mod m` for a small `m`.
fn rem_small(v: &BoxedUint, m: u32) -> u64 {
    let m = u64::from(m);
    v.to_be_bytes()
        .iter()
        .fold(0u64, |r, b| ((r << 8) | u64::from(*b)) % m)
}

/// The inverse of `a` modulo the prime `m` (`a` not divisible by `m`).
fn inv_mod(a: u64, m: u64) -> u64 {
    // Fermat: a^(m-2) mod m; m < 2^15, so the products fit in u64.
    let (mut base, mut e, mut acc) = (a % m, m - 2, 1u64);
    while e > 0 {
        if e & 1 == 1 {
            acc = acc * base % m;
        }
        base = base * base % m;
        e >>= 1;
    }
    acc
}

/// Which of the `WINDOW` candidates `start + i·step` a small prime divides.
fn sieve(start: &BoxedUint, step: &BoxedUint) -> Vec<bool> {
    let mut out = vec![false; WINDOW];
    for &s in small_primes() {
        let m = u64::from(s);
        let r = rem_small(start, s);
        let d = rem_small(step, s);
        if d == 0 {
            if r == 0 {
                return vec![true; WINDOW];
            }
            continue;
        }
        // start + i·d ≡ 0 (mod s)  ⇔  i ≡ -r·d⁻¹ (mod s)
        let mut i = ((m - r) % m * inv_mod(d, m) % m) as usize;
        while i < WINDOW {
            out[i] = true;
            i += s as usize;
        }
    }
    out
}

/// A random 1024-bit prime `p` with `q | p - 1`.
fn prime_p<R: CryptoRng + ?Sized>(rng: &mut R, q: &BoxedUint) -> BoxedUint {
    let step = q.clone().resize(L).wrapping_shl(1);
    let step_nz = NonZero::new(step.clone()).expect("2q is not zero");
    let top = BoxedUint::one().resize(L).wrapping_shl(L - 1);
    loop {
        // A random start with the top bit set, made ≡ 1 (mod 2q).
        let m = BoxedUint::random_bits(rng, L).bitor(&top);
        let mut p = m
            .wrapping_sub(m.rem_vartime(&step_nz))
            .wrapping_add(BoxedUint::one());
        for composite in sieve(&p, &step) {
            if p.bits() != L {
                break;
            }
            if !composite && is_prime(Flavor::Any, &p) {
                return p;
            }
            p = p.wrapping_add(&step);
        }
    }
}

/// A fresh DSA-1024/160 key from `rng`.
pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> DsaKey {
    let q: BoxedUint = random_prime(rng, Flavor::Any, N);
    let p = prime_p(rng, &q);
    let params = BoxedMontyParams::new_vartime(
        crypto_bigint::Odd::new(p.clone()).expect("p is an odd prime"),
    );
    let q_wide = NonZero::new((&q).resize(L)).expect("q is a prime");
    let e = p
        .wrapping_sub(BoxedUint::one())
        .wrapping_div_vartime(&q_wide);
    let mut h = BoxedUint::from(2u8).resize(L);
    let g = loop {
        let g = BoxedMontyForm::new(h.clone(), &params).pow(&e).retrieve();
        if !bool::from(g.is_one()) {
            break g;
        }
        h = h.wrapping_add(BoxedUint::one());
    };
    let q_nz = NonZero::new(q.clone()).expect("q is a prime");
    let x = loop {
        let x = BoxedUint::random_mod_vartime(rng, &q_nz);
        if !bool::from(x.is_zero()) {
            break x;
        }
    };
    let mut x_wide = x.clone().resize(L);
    let y = BoxedMontyForm::new(g.clone(), &params)
        .pow(&x_wide)
        .retrieve();
    x_wide.zeroize();
    DsaKey { p, q, g, y, x }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sieve_marks_exactly_the_multiples_of_small_primes() {
        let start = BoxedUint::from(1_000_001u32).resize(64);
        let step = BoxedUint::from(2 * 7919u32).resize(64);
        let marks = sieve(&start, &step);
        for (i, marked) in marks.iter().enumerate().take(500) {
            let v = 1_000_001u64 + i as u64 * 2 * 7919;
            let small_factor = small_primes()
                .iter()
                .any(|&s| v % u64::from(s) == 0 && v != u64::from(s));
            assert_eq!(*marked, small_factor, "candidate {i} = {v}");
        }
    }

    #[test]
    fn keys_are_valid_dsa_1024_160() {
        let k = generate(&mut rand::rng());
        assert_eq!((k.p.bits(), k.q.bits()), (L, N));
        assert!(is_prime(Flavor::Any, &k.p) && is_prime(Flavor::Any, &k.q));
        let q_wide = NonZero::new(k.q.clone().resize(L)).unwrap();
        assert!(bool::from(
            k.p.wrapping_sub(BoxedUint::one())
                .rem_vartime(&q_wide)
                .is_zero()
        ));
        let params = BoxedMontyParams::new_vartime(crypto_bigint::Odd::new(k.p.clone()).unwrap());
        let g_q = BoxedMontyForm::new(k.g.clone(), &params)
            .pow(&k.q)
            .retrieve();
        assert!(bool::from(g_q.is_one()), "g has order q");
        assert!(!bool::from(k.g.is_one()));
        // The key the OTR engine builds from these components signs and verifies.
        let be = |v: &BoxedUint| {
            let b = v.to_be_bytes();
            let s = b.iter().position(|x| *x != 0).unwrap_or(b.len());
            b[s..].to_vec()
        };
        let key = crate::PrivateKey::from_components(
            &be(&k.p),
            &be(&k.q),
            &be(&k.g),
            &be(&k.y),
            &be(&k.x),
        );
        assert!(key.is_ok());
    }
}
