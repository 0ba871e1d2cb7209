//! Settings: parsing and validation of arbitrary TOML text.
//!
//! Checked: no panic, and every error names a key (a dotted path into the file, the unknown
//! key itself, or `(file)` when the text is not TOML at all) and says what is wrong.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use otrbot::settings;

const SECTIONS: [&str; 9] = [
    "xmpp",
    "tls",
    "lesson",
    "whitelist",
    "format",
    "lti",
    "store",
    "logging",
    "paths",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Secrets from the "environment": every lookup finds one, or none (by the text's length).
    let some = data.len() % 2 == 0;
    let env = |k: &str| some.then(|| format!("env-secret-for-{k}"));
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../settings");
    match settings::from_toml(text, &base, &env) {
        Ok(s) => {
            // Valid settings have their default account.
            let _ = s.account();
        }
        Err(e) => {
            assert!(!e.problem.trim().is_empty(), "no problem stated: {e}");
            let top = e.key.split(['.', '[']).next().unwrap_or("");
            // An unknown key is named as written, dots and all.
            let unknown = e.problem.contains(&format!("unknown field `{top}`"))
                || e.problem.contains(&format!("unknown field `{}`", e.key));
            assert!(
                e.key == "(file)" || SECTIONS.contains(&top) || unknown,
                "the error does not name a key: {e:?}"
            );
        }
    }
});
