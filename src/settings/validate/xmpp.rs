//! `[xmpp]` and `[tls]`: the accounts (JID, password, server, avatar) and how the
//! connection is secured.

use super::{bad, is_loopback};
use crate::settings::{SettingError, Settings};
use crate::xmpp::jid::parse_bare;
use std::io::Read;

/// The largest avatar accepted, in bytes.
pub const MAX_AVATAR_BYTES: u64 = 128 * 1024;

/// `[xmpp]`: a default account that exists; each account's JID, password, server and avatar.
pub(super) fn accounts(s: &Settings) -> Result<(), SettingError> {
    if s.xmpp.accounts.is_empty() {
        return Err(bad("xmpp.accounts", "at least one account is needed"));
    }
    if !s.xmpp.accounts.contains_key(&s.xmpp.default_account) {
        return Err(bad(
            "xmpp.default_account",
            format!(
                "no account named {:?} in xmpp.accounts",
                s.xmpp.default_account
            ),
        ));
    }
    for (name, a) in &s.xmpp.accounts {
        let key = |k: &str| format!("xmpp.accounts.{name}.{k}");
        parse_bare(&a.jid).map_err(|e| bad(key("jid"), e))?;
        match &a.password {
            None => {
                return Err(bad(
                    key("password"),
                    format!(
                        "missing (set it here or in {})",
                        crate::settings::env_name(&["OTRBOT_XMPP", name, "PASSWORD"])
                    ),
                ))
            }
            Some(p) if p.is_empty() => return Err(bad(key("password"), "must not be empty")),
            Some(_) => {}
        }
        if a.host.as_deref().is_some_and(|h| h.trim().is_empty()) {
            return Err(bad(key("host"), "must not be empty when given"));
        }
        if a.port == 0 {
            return Err(bad(key("port"), "must be between 1 and 65535"));
        }
        if let Some(p) = &a.avatar {
            let meta = std::fs::metadata(p)
                .map_err(|e| bad(key("avatar"), format!("cannot read {}: {e}", p.display())))?;
            if !meta.is_file() {
                return Err(bad(key("avatar"), "must be a regular file"));
            }
            if meta.len() > MAX_AVATAR_BYTES {
                return Err(bad(
                    key("avatar"),
                    format!("larger than {MAX_AVATAR_BYTES} bytes"),
                ));
            }
            let mut head = Vec::new();
            std::fs::File::open(p)
                .and_then(|f| f.take(4).read_to_end(&mut head))
                .map_err(|e| bad(key("avatar"), e.to_string()))?;
            if !(head.starts_with(b"\x89PNG") || head.starts_with(b"\xff\xd8\xff")) {
                return Err(bad(key("avatar"), "must be a PNG or JPEG image"));
            }
        }
    }
    Ok(())
}

/// `[tls]`: a known minimum version, a CA file that exists, plain text only to loopback.
pub(super) fn tls(s: &Settings) -> Result<(), SettingError> {
    if !matches!(s.tls.min_version.as_str(), "1.2" | "1.3") {
        return Err(bad("tls.min_version", "must be \"1.2\" or \"1.3\""));
    }
    if let Some(ca) = &s.tls.ca_file {
        if !ca.is_file() {
            return Err(bad("tls.ca_file", format!("no file at {}", ca.display())));
        }
    }
    if !s.tls.enabled {
        if !s.tls.allow_plaintext_loopback {
            return Err(bad(
                "tls.enabled",
                "plain text is refused unless tls.allow_plaintext_loopback is set for a loopback test server",
            ));
        }
        let acct = s.account();
        let host = acct.host.as_deref().unwrap_or("");
        if !is_loopback(host) {
            return Err(bad(
                "tls.allow_plaintext_loopback",
                format!(
                    "plain text is only allowed to a loopback server; xmpp.accounts.{}.host is {host:?}",
                    s.xmpp.default_account
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::settings::testing::*;

    #[test]
    fn default_account_must_exist() {
        assert_eq!(
            key_of(&GOOD.replace("default_account = \"bot\"", "default_account = \"x\"")),
            "xmpp.default_account"
        );
    }

    #[test]
    fn bad_jid() {
        assert_eq!(
            key_of(&GOOD.replace("bot@localhost", "not a jid")),
            "xmpp.accounts.bot.jid"
        );
    }

    #[test]
    fn plaintext_only_to_loopback() {
        let t = format!("{GOOD}[tls]\nenabled = false\n");
        assert_eq!(key_of(&t), "tls.enabled");
        let t = format!("{GOOD}[tls]\nenabled = false\nallow_plaintext_loopback = true\n");
        assert!(load(&t).is_ok());
        let t = t.replace("127.0.0.1", "xmpp.example.org");
        assert_eq!(key_of(&t), "tls.allow_plaintext_loopback");
    }

    #[test]
    fn tls_settings() {
        assert_eq!(
            key_of(&format!("{GOOD}[tls]\nmin_version = \"1.0\"\n")),
            "tls.min_version"
        );
        assert_eq!(
            key_of(&format!("{GOOD}[tls]\nca_file = \"/nonexistent.pem\"\n")),
            "tls.ca_file"
        );
    }

    #[test]
    fn avatar_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.png");
        std::fs::write(&p, b"not an image").unwrap();
        let t = GOOD.replace("host =", &format!("avatar = {:?}\nhost =", p));
        assert_eq!(key_of(&t), "xmpp.accounts.bot.avatar");
        std::fs::write(&p, b"\x89PNG\r\n\x1a\n....").unwrap();
        assert!(load(&t).is_ok());
        // A device reports no size and never ends: refused without reading it.
        for dev in ["/dev/zero", "/dev/null"] {
            let t = GOOD.replace("host =", &format!("avatar = {dev:?}\nhost ="));
            let e = load(&t).unwrap_err();
            assert_eq!(e.key, "xmpp.accounts.bot.avatar");
            assert_eq!(e.problem, "must be a regular file");
        }
    }
}
