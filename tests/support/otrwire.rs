//! Reading what an OTR engine put on the wire, for tests that check how it used its keys.
//!
//! [`CtrLedger`] takes every message a sender injected (fragments included, in the order
//! they were sent, per stream) and records, for each Data message, which AES key and
//! counter it was encrypted under. A key is named by the stream (one contact), the
//! instance tags and the key ids `(sender keyid, recipient keyid)`; within one AKE that
//! pair names one DH key pair on each side, so one AES key (Protocol-v3.txt, "Data
//! Message"). The same key and counter top half seen again is a failure unless the whole
//! message is byte-for-byte the same (a retransmission, which reveals nothing new). Tests
//! using the ledger must not run a second AKE on one stream: key ids restart at each AKE.

use otrbot::otr::fragment::{self, Reassembly};
use otrbot::otr::message::{classify, Body, Classified, Message};
use std::collections::HashMap;

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

/// The key and counter of an armored (`?OTR:...`) message; `None` when it is no Data message.
pub fn key_use(armored: &str) -> Result<Option<KeyUse>, String> {
    let bytes = match classify(armored) {
        Ok(Classified::Encoded(b)) => b,
        Ok(_) => return Ok(None),
        Err(e) => return Err(format!("cannot classify {armored:?}: {e}")),
    };
    let msg = Message::parse(&bytes).map_err(|e| format!("cannot parse {armored:?}: {e}"))?;
    Ok(match msg.body {
        Body::Data(d) => Some(KeyUse {
            sender_tag: msg.header.sender,
            receiver_tag: msg.header.receiver,
            sender_keyid: d.sender_keyid,
            recipient_keyid: d.recipient_keyid,
            ctr: d.ctr,
        }),
        _ => None,
    })
}

/// Every (key, counter) one sender used, per stream, with the message that used it.
#[derive(Default)]
pub struct CtrLedger {
    seen: HashMap<(usize, KeyUse), String>,
    partial: HashMap<usize, Reassembly>,
    /// Data messages recorded (retransmissions included).
    pub data_messages: usize,
    /// Data messages that repeated an earlier one byte for byte.
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
        let whole = if wire.starts_with("?OTR|") || wire.starts_with("?OTR,") {
            let f = fragment::parse(wire).map_err(|e| format!("bad fragment {wire:?}: {e}"))?;
            match self.partial.entry(stream).or_default().add(&f) {
                Some(whole) => whole,
                None => return Ok(()),
            }
        } else {
            wire.to_owned()
        };
        let Some(used) = key_use(&whole)? else {
            return Ok(());
        };
        self.data_messages += 1;
        self.max_ctr = self.max_ctr.max(u64::from_be_bytes(used.ctr));
        match self.seen.get(&(stream, used)) {
            None => {
                self.seen.insert((stream, used), whole);
                Ok(())
            }
            Some(earlier) if *earlier == whole => {
                self.retransmissions += 1;
                Ok(())
            }
            Some(earlier) => Err(format!(
                "AES-CTR counter reused on stream {stream}: key ids {}->{} (instances \
                 {:08x}->{:08x}), counter {:016x} encrypted two different messages:\n  \
                 first:  {earlier}\n  second: {whole}",
                used.sender_keyid,
                used.recipient_keyid,
                used.sender_tag,
                used.receiver_tag,
                u64::from_be_bytes(used.ctr)
            )),
        }
    }
}
