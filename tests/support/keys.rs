//! Fixture DSA keys generated once by libotr's own `otrl_privkey_generate`.
//!
//! `tests/fixtures/libotr/<name>.key` holds exactly one key, in libotr's
//! s-expression format (`(privkeys (account (name "<name>@test") (protocol xmpp)
//! (private-key (dsa (p #..#) (q #..#) (g #..#) (y #..#) (x #..#))))))`).

use std::path::PathBuf;

/// Names of the committed fixture keys; the account of `name` is `name@test`.
pub const FIXTURE_NAMES: [&str; 4] = ["alice", "bob", "peer", "bot"];

/// The protocol string every fixture key (and the peer) uses.
pub const PROTOCOL: &str = "xmpp";

/// Directory holding the fixture key files.
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libotr")
}

/// Path of the fixture key file for `name` (e.g. "alice").
pub fn fixture_key_path(name: &str) -> PathBuf {
    fixture_dir().join(format!("{name}.key"))
}

/// Account name stored in the fixture key for `name`.
pub fn fixture_account(name: &str) -> String {
    format!("{name}@test")
}

/// Text of the fixture key file for `name` (libotr s-expression).
pub fn fixture_key_sexp(name: &str) -> String {
    let path = fixture_key_path(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture key {}: {e}", path.display()))
}

/// An account of the project's engine with the fixture key of `name` (`name@test`) and `policy`.
pub fn engine_account(name: &str, policy: otrbot::otr::Policy) -> otrbot::otr::Account {
    let key = otrbot::otr::import_libotr(fixture_key_sexp(name).as_bytes())
        .expect("fixture key")
        .remove(0)
        .key;
    let mut a = otrbot::otr::Account::new(&fixture_account(name), key).expect("instance tag");
    a.policy = policy;
    a
}
