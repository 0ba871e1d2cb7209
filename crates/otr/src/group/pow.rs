//! Modular exponentiation: constant time for secret exponents (a fixed-base table for g and
//! fixed windows with masked look-ups), variable time for public ones (proof checks).

use std::sync::OnceLock;

use crypto_bigint::{Word, U1536};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

use super::{Element, Exponent, Fp, MODULUS_BITS};

/// Window width in bits of the fixed-base table and of the multi-exponentiation.
const WINDOW: usize = 4;
/// Entries per window.
const WINDOW_SIZE: usize = 1 << WINDOW;
/// Number of windows covering a 1536-bit exponent.
const WINDOWS: usize = MODULUS_BITS as usize / WINDOW;

/// Fixed-base table for g = 2: row i holds g^(j * 16^i) for j in 0..16.
fn g_table() -> &'static [[Fp; WINDOW_SIZE]] {
    static TABLE: OnceLock<Vec<[Fp; WINDOW_SIZE]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rows = Vec::with_capacity(WINDOWS);
        let mut base = Fp::new(&U1536::from_u8(2));
        for _ in 0..WINDOWS {
            let mut row = [Fp::ONE; WINDOW_SIZE];
            for j in 1..WINDOW_SIZE {
                row[j] = row[j - 1].mul(&base);
            }
            base = row[WINDOW_SIZE - 1].mul(&base);
            rows.push(row);
        }
        rows
    })
}

/// Selects `row[digit]` by scanning every entry with masks (constant time in `digit`).
fn ct_lookup(row: &[Fp; WINDOW_SIZE], digit: u8) -> Fp {
    let mut out = [0 as Word; U1536::LIMBS];
    for (j, entry) in row.iter().enumerate() {
        let hit = (j as u8).ct_eq(&digit);
        for (o, w) in out.iter_mut().zip(entry.as_montgomery().as_words().iter()) {
            o.conditional_assign(w, hit);
        }
    }
    let r = Fp::from_montgomery(U1536::from_words(out));
    out.zeroize();
    r
}

/// g^e for the generator g = 2, constant time in e (fixed-base windowed table).
pub fn g_pow(e: &Exponent) -> Element {
    let table = g_table();
    let mut acc = Fp::ONE;
    for (i, row) in table.iter().enumerate().take(e.windows()) {
        let mut digit = e.nibble(i);
        let mut t = ct_lookup(row, digit);
        acc = acc.mul(&t);
        digit.zeroize();
        t.as_montgomery_mut().as_mut_words().zeroize();
    }
    Element(acc)
}

/// base^e, constant time in e (fixed 4-bit windows with masked look-ups).
pub fn pow(base: &Element, e: &Exponent) -> Element {
    Element(base.0.pow_bounded_exp(&e.value, e.bits))
}

/// g^e for a public exponent e (variable time).
pub fn g_pow_vartime(e: &Exponent) -> Element {
    let table = g_table();
    let mut acc = Fp::ONE;
    for (i, row) in table.iter().enumerate().take(e.windows()) {
        let digit = e.nibble(i) as usize;
        if digit != 0 {
            acc = acc.mul(&row[digit]);
        }
    }
    Element(acc)
}

/// The product of base_i^e_i for public exponents (variable time, shared squarings).
///
/// A term whose base is the generator may be passed as `None` to use the fixed-base table.
pub fn multi_pow_vartime(terms: &[(Option<&Element>, &Exponent)]) -> Element {
    let mut acc = Fp::ONE;
    let mut var_terms: Vec<([Fp; WINDOW_SIZE], &Exponent)> = Vec::with_capacity(terms.len());
    for (base, e) in terms {
        match base {
            None => acc = acc.mul(&g_pow_vartime(e).0),
            Some(b) => {
                let mut row = [Fp::ONE; WINDOW_SIZE];
                for j in 1..WINDOW_SIZE {
                    row[j] = row[j - 1].mul(&b.0);
                }
                var_terms.push((row, e));
            }
        }
    }
    let windows = var_terms
        .iter()
        .map(|(_, e)| e.windows())
        .max()
        .unwrap_or(0);
    let mut v = Fp::ONE;
    let mut started = false;
    for i in (0..windows).rev() {
        if started {
            v = v.square_repeat_vartime(WINDOW as u32);
        }
        for (row, e) in &var_terms {
            if i < e.windows() {
                let digit = e.nibble(i) as usize;
                if digit != 0 {
                    v = v.mul(&row[digit]);
                    started = true;
                }
            }
        }
    }
    Element(acc.mul(&v))
}

/// base^e for a public exponent e (variable time).
pub fn pow_vartime(base: &Element, e: &Exponent) -> Element {
    multi_pow_vartime(&[(Some(base), e)])
}

impl Exponent {
    /// The 4-bit digit at window `i` (bits 4i..4i+4) of the value.
    fn nibble(&self, i: usize) -> u8 {
        let bit = i * WINDOW;
        let word = self.value.as_words()[bit / Word::BITS as usize];
        ((word >> (bit % Word::BITS as usize)) & 0xf) as u8
    }

    /// Number of 4-bit windows covering the bit bound.
    fn windows(&self) -> usize {
        (self.bits as usize).div_ceil(WINDOW)
    }
}
