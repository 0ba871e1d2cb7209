//! The computations of each SMP step and the checks on each received message (spec "SMP state
//! machine"; the same order of values and hash versions as libotr's sm.c).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::tlv::{challenge, decode_mpis, element, encode_mpis, response, PayloadError};
use crate::group::{g_pow, multi_pow_vartime, pow, Element, Exponent};

/// Bits of the random exponents, as libotr (SM_MOD_LEN_BITS).
const RANDOM_BITS: usize = 1536;

/// Why a received SMP message is refused (the peer is treated as cheating).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The payload is malformed or a value is out of range.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// A zero-knowledge proof does not verify.
    #[error("SMP proof {0} does not verify")]
    Proof(&'static str),
}

/// A fresh random exponent.
fn random() -> Exponent {
    Exponent::random(RANDOM_BITS)
}

/// SHA256(version || MPI(a) [|| MPI(b)]) as an exponent (the spec's SMP hash function).
fn hash(version: u8, a: &Element, b: Option<&Element>) -> Exponent {
    let mut h = Sha256::new();
    h.update([version]);
    for v in std::iter::once(a).chain(b) {
        let bytes = v.to_be_bytes();
        h.update((bytes.len() as u32).to_be_bytes());
        h.update(&bytes);
    }
    let digest: [u8; 32] = h.finalize().into();
    Exponent::from_be_bytes(&digest)
}

/// Proof of knowledge of log_g(x): returns (c, D) for the secret exponent `a` with x = g^a.
fn prove_know_log(version: u8, a: &Exponent) -> (Exponent, Exponent) {
    let r = random();
    let c = hash(version, &g_pow(&r), None);
    let d = Exponent::sub_mul_mod_q(&r, a, &c);
    (c, d)
}

/// Checks c = SHA256(version, g^D x^c).
fn check_know_log(version: u8, c: &Exponent, d: &Exponent, x: &Element) -> Result<(), CheckError> {
    let t = multi_pow_vartime(&[(None, d), (Some(x), c)]);
    if hash(version, &t, None) == *c {
        Ok(())
    } else {
        Err(CheckError::Proof("of knowledge of a logarithm"))
    }
}

/// Proof that P = g3^r4 and Q = g^r4 g2^x were built honestly: returns (cP, D5, D6).
fn prove_equal_coords(
    version: u8,
    g2: &Element,
    g3: &Element,
    r4: &Exponent,
    x: &Exponent,
) -> (Exponent, Exponent, Exponent) {
    let (r5, r6) = (random(), random());
    let t1 = pow(g3, &r5);
    let t2 = g_pow(&r5).mul(&pow(g2, &r6));
    let c = hash(version, &t1, Some(&t2));
    let d5 = Exponent::sub_mul_mod_q(&r5, r4, &c);
    let d6 = Exponent::sub_mul_mod_q(&r6, x, &c);
    (c, d5, d6)
}

/// Checks cP = SHA256(version, g3^D5 P^cP, g^D5 g2^D6 Q^cP).
#[allow(clippy::too_many_arguments)]
fn check_equal_coords(
    version: u8,
    c: &Exponent,
    d5: &Exponent,
    d6: &Exponent,
    p: &Element,
    q: &Element,
    g2: &Element,
    g3: &Element,
) -> Result<(), CheckError> {
    let t1 = multi_pow_vartime(&[(Some(g3), d5), (Some(p), c)]);
    let t2 = multi_pow_vartime(&[(None, d5), (Some(g2), d6), (Some(q), c)]);
    if hash(version, &t1, Some(&t2)) == *c {
        Ok(())
    } else {
        Err(CheckError::Proof("that P and Q were built honestly"))
    }
}

/// Proof that R = qab^a3 where g3o = g^a3: returns (cR, D7).
fn prove_equal_logs(version: u8, qab: &Element, a3: &Exponent) -> (Exponent, Exponent) {
    let r7 = random();
    let c = hash(version, &g_pow(&r7), Some(&pow(qab, &r7)));
    let d7 = Exponent::sub_mul_mod_q(&r7, a3, &c);
    (c, d7)
}

/// Checks cR = SHA256(version, g^D7 g3o^cR, qab^D7 R^cR).
fn check_equal_logs(
    version: u8,
    c: &Exponent,
    d7: &Exponent,
    g3o: &Element,
    qab: &Element,
    r: &Element,
) -> Result<(), CheckError> {
    let t1 = multi_pow_vartime(&[(None, d7), (Some(g3o), c)]);
    let t2 = multi_pow_vartime(&[(Some(qab), d7), (Some(r), c)]);
    if hash(version, &t1, Some(&t2)) == *c {
        Ok(())
    } else {
        Err(CheckError::Proof("that R was built honestly"))
    }
}

