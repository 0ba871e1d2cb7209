//! Unencoded messages (spec: "Unencoded messages"): plaintext with or without a whitespace
//! tag, OTR Query Messages and OTR Error Messages, and the classification of a received chat
//! message into these kinds or an encoded message or fragment.

use crate::error::{OtrError, Result};
use crate::policy::Versions;
use crate::wire;

/// The 16-byte base of every whitespace tag.
pub const TAG_BASE: &str = "\x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20";
/// The 8-byte whitespace tag for version 1 (recognised and ignored).
pub const TAG_V1: &str = "\x20\x09\x20\x09\x20\x20\x09\x20";
/// The 8-byte whitespace tag for version 2.
pub const TAG_V2: &str = "\x20\x20\x09\x09\x20\x20\x09\x20";
/// The 8-byte whitespace tag for version 3.
pub const TAG_V3: &str = "\x20\x20\x09\x09\x20\x20\x09\x09";

/// Prefix of an OTR error message.
pub const ERROR_PREFIX: &str = "?OTR Error:";

/// What an incoming chat message is, before any protocol state is consulted.
#[derive(Debug, PartialEq, Eq)]
pub enum Classified {
    /// Plain text without an OTR marker.
    Plain(String),
    /// Plain text that carried a whitespace tag (removed here).
    Tagged {
        /// The text with the tag removed.
        text: String,
        /// The versions advertised by the tag.
        versions: Versions,
    },
    /// An OTR query message.
    Query(Versions),
    /// An OTR error message with its text.
    Error(String),
    /// A fragment of a larger encoded message.
    Fragment(String),
    /// A decoded `?OTR:` message (binary).
    Encoded(Vec<u8>),
}

/// Classifies a received chat message like libotr's `otrl_proto_message_type`.
pub fn classify(msg: &str) -> Result<Classified> {
    if let Some(i) = msg.find("?OTR") {
        let rest = &msg[i..];
        if rest.starts_with("?OTR|") || rest.starts_with("?OTR,") {
            return Ok(Classified::Fragment(rest.to_owned()));
        }
        if let Some(b64) = rest.strip_prefix("?OTR:") {
            let end = b64
                .find('.')
                .ok_or(OtrError::Malformed("no '.' after base64"))?;
            return Ok(Classified::Encoded(wire::base64_decode(&b64[..end])?));
        }
        if let Some(text) = rest.strip_prefix(ERROR_PREFIX) {
            return Ok(Classified::Error(text.trim_start().to_owned()));
        }
        if rest.starts_with("?OTR?") || rest.starts_with("?OTRv") {
            return Ok(Classified::Query(query_versions(&rest[4..])));
        }
    }
    if let Some(i) = msg.find(TAG_BASE) {
        let mut versions = Versions::default();
        let mut end = i + TAG_BASE.len();
        loop {
            let tail = &msg[end..];
            if tail.starts_with(TAG_V2) {
                versions.v2 = true;
            } else if tail.starts_with(TAG_V3) {
                versions.v3 = true;
            } else if !tail.starts_with(TAG_V1) {
                break;
            }
            end += 8;
        }
        let text = format!("{}{}", &msg[..i], &msg[end..]);
        return Ok(Classified::Tagged { text, versions });
    }
    Ok(Classified::Plain(msg.to_owned()))
}

/// Parses the versions after "?OTR" in a query ("?v23?", "?v2?", "v3?").
fn query_versions(s: &str) -> Versions {
    let mut v = Versions::default();
    let s = s.strip_prefix('?').unwrap_or(s);
    if let Some(digits) = s.strip_prefix('v') {
        for c in digits.chars().take_while(|&c| c != '?') {
            match c {
                '2' => v.v2 = true,
                '3' => v.v3 = true,
                _ => {}
            }
        }
    }
    v
}

/// The bare query message for a set of versions (e.g. "?OTRv23?").
pub fn query_message(versions: Versions) -> String {
    let mut s = String::from("?OTRv");
    if versions.v2 {
        s.push('2');
    }
    if versions.v3 {
        s.push('3');
    }
    s.push('?');
    s
}

/// The query message with libotr's explanatory text for people without OTR.
pub fn default_query(versions: Versions, account: &str) -> String {
    format!(
        "{}\n<b>{account}</b> has requested an <a href=\"https://otr.cypherpunks.ca/\">Off-the-Record private conversation</a>.  However, you do not have a plugin to support that.\nSee <a href=\"https://otr.cypherpunks.ca/\">https://otr.cypherpunks.ca/</a> for more information.",
        query_message(versions)
    )
}

/// The whitespace tag advertising `versions`.
pub fn whitespace_tag(versions: Versions) -> String {
    let mut s = String::from(TAG_BASE);
    if versions.v2 {
        s.push_str(TAG_V2);
    }
    if versions.v3 {
        s.push_str(TAG_V3);
    }
    s
}
