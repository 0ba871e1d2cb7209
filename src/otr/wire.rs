//! OTR wire data types (BYTE, SHORT, INT, MPI, DATA, CTR, MAC) and base64.

use super::error::{OtrError, Result};

/// Upper bound on any MPI or DATA field we accept (bytes).
pub const MAX_FIELD: usize = 64 * 1024;

/// A cursor over received bytes that never reads past the end.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes still unread.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(OtrError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(OtrError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// Takes everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    /// Reads a BYTE.
    pub fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// Reads a SHORT (big-endian u16).
    pub fn short(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Reads an INT (big-endian u32).
    pub fn int(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads DATA (4-byte length, bytes), bounded by [`MAX_FIELD`].
    pub fn data(&mut self) -> Result<&'a [u8]> {
        let len = self.int()? as usize;
        if len > MAX_FIELD {
            return Err(OtrError::TooLarge);
        }
        self.take(len)
    }

    /// Reads an MPI and returns its magnitude without leading zeros.
    pub fn mpi(&mut self) -> Result<&'a [u8]> {
        let d = self.data()?;
        let start = d.iter().position(|&b| b != 0).unwrap_or(d.len());
        Ok(&d[start..])
    }

    /// Reads a fixed-size array (CTR, MAC, ...).
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<()> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(OtrError::Malformed("trailing bytes"))
        }
    }
}

/// Appends a BYTE.
pub fn put_byte(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}

/// Appends a SHORT.
pub fn put_short(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends an INT.
pub fn put_int(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends DATA (length-prefixed bytes).
pub fn put_data(out: &mut Vec<u8>, v: &[u8]) {
    put_int(out, v.len() as u32);
    out.extend_from_slice(v);
}

/// Appends an MPI of the big-endian magnitude `v`, in minimal length.
pub fn put_mpi(out: &mut Vec<u8>, v: &[u8]) {
    let start = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    put_data(out, &v[start..]);
}

/// The MPI encoding of `v` as a fresh vector.
pub fn mpi(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() + 4);
    put_mpi(&mut out, v);
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = [18, 12, 6, 0].map(|s| B64[((n >> s) & 63) as usize] as char);
        out.push(chars[0]);
        out.push(chars[1]);
        out.push(if chunk.len() > 1 { chars[2] } else { '=' });
        out.push(if chunk.len() > 2 { chars[3] } else { '=' });
    }
    out
}

fn b64_value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes base64, skipping whitespace; padding is optional, like libotr's decoder.
pub fn base64_decode(text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits, mut padded) = (0u32, 0u32, false);
    for &c in text.as_bytes() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            padded = true;
            continue;
        }
        if padded {
            return Err(OtrError::Base64);
        }
        let v = b64_value(c).ok_or(OtrError::Base64)?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 6 {
        return Err(OtrError::Base64);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for n in 0..40u8 {
            let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(base64_decode(&base64_encode(&data)).unwrap(), data);
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_decode("Zm8").unwrap(), b"fo");
        assert!(base64_decode("Zm9v!").is_err());
        assert!(base64_decode("Z").is_err());
    }

    #[test]
    fn mpi_is_minimal_and_reader_is_bounded() {
        assert_eq!(mpi(&[0, 0, 1, 2]), vec![0, 0, 0, 2, 1, 2]);
        assert_eq!(mpi(&[0]), vec![0, 0, 0, 0]);
        let mut r = Reader::new(&[0, 0, 0, 3, 0, 5, 6]);
        assert_eq!(r.mpi().unwrap(), &[5, 6]);
        r.finish().unwrap();
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1]);
        assert_eq!(r.data(), Err(OtrError::TooLarge));
        let mut r = Reader::new(&[0, 0, 0, 9, 1]);
        assert_eq!(r.data(), Err(OtrError::Truncated));
        let mut r = Reader::new(&[1]);
        assert_eq!(r.short(), Err(OtrError::Truncated));
    }
}
