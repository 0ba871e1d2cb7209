//! `otrbot secret set JID`: the operator gives a learner a new shared secret (read from
//! standard input), for a learner whitelisted from the command line whose secret was voided
//! (typed into the chat) and who has no course page to choose another on. The lesson decides
//! on it, as on a secret from the course page ([`Teacher::secret_entered`]).

use super::admin::{check_jid, ErrorKind, Reply, Response};
use super::teach::{Teacher, Teaching};
use crate::i18n::speech::explain;
use crate::i18n::Catalogs;
use crate::lti::SecretVerdict;
use crate::settings::Settings;
use crate::store::{KeyPool, Store};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use tokio::sync::mpsc;
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

fn refused(kind: ErrorKind, message: String) -> Response {
    Response::Error { kind, message }
}

/// Gives `secret` to the lesson of `jid`, which decides on it as on one chosen on the course
/// page (and says so in chat when the bot runs); the answer for the operator.
pub async fn set(teacher: &Teacher, jid: &str, secret: &SecretText) -> Response {
    let jid = match check_jid(jid) {
        Ok(j) => j,
        Err(m) => return refused(ErrorKind::InvalidArgument, m),
    };
    match teacher.secret_entered(&jid, &secret.0).await {
        Ok(SecretVerdict::Stored) => Response::Ok {
            reply: Reply::SecretSet { jid },
        },
        Ok(SecretVerdict::Refused(weak)) => {
            let why = explain(&Catalogs::empty(), "en", &weak);
            refused(ErrorKind::InvalidArgument, format!("secret refused: {why}"))
        }
        Ok(SecretVerdict::AlreadyVerified) => refused(
            ErrorKind::InvalidArgument,
            format!("{jid} has verified the bot already: no secret is needed any more"),
        ),
        Ok(SecretVerdict::NoSession) => refused(
            ErrorKind::NotFound,
            format!("{jid} has no session (it starts when they write, with lesson.default_secret)"),
        ),
        Err(e) => refused(ErrorKind::Store, e.to_string()),
    }
}

/// [`set`] with the bot stopped: a teacher on the store alone, whose chat goes nowhere.
pub fn set_offline(store: &Store, settings: &Settings, jid: &str, secret: &SecretText) -> Response {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return refused(ErrorKind::Store, format!("cannot start a runtime: {e}")),
    };
    rt.block_on(async {
        // No keys are made here: a session has its key already.
        let pool = match KeyPool::start(store.clone(), 0, Arc::new(Vec::new)) {
            Ok(p) => Arc::new(p),
            Err(e) => return refused(ErrorKind::Store, format!("key pool: {e}")),
        };
        let (xmpp, _) = mpsc::channel(1);
        let teaching = Teaching {
            per_char: None,
            ..Teaching::from_settings(settings)
        };
        let teacher = Teacher::new(
            store.clone(),
            pool,
            Arc::new(Catalogs::empty()),
            teaching,
            xmpp,
        )
        .expect("the teacher");
        set(&teacher, jid, secret).await
    })
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
