//! OTR message parsing: classification of chat text and the binary message format.
//!
//! Arbitrary bytes go through `classify` (as text) and `Message::parse` (as binary, and
//! armored). Whatever parses is re-encoded: the encoding must parse back to the same message
//! (the wire form itself may differ only where MPIs had leading zeros), Data messages
//! re-encode byte for byte, and armoring round-trips through base64.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otr::message::{self, armor, classify, Body, Classified, Message};
use otr::wire;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(c) = classify(&text) {
        check_classified(&text, c);
    }
    if let Ok(m) = Message::parse(data) {
        check_round_trip(data, &m);
        // The same bytes armored must classify as exactly these bytes.
        assert_eq!(
            classify(&armor(data)).ok(),
            Some(Classified::Encoded(data.to_vec()))
        );
    }
    let b64 = wire::base64_encode(data);
    assert_eq!(wire::base64_decode(&b64).as_deref(), Ok(data));
});

fn check_round_trip(data: &[u8], m: &Message) {
    let encoded = m.encode();
    let again = Message::parse(&encoded).expect("a re-encoded message parses");
    assert_eq!(&again, m);
    assert_eq!(again.encode(), encoded, "encoding is canonical");
    match &m.body {
        Body::Data(d) => {
            assert_eq!(encoded, data, "Data messages re-encode byte for byte");
            assert!(data.starts_with(&d.authenticated));
        }
        _ => assert!(
            encoded.len() <= data.len(),
            "only leading zeros are dropped"
        ),
    }
}

fn check_classified(text: &str, c: Classified) {
    match c {
        Classified::Plain(p) => assert_eq!(p, text),
        Classified::Tagged { text: t, .. } => {
            assert!(t.len() + message::TAG_BASE.len() <= text.len())
        }
        Classified::Query(_) | Classified::Error(_) => {}
        Classified::Fragment(f) => assert!(text.ends_with(&f)),
        Classified::Encoded(bytes) => {
            if let Ok(m) = Message::parse(&bytes) {
                check_round_trip(&bytes, &m);
            }
        }
    }
}
