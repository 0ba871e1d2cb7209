//! Validation of learners' and bots' Jabber IDs.

use xmpp_parsers::jid::BareJid;

/// The longest JID accepted, in bytes (RFC 7622: 1023 per part, 3071 in all).
pub const MAX_JID_LEN: usize = 3071;

/// Parses a bare JID with a local part (`user@domain`), as learners and bots have.
pub fn parse_bare(s: &str) -> Result<BareJid, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("a Jabber ID is needed, like name@example.org".into());
    }
    if s.len() > MAX_JID_LEN {
        return Err(format!("a Jabber ID is at most {MAX_JID_LEN} bytes long"));
    }
    if s.contains('/') {
        return Err("give the bare Jabber ID, without a /resource".into());
    }
    let jid = BareJid::new(s).map_err(|e| format!("not a valid Jabber ID: {e}"))?;
    if jid.node().is_none() {
        return Err("a Jabber ID has a name before the @, like name@example.org".into());
    }
    if !jid.domain().as_str().contains('.') && jid.domain().as_str() != "localhost" {
        return Err("the part after the @ must be a server name, like example.org".into());
    }
    Ok(jid)
}

#[cfg(test)]
mod tests {
    use super::parse_bare;

    #[test]
    fn accepts_bare_jids() {
        assert_eq!(parse_bare(" a@b.org ").unwrap().to_string(), "a@b.org");
        assert!(parse_bare("learner@localhost").is_ok());
    }

    #[test]
    fn refuses_others() {
        for bad in ["", "b.org", "a@b.org/res", "a@@b", "a@b", &"x".repeat(4000)] {
            assert!(parse_bare(bad).is_err(), "{bad:?} accepted");
        }
    }
}
