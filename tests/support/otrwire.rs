//! Reading what an OTR engine put on the wire, for tests that check how it used its keys.
//!
//! [`CtrLedger`] takes every message a sender injected (fragments included, in the order
//! they were sent, per stream) and records, for each Data message, which AES key and
//! counter it was encrypted under. A key is named by the stream (one contact), the
//! instance tags and the key ids `(sender keyid, recipient keyid)`; within one AKE that
//! pair names one DH key pair on each side, so one AES key (Protocol-v3.txt, "Data
//! Message"). A message whose fragments were only partly sent counts as soon as the sent
//! part reaches the counter field. The same key and counter seen again is a failure unless
//! one sighting's bytes are a prefix of the other's (the same message, sent again or sent
//! in part), which reveals nothing new. Tests using the ledger must not run a second AKE
//! on one stream: key ids restart at each AKE.

use otrbot::otr::fragment;
use otrbot::otr::message::TYPE_DATA;
use otrbot::otr::wire::{base64_decode, Reader};
use std::collections::HashMap;

/// `wire` with one bit of its MAC flipped when it is a Reveal Signature or Signature message
/// (one that then fails to verify, as otr.js's sometimes do); `None` for any other message.
pub fn spoil_ake_mac(wire: &[u8]) -> Option<Vec<u8>> {
    use otrbot::otr::message::{armor, classify, Body, Classified, Message};
    let Ok(Classified::Encoded(bytes)) = classify(std::str::from_utf8(wire).ok()?) else {
        return None;
    };
    let mut msg = Message::parse(&bytes).ok()?;
    match &mut msg.body {
        Body::RevealSig { mac, .. } | Body::Signature { mac, .. } => mac[0] ^= 1,
        _ => return None,
    }
    Some(armor(&msg.encode()).into_bytes())
}

/// Which AES key and counter a Data message used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyUse {
    /// Sender instance tag (0 in version 2).
    pub sender_tag: u32,
    /// Receiver instance tag (0 in version 2).
    pub receiver_tag: u32,
    /// The sender's key id.
    pub sender_keyid: u32,
    /// The recipient's key id.
    pub recipient_keyid: u32,
    /// Top half of the AES-CTR counter.
    pub ctr: [u8; 8],
}

/// The key and counter of a binary OTR message or a prefix of one; `None` when it is no
/// Data message or the prefix ends before the counter.
pub fn key_use(bytes: &[u8]) -> Option<KeyUse> {
    let mut r = Reader::new(bytes);
    let version = r.short().ok()?;
    if r.byte().ok()? != TYPE_DATA {
        return None;
    }
    let (sender_tag, receiver_tag) = match version {
        3 => (r.int().ok()?, r.int().ok()?),
        _ => (0, 0),
    };
    let _flags = r.byte().ok()?;
    let sender_keyid = r.int().ok()?;
    let recipient_keyid = r.int().ok()?;
    let _next_dh = r.mpi().ok()?;
    let ctr = r.array().ok()?;
    Some(KeyUse {
        sender_tag,
        receiver_tag,
        sender_keyid,
        recipient_keyid,
        ctr,
    })
}

/// One sighting of a key and counter: the longest bytes seen, and whether they were whole.
struct Sighting {
    bytes: Vec<u8>,
    whole: bool,
}

/// Every (key, counter) one sender used, per stream, with the message that used it.
#[derive(Default)]
pub struct CtrLedger {
    seen: HashMap<(usize, KeyUse), Sighting>,
    /// Per stream: the armored text of the fragments so far, and the last fragment number.
    partial: HashMap<usize, (String, u16)>,
    /// Whole Data messages recorded (retransmissions included).
    pub data_messages: usize,
    /// Whole Data messages that repeated an earlier one byte for byte.
    pub retransmissions: usize,
    /// Highest counter value seen, as a number.
    pub max_ctr: u64,
}

impl CtrLedger {
    /// An empty ledger.
    pub fn new() -> CtrLedger {
        CtrLedger::default()
    }

    /// Records one sent wire message (a whole message or one fragment) of `stream`.
    /// Fails when a key and counter was used before for a different message.
    pub fn record(&mut self, stream: usize, wire: &str) -> Result<(), String> {
        let (text, whole) = if wire.starts_with("?OTR|") || wire.starts_with("?OTR,") {
            let f = fragment::parse(wire).map_err(|e| format!("bad fragment {wire:?}: {e}"))?;
            let (buf, k) = self.partial.entry(stream).or_default();
            if f.k == 1 {
                *buf = String::new();
            } else if f.k != *k + 1 {
                return Err(format!("fragment {} of {} after {k}: {wire:?}", f.k, f.n));
            }
            buf.push_str(f.piece);
            *k = f.k;
            (buf.clone(), f.k == f.n)
        } else {
            (wire.to_owned(), true)
        };
        let Some(b64) = text.strip_prefix("?OTR:") else {
            return Ok(()); // not an encoded message
        };
        let b64 = match (b64.find('.'), whole) {
            (Some(end), true) => &b64[..end],
            (None, true) => return Err(format!("no '.' after base64: {text:?}")),
            // A prefix: decode only whole base64 quads.
            (_, false) => &b64[..b64.len() - b64.len() % 4],
        };
        let bytes = base64_decode(b64).map_err(|e| format!("bad base64 in {text:?}: {e}"))?;
        let Some(used) = key_use(&bytes) else {
            return Ok(());
        };
        if whole {
            self.data_messages += 1;
        }
        self.max_ctr = self.max_ctr.max(u64::from_be_bytes(used.ctr));
        let Some(earlier) = self.seen.get_mut(&(stream, used)) else {
            self.seen.insert((stream, used), Sighting { bytes, whole });
            return Ok(());
        };
        if earlier.bytes.starts_with(&bytes) || bytes.starts_with(&earlier.bytes) {
            if whole && earlier.whole {
                self.retransmissions += 1;
            }
            if bytes.len() > earlier.bytes.len() {
                *earlier = Sighting { bytes, whole };
            }
            return Ok(());
        }
        let at = earlier
            .bytes
            .iter()
            .zip(&bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        Err(format!(
            "AES-CTR counter reused on stream {stream}: key ids {}->{} (instances \
             {:08x}->{:08x}), counter {:016x} encrypted two different messages \
             (first difference at byte {at}; {} sent {} and {} bytes):\n  first:  {}\n  \
             second: {}",
            used.sender_keyid,
            used.recipient_keyid,
            used.sender_tag,
            used.receiver_tag,
            u64::from_be_bytes(used.ctr),
            if earlier.whole { "whole" } else { "partly" },
            earlier.bytes.len(),
            bytes.len(),
            hex(&earlier.bytes),
            hex(&bytes)
        ))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
