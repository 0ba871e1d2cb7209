//! Fragment reassembly: sequences of fragments, parsed from text or built with large
//! pieces, must never panic and never hold more than `MAX_REASSEMBLED` bytes; and whatever
//! `split` produces reassembles to the original message.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use otr::fragment::{self, Fragment, Reassembly, MAX_REASSEMBLED};
use otr::message::Version;

#[derive(Arbitrary, Debug)]
enum Piece {
    /// A received chat message, parsed as a fragment.
    Text(String),
    /// A fragment with a piece of `len * 1024 + extra` copies of `fill` (large messages).
    Big {
        k: u16,
        n: u16,
        len: u16,
        extra: u8,
        fill: u8,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    pieces: Vec<Piece>,
    /// A message to split and reassemble, with the transport's size limit.
    whole: String,
    max: u16,
    v3: bool,
}

fuzz_target!(|input: Input| {
    let mut r = Reassembly::default();
    for p in input.pieces.iter().take(64) {
        let done = match p {
            Piece::Text(t) => match fragment::parse(t) {
                Ok(f) => r.add(&f),
                Err(_) => None,
            },
            Piece::Big {
                k,
                n,
                len,
                extra,
                fill,
            } => {
                let size = usize::from(*len % 1024) * 1024 + usize::from(*extra);
                let piece = char::from(b'A' + fill % 26).to_string().repeat(size.max(1));
                r.add(&Fragment {
                    tags: None,
                    k: *k,
                    n: *n,
                    piece: &piece,
                })
            }
        };
        assert!(r.buffered() <= MAX_REASSEMBLED, "{}", r.buffered());
        if let Some(whole) = done {
            assert!(whole.len() <= MAX_REASSEMBLED);
            assert!(r.is_empty());
        }
    }
    // Splitting then reassembling gives back the message.
    let armored = otr::message::armor(input.whole.as_bytes());
    let version = if input.v3 { Version::V3 } else { Version::V2 };
    let max = usize::from(input.max);
    if let Ok(frags) = fragment::split(&armored, max, version, 0x100, 0x8000_0000) {
        if frags.len() == 1 {
            assert_eq!(frags[0], armored);
            return;
        }
        let mut r = Reassembly::default();
        let mut out = None;
        for (i, f) in frags.iter().enumerate() {
            assert!(f.len() <= max, "fragment longer than the limit");
            assert!(out.is_none(), "reassembled before the last fragment {i}");
            let parsed = fragment::parse(f).expect("our own fragments parse");
            out = r.add(&parsed);
        }
        if armored.len() <= MAX_REASSEMBLED {
            assert_eq!(out.as_deref(), Some(armored.as_str()));
        }
    }
});
