//! OMEMO elements as they arrive from the network: arbitrary XML read as an `<encrypted>`,
//! a bundle or a device list, through the application's glue, and an `<encrypted>` decrypted
//! by a device of ours. Checked: nothing panics; every refusal is a typed error; nothing
//! decrypts (the input cannot know a session key).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use omemo::{Account, OsRandom};
use otrbot::xmpp::omemo as glue;
use xmpp_parsers::legacy_omemo as xml;
use xmpp_parsers::minidom::Element;

fn account() -> &'static Account {
    static ACCOUNT: OnceLock<Account> = OnceLock::new();
    ACCOUNT.get_or_init(|| Account::generate(1, 0, &mut OsRandom).unwrap())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(element) = text.parse::<Element>() else {
        return;
    };
    if let Ok(e) = xml::Encrypted::try_from(element.clone()) {
        if let Ok(message) = glue::encrypted(&e) {
            let mut ours = account().clone();
            let got = omemo::decrypt(&mut ours, None, &message, &mut OsRandom);
            assert!(got.is_err(), "an arbitrary message decrypted");
        }
    }
    if let Ok(b) = xml::Bundle::try_from(element.clone()) {
        if let Ok(bundle) = glue::bundle(&b) {
            let _ = account().start_session(&bundle, &mut OsRandom);
        }
    }
    if let Ok(list) = xml::DeviceList::try_from(element) {
        let _ = glue::device_ids(&list);
    }
});
