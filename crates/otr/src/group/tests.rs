//! Tests of the group arithmetic against num-bigint and known values.

use super::*;
use num_bigint::BigUint;
use serde::{Serialize, Serializer};

fn p_big() -> BigUint {
    BigUint::parse_bytes(P_HEX.as_bytes(), 16).unwrap()
}

fn big(bytes: &[u8]) -> BigUint {
    BigUint::from_bytes_be(bytes)
}

fn random_element() -> Element {
    g_pow(&Exponent::random(1536))
}

#[test]
fn q_is_half_of_p_minus_one() {
    assert_eq!(big(&order().to_be_bytes()) * 2u32 + 1u32, p_big());
}

#[test]
fn g_pow_matches_num_bigint() {
    let p = p_big();
    for bits in [0usize, 1, 7, 256, 320, 1535, 1536] {
        let e = Exponent::random(bits);
        let want = BigUint::from(2u32).modpow(&big(&e.to_be_bytes()), &p);
        assert_eq!(big(&g_pow(&e).to_be_bytes()), want, "bits {bits}");
        assert_eq!(big(&g_pow_vartime(&e).to_be_bytes()), want, "bits {bits}");
    }
}

#[test]
fn pow_matches_num_bigint() {
    let p = p_big();
    for bits in [1usize, 256, 320, 1536] {
        let b = random_element();
        let e = Exponent::random(bits);
        let want = big(&b.to_be_bytes()).modpow(&big(&e.to_be_bytes()), &p);
        assert_eq!(big(&pow(&b, &e).to_be_bytes()), want);
        assert_eq!(big(&pow_vartime(&b, &e).to_be_bytes()), want);
    }
}

#[test]
fn multi_pow_matches_num_bigint() {
    let p = p_big();
    let (b1, b2) = (random_element(), random_element());
    let (e0, e1, e2) = (
        Exponent::random(1536),
        Exponent::random(256),
        Exponent::random(1535),
    );
    let got = multi_pow_vartime(&[(None, &e0), (Some(&b1), &e1), (Some(&b2), &e2)]);
    let want = BigUint::from(2u32).modpow(&big(&e0.to_be_bytes()), &p)
        * big(&b1.to_be_bytes()).modpow(&big(&e1.to_be_bytes()), &p)
        * big(&b2.to_be_bytes()).modpow(&big(&e2.to_be_bytes()), &p)
        % &p;
    assert_eq!(big(&got.to_be_bytes()), want);
}

#[test]
fn mul_div_and_sub_mul_mod_q_match_num_bigint() {
    let p = p_big();
    let q = big(&order().to_be_bytes());
    let (a, b) = (random_element(), random_element());
    let (ab, a_b) = (big(&a.to_be_bytes()), big(&b.to_be_bytes()));
    assert_eq!(big(&a.mul(&b).to_be_bytes()), &ab * &a_b % &p);
    assert_eq!(big(&a.div(&b).mul(&b).to_be_bytes()), ab);
    for _ in 0..4 {
        let (r, x, c) = (
            Exponent::random(1536),
            Exponent::random(1536),
            Exponent::random(256),
        );
        let (rb, xb, cb) = (
            big(&r.to_be_bytes()),
            big(&x.to_be_bytes()),
            big(&c.to_be_bytes()),
        );
        let want = ((&rb % &q) + &q - (&xb * &cb % &q)) % &q;
        assert_eq!(
            big(&Exponent::sub_mul_mod_q(&r, &x, &c).to_be_bytes()),
            want
        );
    }
}

#[test]
fn long_exponent_bytes_are_reduced_mod_q() {
    let q = big(&order().to_be_bytes());
    let bytes: Vec<u8> = (0..500u32).map(|i| (i * 7 + 3) as u8).collect();
    let e = Exponent::from_be_bytes(&bytes);
    assert_eq!(big(&e.to_be_bytes()), big(&bytes) % q);
}

#[test]
fn element_range_edges() {
    let p = p_big();
    let enc = |v: &BigUint| v.to_bytes_be();
    let two = BigUint::from(2u32);
    assert_eq!(
        Element::from_be_bytes(&[]),
        Err(GroupError::ElementOutOfRange)
    );
    assert_eq!(
        Element::from_be_bytes(&[0]),
        Err(GroupError::ElementOutOfRange)
    );
    assert_eq!(
        Element::from_be_bytes(&[1]),
        Err(GroupError::ElementOutOfRange)
    );
    assert_eq!(Element::from_be_bytes(&[2]).unwrap().to_be_bytes(), vec![2]);
    assert_eq!(
        Element::from_be_bytes(&[0, 0, 2]).unwrap().to_be_bytes(),
        vec![2]
    );
    let pm2 = &p - &two;
    assert_eq!(
        big(&Element::from_be_bytes(&enc(&pm2)).unwrap().to_be_bytes()),
        pm2
    );
    for bad in [&p - 1u32, p.clone(), &p + 1u32, BigUint::from(1u32) << 1536] {
        assert!(Element::from_be_bytes(&enc(&bad)).is_err());
    }
    assert_eq!(
        Element::from_be_bytes(&[0xff; 193]),
        Err(GroupError::TooLong)
    );
    assert_eq!(
        Element::from_be_bytes(&vec![0xff; 100_000]),
        Err(GroupError::TooLong)
    );
}

#[test]
fn exponent_range_edges() {
    let q = big(&order().to_be_bytes());
    assert!(Exponent::from_be_bytes_checked(&[]).is_err());
    assert!(Exponent::from_be_bytes_checked(&[0, 0]).is_err());
    assert!(Exponent::from_be_bytes_checked(&[1]).is_ok());
    assert!(Exponent::from_be_bytes_checked(&(&q - 1u32).to_bytes_be()).is_ok());
    assert!(Exponent::from_be_bytes_checked(&q.to_bytes_be()).is_err());
    assert!(Exponent::from_be_bytes_checked(&[0xff; 193]).is_err());
}

#[test]
fn minimal_encoding() {
    let e = Exponent::from_be_bytes(&[0, 0, 1, 2]);
    assert_eq!(&e.to_be_bytes()[..], &[1, 2]);
    assert!(Exponent::from_be_bytes(&[]).to_be_bytes().is_empty());
    let x = random_element();
    assert_ne!(x.to_be_bytes()[0], 0);
}

#[test]
fn serde_round_trip() {
    let cfg = bincode::config::standard();
    let x = random_element();
    let e = Exponent::random(320);
    let bytes = bincode::serde::encode_to_vec((&x, &e), cfg).unwrap();
    let ((x2, e2), _): ((Element, Exponent), usize) =
        bincode::serde::decode_from_slice(&bytes, cfg).unwrap();
    assert_eq!(x, x2);
    assert!(e == e2);
    assert_eq!(e2.bits(), 320);
    // A zero element in stored state is refused.
    let zero = bincode::serde::encode_to_vec(serde_bytes_of(&[0u8]), cfg).unwrap();
    assert!(bincode::serde::decode_from_slice::<Element, _>(&zero, cfg).is_err());
}

/// Wraps bytes so serde writes them as a byte string.
fn serde_bytes_of(b: &[u8]) -> impl Serialize + '_ {
    struct B<'a>(&'a [u8]);
    impl Serialize for B<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }
    B(b)
}
