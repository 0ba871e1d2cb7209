//! Fragmentation of outgoing encoded messages and reassembly of incoming fragments.

use serde::{Deserialize, Serialize};

use super::error::{OtrError, Result};
use super::message::Version;

/// Largest reassembled message we keep in memory (bytes).
pub const MAX_REASSEMBLED: usize = 512 * 1024;

/// Splits an armored message into fragments of at most `max` bytes (0 = no limit).
pub fn split(
    msg: &str,
    max: usize,
    version: Version,
    sender: u32,
    receiver: u32,
) -> Result<Vec<String>> {
    if max == 0 || msg.len() <= max {
        return Ok(vec![msg.to_owned()]);
    }
    if !msg.is_ascii() {
        return Err(OtrError::Malformed("only armored messages are fragmented"));
    }
    let header = match version {
        Version::V3 => 36,
        Version::V2 => 18,
    };
    let room = max
        .checked_sub(header)
        .filter(|&r| r > 0)
        .ok_or(OtrError::TooLarge)?;
    let count = msg.len().div_ceil(room);
    if count > usize::from(u16::MAX) {
        return Err(OtrError::TooLarge);
    }
    let pieces = msg.as_bytes().chunks(room).enumerate();
    Ok(pieces
        .map(|(i, piece)| {
            let piece = String::from_utf8_lossy(piece);
            let (k, n) = (i + 1, count);
            match version {
                Version::V3 => format!("?OTR|{sender:08x}|{receiver:08x},{k:05},{n:05},{piece},"),
                Version::V2 => format!("?OTR,{k:05},{n:05},{piece},"),
            }
        })
        .collect())
}

/// One parsed incoming fragment.
#[derive(Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Sender and receiver instance tags (version 3 fragments only).
    pub tags: Option<(u32, u32)>,
    /// This fragment's number, from 1.
    pub k: u16,
    /// The total number of fragments.
    pub n: u16,
    /// The piece of the armored message.
    pub piece: &'a str,
}

fn number(s: &str, radix: u32, max: u64) -> Result<u64> {
    if s.is_empty() || !s.chars().all(|c| c.is_digit(radix)) {
        return Err(OtrError::Malformed("fragment number"));
    }
    let digits = s.trim_start_matches('0');
    if digits.len() > 10 {
        return Err(OtrError::Malformed("fragment number too large"));
    }
    let v = if digits.is_empty() {
        0
    } else {
        u64::from_str_radix(digits, radix).map_err(|_| OtrError::Malformed("fragment number"))?
    };
    if v > max {
        return Err(OtrError::Malformed("fragment number too large"));
    }
    Ok(v)
}

/// Parses "?OTR|s|r,k,n,piece," or "?OTR,k,n,piece," (leading zeros accepted).
pub fn parse(msg: &str) -> Result<Fragment<'_>> {
    let (tags, rest) = if let Some(rest) = msg.strip_prefix("?OTR|") {
        let (s, rest) = rest
            .split_once('|')
            .ok_or(OtrError::Malformed("fragment tags"))?;
        let (r, rest) = rest
            .split_once(',')
            .ok_or(OtrError::Malformed("fragment tags"))?;
        let s = number(s, 16, u64::from(u32::MAX))? as u32;
        let r = number(r, 16, u64::from(u32::MAX))? as u32;
        (Some((s, r)), rest)
    } else if let Some(rest) = msg.strip_prefix("?OTR,") {
        (None, rest)
    } else {
        return Err(OtrError::Malformed("not a fragment"));
    };
    let mut parts = rest.splitn(4, ',');
    let k = number(parts.next().unwrap_or(""), 10, u64::from(u16::MAX))? as u16;
    let n = number(parts.next().unwrap_or(""), 10, u64::from(u16::MAX))? as u16;
    let piece = parts.next().unwrap_or("");
    if parts.next().is_none() || piece.is_empty() {
        return Err(OtrError::Malformed("fragment piece"));
    }
    Ok(Fragment { tags, k, n, piece })
}

/// Reassembly state for one sender (libotr's fragment/fragment_k/fragment_n).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reassembly {
    k: u16,
    n: u16,
    buf: String,
}