/// One value of an outgoing message.
enum Mpi<'a> {
    /// A group element.
    E(&'a Element),
    /// A public exponent (c or D).
    X(&'a Exponent),
}

/// Encodes values, in order, as an MPI array.
fn encode(values: &[Mpi<'_>]) -> Vec<u8> {
    let bytes: Vec<Vec<u8>> = values
        .iter()
        .map(|v| match v {
            Mpi::E(e) => e.to_be_bytes(),
            Mpi::X(x) => x.to_be_bytes().to_vec(),
        })
        .collect();
    let refs: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
    encode_mpis(&refs)
}

/// Initiator state after sending SMP message 1 (waiting for message 2).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMsg1 {
    x: Exponent,
    a2: Exponent,
    a3: Exponent,
}

/// Responder state after a verified SMP message 1 (waiting for the user's secret).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedMsg1 {
    g2a: Element,
    g3a: Element,
}

/// Responder state after sending SMP message 2 (waiting for message 3).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMsg2 {
    g3a: Element,
    g2: Element,
    g3: Element,
    b3: Exponent,
    pb: Element,
    qb: Element,
}

/// Initiator state after sending SMP message 3 (waiting for message 4).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMsg3 {
    g3b: Element,
    pa_pb: Element,
    qa_qb: Element,
    a3: Exponent,
}

/// Step 1 (initiator): picks a2, a3 and builds SMP message 1 for the secret x.
pub fn step1(x: Exponent) -> (SentMsg1, Vec<u8>) {
    let (a2, a3) = (random(), random());
    let (g2a, g3a) = (g_pow(&a2), g_pow(&a3));
    let (c2, d2) = prove_know_log(1, &a2);
    let (c3, d3) = prove_know_log(2, &a3);
    let payload = encode(&[
        Mpi::E(&g2a),
        Mpi::X(&c2),
        Mpi::X(&d2),
        Mpi::E(&g3a),
        Mpi::X(&c3),
        Mpi::X(&d3),
    ]);
    (SentMsg1 { x, a2, a3 }, payload)
}

/// Step 2a (responder): checks SMP message 1 (g2a, c2, D2, g3a, c3, D3).
pub fn step2a(payload: &[u8]) -> Result<ReceivedMsg1, CheckError> {
    let m = decode_mpis(payload, 6)?;
    let (g2a, c2, d2) = (element(m[0])?, challenge(m[1])?, response(m[2])?);
    let (g3a, c3, d3) = (element(m[3])?, challenge(m[4])?, response(m[5])?);
    check_know_log(1, &c2, &d2, &g2a)?;
    check_know_log(2, &c3, &d3, &g3a)?;
    Ok(ReceivedMsg1 { g2a, g3a })
}

/// Step 2b (responder): with the secret y, builds SMP message 2.
pub fn step2b(r: &ReceivedMsg1, y: &Exponent) -> (SentMsg2, Vec<u8>) {
    let (b2, b3, r4) = (random(), random(), random());
    let (g2b, g3b) = (g_pow(&b2), g_pow(&b3));
    let (c2, d2) = prove_know_log(3, &b2);
    let (c3, d3) = prove_know_log(4, &b3);
    let g2 = pow(&r.g2a, &b2);
    let g3 = pow(&r.g3a, &b3);
    let pb = pow(&g3, &r4);
    let qb = g_pow(&r4).mul(&pow(&g2, y));
    let (cp, d5, d6) = prove_equal_coords(5, &g2, &g3, &r4, y);
    let payload = encode(&[
        Mpi::E(&g2b),
        Mpi::X(&c2),
        Mpi::X(&d2),
        Mpi::E(&g3b),
        Mpi::X(&c3),
        Mpi::X(&d3),
        Mpi::E(&pb),
        Mpi::E(&qb),
        Mpi::X(&cp),
        Mpi::X(&d5),
        Mpi::X(&d6),
    ]);
    let state = SentMsg2 {
        g3a: r.g3a.clone(),
        g2,
        g3,
        b3,
        pb,
        qb,
    };
    (state, payload)
}

