//! The TLV records of SMP (types 2 to 7) and their MPI-array payloads.

use crate::group::{Element, Exponent, GroupError};

/// A TLV record carried in an OTR data message.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Tlv {
    /// The record type (2 to 7 for SMP).
    pub typ: u16,
    /// The record value.
    pub value: Vec<u8>,
}

/// TLV type of SMP message 1.
pub const SMP1: u16 = 2;
/// TLV type of SMP message 2.
pub const SMP2: u16 = 3;
/// TLV type of SMP message 3.
pub const SMP3: u16 = 4;
/// TLV type of SMP message 4.
pub const SMP4: u16 = 5;
/// TLV type of the SMP abort message.
pub const SMP_ABORT: u16 = 6;
/// TLV type of SMP message 1 preceded by a NUL-terminated question.
pub const SMP1Q: u16 = 7;

impl Tlv {
    /// The SMP abort TLV (type 6, empty value).
    pub fn abort() -> Tlv {
        Tlv {
            typ: SMP_ABORT,
            value: Vec::new(),
        }
    }

    /// Whether this TLV belongs to SMP (types 2 to 7).
    pub fn is_smp(&self) -> bool {
        (SMP1..=SMP1Q).contains(&self.typ)
    }
}

/// Why an SMP payload could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The payload ended inside the count or an MPI.
    #[error("SMP payload truncated")]
    Truncated,
    /// The MPI count is not the one this message type has.
    #[error("SMP payload has {got} MPIs, expected {expected}")]
    WrongCount {
        /// Count found in the payload.
        got: u32,
        /// Count this message type has.
        expected: usize,
    },
    /// A value failed its range check.
    #[error("SMP value out of range: {0}")]
    Range(#[from] GroupError),
    /// A hash value (c) is longer than a SHA-256 digest.
    #[error("SMP hash value longer than 32 bytes")]
    HashTooLong,
}

/// Encodes values as an MPI array: a 4-byte count, then (4-byte length, minimal big-endian).
pub fn encode_mpis(values: &[&[u8]]) -> Vec<u8> {
    let len = 4 + values.iter().map(|v| 4 + v.len()).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&(values.len() as u32).to_be_bytes());
    for v in values {
        let start = v.iter().position(|&b| b != 0).unwrap_or(v.len());
        let v = &v[start..];
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v);
    }
    out
}

/// Splits an MPI array of exactly `expected` MPIs into the MPI bodies.
///
/// Bytes after the last MPI are ignored, as libotr does.
pub fn decode_mpis(payload: &[u8], expected: usize) -> Result<Vec<&[u8]>, PayloadError> {
    let (count, mut rest) = read_u32(payload)?;
    if count as usize != expected {
        return Err(PayloadError::WrongCount {
            got: count,
            expected,
        });
    }
    let mut out = Vec::with_capacity(expected);
    for _ in 0..expected {
        let (len, after) = read_u32(rest)?;
        let len = len as usize;
        if after.len() < len {
            return Err(PayloadError::Truncated);
        }
        let (mpi, after) = after.split_at(len);
        out.push(mpi);
        rest = after;
    }
    Ok(out)
}

/// Reads a big-endian 4-byte integer.
fn read_u32(bytes: &[u8]) -> Result<(u32, &[u8]), PayloadError> {
    match bytes.split_first_chunk::<4>() {
        Some((head, rest)) => Ok((u32::from_be_bytes(*head), rest)),
        None => Err(PayloadError::Truncated),
    }
}

/// Decodes a received group element (2 <= v <= p-2).
pub fn element(mpi: &[u8]) -> Result<Element, PayloadError> {
    Ok(Element::from_be_bytes(mpi)?)
}

/// Decodes a received proof response D (1 <= D < q).
pub fn response(mpi: &[u8]) -> Result<Exponent, PayloadError> {
    Ok(Exponent::from_be_bytes_checked(mpi)?)
}

/// Decodes a received proof challenge c (a SHA-256 value, so at most 32 significant bytes).
pub fn challenge(mpi: &[u8]) -> Result<Exponent, PayloadError> {
    let start = mpi.iter().position(|&b| b != 0).unwrap_or(mpi.len());
    if mpi.len() - start > 32 {
        return Err(PayloadError::HashTooLong);
    }
    Ok(Exponent::from_be_bytes(&mpi[start..]))
}

/// Splits an SMP1Q value into the question and the SMP1 payload, as libotr does.
///
/// The question ends at the first NUL among all but the last byte; without one, the whole
/// value is the question and the payload is empty (which then fails to decode).
pub fn split_question(value: &[u8]) -> (String, &[u8]) {
    let search = &value[..value.len().saturating_sub(1)];
    match search.iter().position(|&b| b == 0) {
        Some(nul) => (
            String::from_utf8_lossy(&value[..nul]).into_owned(),
            &value[nul + 1..],
        ),
        None => {
            let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
            (String::from_utf8_lossy(&value[..end]).into_owned(), &[])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpi_array_round_trip_and_minimal() {
        let enc = encode_mpis(&[&[0, 0, 5], &[1, 2, 3], &[]]);
        assert_eq!(
            enc,
            [0, 0, 0, 3, 0, 0, 0, 1, 5, 0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0]
        );
        let dec = decode_mpis(&enc, 3).unwrap();
        assert_eq!(dec, vec![&[5u8][..], &[1, 2, 3][..], &[][..]]);
    }

    #[test]
    fn mpi_array_errors() {
        let enc = encode_mpis(&[&[7], &[8]]);
        assert_eq!(
            decode_mpis(&enc, 3),
            Err(PayloadError::WrongCount {
                got: 2,
                expected: 3
            })
        );
        for cut in 0..enc.len() {
            assert!(decode_mpis(&enc[..cut], 2).is_err(), "cut {cut}");
        }
        let mut huge = vec![0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff];
        huge.extend_from_slice(&[1; 10]);
        assert_eq!(decode_mpis(&huge, 1), Err(PayloadError::Truncated));
        // Trailing bytes are ignored, as in libotr.
        let mut trailing = enc.clone();
        trailing.push(9);
        assert_eq!(decode_mpis(&trailing, 2).unwrap().len(), 2);
    }

    #[test]
    fn question_split() {
        assert_eq!(
            split_question(b"who?\0abc"),
            ("who?".to_string(), &b"abc"[..])
        );
        assert_eq!(split_question(b"\0abc"), (String::new(), &b"abc"[..]));
        assert_eq!(split_question(b"who?"), ("who?".to_string(), &b""[..]));
        assert_eq!(split_question(b"who?\0"), ("who?".to_string(), &b""[..]));
        assert_eq!(split_question(b""), (String::new(), &b""[..]));
    }

    #[test]
    fn challenge_bounds() {
        assert!(challenge(&[0; 40]).is_ok());
        assert!(challenge(&[1; 32]).is_ok());
        assert_eq!(challenge(&[1; 33]).err(), Some(PayloadError::HashTooLong));
    }
}
