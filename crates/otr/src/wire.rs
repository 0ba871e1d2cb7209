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

/// Standard base64 that decodes as libotr does: padding optional, stray bits after the last
/// whole byte ignored.
const LENIENT_B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Standard base64 with padding, appended to `out`.
pub fn base64_encode_into(data: &[u8], out: &mut String) {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode_string(data, out)
}

/// Standard base64 with padding.
pub fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Decodes base64, skipping whitespace; padding is optional, like libotr's decoder.
pub fn base64_decode(text: &str) -> Result<Vec<u8>> {
    use base64::Engine;
    // Whitespace is rare (a client that wraps lines): only then is the text packed first.
    LENIENT_B64.decode(text).or_else(|_| {
        let packed: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
        LENIENT_B64.decode(packed).map_err(|_| OtrError::Base64)
    })
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
        assert_eq!(base64_decode("Zm9v\r\nYmFy").unwrap(), b"foobar");
        assert!(base64_decode("Zm=9v").is_err(), "text after padding");
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
