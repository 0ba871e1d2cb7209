//! `otrbot secret set JID`: the operator gives a learner a new shared secret (read from
//! standard input), for a learner whitelisted from the command line whose secret was voided
//! (typed into the chat) and who has no course page to choose another on.

use super::admin::{AdminEvent, ErrorKind, Reply, Response};
use crate::lesson::{self, secret::check_secret, Env, Event};
use crate::store::{self, SecretBytes, Store};
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::Zeroize;

/// A shared secret inside an admin request: never shown by `Debug` (requests are logged),
/// wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretText(pub String);

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<secret, {} bytes>", self.0.len())
    }
}

impl Drop for SecretText {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

fn refused(kind: ErrorKind, message: String) -> (Response, Option<AdminEvent>) {
    (Response::Error { kind, message }, None)
}

/// Stores `secret` as `jid`'s shared secret (checked as the course page checks it). The
/// running bot then tells the lesson, which says so in chat (the event returned).
pub fn set(store: &Store, jid: &str, secret: &SecretText) -> (Response, Option<AdminEvent>) {
    if let Err(weak) = check_secret(&secret.0) {
        let params = weak.params();
        let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let why = crate::i18n::format(weak.msgid(), &refs);
        return refused(ErrorKind::InvalidArgument, format!("secret refused: {why}"));
    }
    let bytes = SecretBytes::from(secret.0.as_bytes());
    match store.update_session(jid, |s| s.shared_secret = Some(bytes.clone())) {
        Ok(_) => {
            let reply = Reply::SecretSet {
                jid: jid.to_owned(),
            };
            let ev = AdminEvent::SecretSet {
                jid: jid.to_owned(),
            };
            (Response::Ok { reply }, Some(ev))
        }
        Err(store::Error::NoSession(_)) => refused(
            ErrorKind::NotFound,
            format!("{jid} has no session (it starts when they write, with lesson.default_secret)"),
        ),
        Err(e) => refused(ErrorKind::Store, e.to_string()),
    }
}

/// With the bot stopped, nobody runs the lesson for [`AdminEvent::SecretSet`]: its stage takes
/// the stored secret here as if the course page had sent it (nothing can be said in chat
/// now), so that the learner's next SMP is answered.
pub fn lesson_takes_secret(store: &Store, jid: &str) -> Result<(), String> {
    let Some(stored) = store.session(jid).map_err(|e| e.to_string())? else {
        return Ok(());
    };
    let Some(secret) = stored.session.shared_secret.as_ref() else {
        return Ok(());
    };
    let secret = zeroize::Zeroizing::new(String::from_utf8_lossy(secret.expose()).into_owned());
    let stage = super::teach::stage_of(&stored.session).map_err(|e| e.to_string())?;
    let event = Event::SecretReceived {
        secret: secret.to_string(),
    };
    let (next, _) = match lesson::step(&stage, &event, &Env::default()) {
        Ok(r) => r,
        // A verified or finished lesson has no use for a secret.
        Err(_) => return Ok(()),
    };
    let bytes = bincode::serde::encode_to_vec(&next, bincode::config::standard())
        .map_err(|e| e.to_string())?;
    let name = next.name().to_owned();
    store
        .update_session(jid, |s| {
            s.lesson_state = bytes.clone();
            s.stage = name.clone();
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_in_a_request_is_never_shown() {
        let s = SecretText("purple otters dance".into());
        assert_eq!(format!("{s:?}"), "<secret, 19 bytes>");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"purple otters dance\"");
    }
}