impl Reassembly {
    /// Adds a fragment; returns the whole message once the last piece arrives.
    pub fn add(&mut self, f: &Fragment<'_>) -> Option<String> {
        if f.k == 0 || f.n == 0 || f.k > f.n {
            return None;
        }
        if f.k == 1 && f.piece.len() <= MAX_REASSEMBLED {
            *self = Reassembly {
                k: 1,
                n: f.n,
                buf: f.piece.to_owned(),
            };
        } else if f.n == self.n
            && f.k == self.k + 1
            && self.buf.len() + f.piece.len() <= MAX_REASSEMBLED
        {
            self.buf.push_str(f.piece);
            self.k = f.k;
        } else {
            *self = Reassembly::default();
        }
        if self.n > 0 && self.k == self.n {
            let out = core::mem::take(&mut self.buf);
            *self = Reassembly::default();
            return Some(out);
        }
        None
    }

    /// Drops a partial message.
    pub fn clear(&mut self) {
        *self = Reassembly::default();
    }

    /// True when no partial message is held.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Bytes of the partial message held (never more than [`MAX_REASSEMBLED`]).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reassemble(frags: &[String]) -> Option<String> {
        let mut r = Reassembly::default();
        let mut out = None;
        for f in frags {
            out = r.add(&parse(f).unwrap());
        }
        out
    }

    #[test]
    fn split_and_reassemble_both_formats() {
        let msg = format!("?OTR:{}.", "A".repeat(1000));
        for (v, header) in [(Version::V3, 36), (Version::V2, 18)] {
            let frags = split(&msg, 140, v, 0x100, 0x8000_0001).unwrap();
            assert_eq!(frags.len(), msg.len().div_ceil(140 - header));
            assert!(frags.iter().all(|f| f.len() <= 140));
            assert_eq!(reassemble(&frags).unwrap(), msg);
        }
        assert_eq!(
            split(&msg, 0, Version::V3, 1, 2).unwrap(),
            vec![msg.clone()]
        );
        assert!(split(&msg, 36, Version::V3, 1, 2).is_err());
        let exact = split(&"?OTR:AAAA.".repeat(10), 54, Version::V3, 0x100, 0x100).unwrap();
        assert!(exact.iter().all(|f| parse(f).is_ok()), "no empty piece");
    }

    #[test]
    fn parse_accepts_leading_zeros_and_high_tags() {
        let f = parse("?OTR|0000ffffffff|80000000,0001,00000002,abc,").unwrap();
        assert_eq!(f.tags, Some((0xffff_ffff, 0x8000_0000)));
        assert_eq!((f.k, f.n, f.piece), (1, 2, "abc"));
        assert!(parse("?OTR,1,1,,").is_err());
        assert!(parse("?OTR,1,1,abc").is_err());
        assert!(parse("?OTR|1ffffffff|1,1,1,a,").is_err());
        assert!(parse("?OTR,70000,1,a,").is_err());
    }

    #[test]
    fn out_of_order_resets() {
        let mut r = Reassembly::default();
        assert_eq!(r.add(&parse("?OTR,1,3,a,").unwrap()), None);
        assert_eq!(r.add(&parse("?OTR,3,3,c,").unwrap()), None);
        assert!(r.is_empty());
        assert_eq!(r.add(&parse("?OTR,2,1,c,").unwrap()), None);
        assert_eq!(r.add(&parse("?OTR,1,1,z,").unwrap()), Some("z".into()));
    }

    #[test]
    fn memory_is_bounded() {
        let mut r = Reassembly::default();
        let piece = "B".repeat(60_000);
        let mut done = None;
        for k in 1..=20u16 {
            done = r.add(&Fragment {
                tags: None,
                k,
                n: 20,
                piece: &piece,
            });
        }
        assert_eq!(done, None);
        assert!(r.is_empty());
    }

    #[test]
    fn oversized_first_piece_is_not_kept() {
        let mut r = Reassembly::default();
        let piece = "C".repeat(MAX_REASSEMBLED + 1);
        let first = |k, n| Fragment {
            tags: None,
            k,
            n,
            piece: &piece,
        };
        assert_eq!(r.add(&first(1, 2)), None);
        assert_eq!(r.buffered(), 0);
        assert!(r.is_empty());
        // Nor is an oversized single-fragment message handed on.
        assert_eq!(r.add(&first(1, 1)), None);
        assert_eq!(r.buffered(), 0);
    }
}