/// Step 3 (initiator): checks SMP message 2 and builds message 3.
pub fn step3(s: &SentMsg1, payload: &[u8]) -> Result<(SentMsg3, Vec<u8>), CheckError> {
    let m = decode_mpis(payload, 11)?;
    let (g2b, c2, d2) = (element(m[0])?, challenge(m[1])?, response(m[2])?);
    let (g3b, c3, d3) = (element(m[3])?, challenge(m[4])?, response(m[5])?);
    let (pb, qb) = (element(m[6])?, element(m[7])?);
    let (cp, d5, d6) = (challenge(m[8])?, response(m[9])?, response(m[10])?);
    check_know_log(3, &c2, &d2, &g2b)?;
    check_know_log(4, &c3, &d3, &g3b)?;
    let g2 = pow(&g2b, &s.a2);
    let g3 = pow(&g3b, &s.a3);
    check_equal_coords(5, &cp, &d5, &d6, &pb, &qb, &g2, &g3)?;

    let r4 = random();
    let pa = pow(&g3, &r4);
    let qa = g_pow(&r4).mul(&pow(&g2, &s.x));
    let (cp, d5, d6) = prove_equal_coords(6, &g2, &g3, &r4, &s.x);
    let qa_qb = qa.div(&qb);
    let ra = pow(&qa_qb, &s.a3);
    let (cr, d7) = prove_equal_logs(7, &qa_qb, &s.a3);
    let payload = encode(&[
        Mpi::E(&pa),
        Mpi::E(&qa),
        Mpi::X(&cp),
        Mpi::X(&d5),
        Mpi::X(&d6),
        Mpi::E(&ra),
        Mpi::X(&cr),
        Mpi::X(&d7),
    ]);
    let state = SentMsg3 {
        g3b,
        pa_pb: pa.div(&pb),
        qa_qb,
        a3: s.a3.clone(),
    };
    Ok((state, payload))
}

/// Step 4 (responder): checks SMP message 3, builds message 4 and tells whether x == y.
pub fn step4(s: &SentMsg2, payload: &[u8]) -> Result<(bool, Vec<u8>), CheckError> {
    let m = decode_mpis(payload, 8)?;
    let (pa, qa) = (element(m[0])?, element(m[1])?);
    let (cp, d5, d6) = (challenge(m[2])?, response(m[3])?, response(m[4])?);
    let (ra, cr, d7) = (element(m[5])?, challenge(m[6])?, response(m[7])?);
    check_equal_coords(6, &cp, &d5, &d6, &pa, &qa, &s.g2, &s.g3)?;
    let qa_qb = qa.div(&s.qb);
    check_equal_logs(7, &cr, &d7, &s.g3a, &qa_qb, &ra)?;

    let rb = pow(&qa_qb, &s.b3);
    let (cr, d7) = prove_equal_logs(8, &qa_qb, &s.b3);
    let payload = encode(&[Mpi::E(&rb), Mpi::X(&cr), Mpi::X(&d7)]);
    let rab = pow(&ra, &s.b3);
    Ok((rab == pa.div(&s.pb), payload))
}

/// Step 5 (initiator): checks SMP message 4 and tells whether x == y.
pub fn step5(s: &SentMsg3, payload: &[u8]) -> Result<bool, CheckError> {
    let m = decode_mpis(payload, 3)?;
    let (rb, cr, d7) = (element(m[0])?, challenge(m[1])?, response(m[2])?);
    check_equal_logs(8, &cr, &d7, &s.g3b, &s.qa_qb, &rb)?;
    let rab = pow(&rb, &s.a3);
    Ok(rab == s.pa_pb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smp::tlv::encode_mpis;

    #[test]
    fn hash_input_is_version_then_mpis() {
        let a = Element::from_be_bytes(&[1, 0]).unwrap();
        let b = Element::from_be_bytes(&[0, 2]).unwrap();
        let mut input = vec![7u8];
        input.extend_from_slice(&encode_mpis(&[&[1, 0], &[2]])[4..]);
        let want: [u8; 32] = Sha256::digest(&input).into();
        assert!(hash(7, &a, Some(&b)) == Exponent::from_be_bytes(&want));
        let one: [u8; 32] = Sha256::digest([3u8, 0, 0, 0, 2, 1, 0]).into();
        assert!(hash(3, &a, None) == Exponent::from_be_bytes(&one));
    }

    #[test]
    fn proofs_verify_and_reject_wrong_version() {
        let a = random();
        let x = g_pow(&a);
        let (c, d) = prove_know_log(1, &a);
        assert!(check_know_log(1, &c, &d, &x).is_ok());
        assert!(check_know_log(2, &c, &d, &x).is_err());
        let other = g_pow(&random());
        assert!(check_know_log(1, &c, &d, &other).is_err());
    }
}
