//! TLV records carried after the NUL in a Data message's plaintext.

use super::wire;

/// TLV type 0: padding.
pub const PADDING: u16 = 0;
/// TLV type 1: the sender has ended the private conversation.
pub const DISCONNECTED: u16 = 1;
/// TLV types 2..=7: SMP messages (routed to the SMP handler).
pub const SMP_RANGE: core::ops::RangeInclusive<u16> = 2..=7;
/// TLV type 8: extra symmetric key.
pub const SYMKEY: u16 = 8;

/// One type-length-value record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tlv {
    /// The record type.
    pub kind: u16,
    /// The record value.
    pub value: Vec<u8>,
}

/// Splits a decrypted plaintext into the message and its TLVs (libotr stops at a malformed TLV).
pub fn split(plain: &[u8]) -> (&[u8], Vec<Tlv>) {
    let Some(nul) = plain.iter().position(|&b| b == 0) else {
        return (plain, Vec::new());
    };
    let mut tlvs = Vec::new();
    let mut r = wire::Reader::new(&plain[nul + 1..]);
    while r.remaining() >= 4 {
        let (Ok(kind), Ok(len)) = (r.short(), r.short()) else {
            break;
        };
        let Ok(value) = r.take(usize::from(len)) else {
            break;
        };
        tlvs.push(Tlv {
            kind,
            value: value.to_vec(),
        });
    }
    (&plain[..nul], tlvs)
}

/// Joins a message and TLVs into a plaintext (NUL only when there are TLVs).
pub fn join(msg: &[u8], tlvs: &[Tlv]) -> Vec<u8> {
    let mut out = msg.to_vec();
    if !tlvs.is_empty() {
        out.push(0);
        for t in tlvs {
            let value = &t.value[..t.value.len().min(usize::from(u16::MAX))];
            wire::put_short(&mut out, t.kind);
            wire::put_short(&mut out, value.len() as u16);
            out.extend_from_slice(value);
        }
    }
    out
}

/// A padding TLV that rounds `len` bytes of plaintext up to a multiple of `block`.
pub fn padding_for(len: usize, block: usize) -> Option<Tlv> {
    if block == 0 {
        return None;
    }
    let with_header = len + 1 + 4;
    let pad = (block - with_header % block) % block;
    Some(Tlv {
        kind: PADDING,
        value: vec![0; pad],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_join_round_trip() {
        let tlvs = vec![
            Tlv {
                kind: DISCONNECTED,
                value: vec![],
            },
            Tlv {
                kind: 2,
                value: vec![1, 2, 3],
            },
        ];
        let plain = join(b"hi", &tlvs);
        assert_eq!(split(&plain), (&b"hi"[..], tlvs));
        assert_eq!(split(b"plain"), (&b"plain"[..], vec![]));
        assert_eq!(join(b"x", &[]), b"x");
        let (_, t) = split(&[b'a', 0, 0, 1, 0, 9, 1]);
        assert!(t.is_empty(), "truncated TLV dropped");
        let pad = padding_for(10, 16).unwrap();
        assert_eq!(join(&[1; 10], &[pad]).len() % 16, 0);
    }
}
