//! The learner's visit: kept in the store, found through a small private (encrypted,
//! authenticated) cookie that holds only its random id, set by a valid launch and usable
//! inside an LMS iframe (`SameSite=None; Secure; Partitioned`); with the CSRF token that
//! every form must carry. A launch's fields (up to 1 KiB each) never reach the browser, so
//! no cookie grows past what browsers keep (4 KiB).

use super::error::PageError;
use super::App;
use crate::store::{GradeNote, LtiBinding};
use data_encoding::HEXLOWER;
use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::request::{FromRequest, Outcome, Request};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const COOKIE: &str = "otrbot_lti";

/// What the store keeps of a visit between pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    /// The visit's id (hex), the cookie's only content.
    pub id: String,
    /// The launch.
    pub lti: LtiBinding,
    /// The page locale (a loaded one).
    pub locale: String,
    /// Whether the launcher has a staff role.
    pub staff: bool,
    /// The CSRF token (hex).
    pub csrf: String,
    /// The JID, once entered.
    pub jid: Option<String>,
    /// When the launch happened (Unix seconds).
    pub issued_at: u64,
    /// Whether the completion code was accepted.
    pub done: bool,
    /// What became of the grade, once the code was accepted.
    pub grade: Option<GradeNote>,
    /// A JID this visit entered before the current one, whose session ended for it.
    pub replaced_jid: Option<String>,
    /// The lesson the launch chose (`custom_protocol`); the operator's default otherwise.
    #[serde(default)]
    pub protocol: Option<crate::lesson::Protocol>,
}

/// A fresh random token, hex.
pub fn token() -> Result<String, PageError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| PageError::internal(format!("no randomness: {e}")))?;
    Ok(HEXLOWER.encode(&b))
}

impl Visit {
    /// Stores the visit until `app.visit_max_age` after its launch and puts its id in the
    /// private cookie.
    pub fn save(&self, app: &App, jar: &CookieJar<'_>) -> Result<(), PageError> {
        let value = serde_json::to_vec(self)
            .map_err(|e| PageError::internal(format!("visit encoding: {e}")))?;
        let expires = self.issued_at.saturating_add(app.visit_max_age);
        app.store
            .visit_put(self.id.as_bytes(), &value, expires)
            .map_err(|e| PageError::internal(format!("store: {e}")))?;
        let cookie = Cookie::build((COOKIE, self.id.clone()))
            .path("/")
            .http_only(true)
            .secure(true)
            .same_site(SameSite::None)
            .partitioned(true);
        jar.add_private(cookie);
        Ok(())
    }

    /// Checks a form's CSRF token in constant time.
    pub fn check_csrf(&self, given: &str) -> Result<(), PageError> {
        if bool::from(self.csrf.as_bytes().ct_eq(given.as_bytes())) && !given.is_empty() {
            Ok(())
        } else {
            Err(PageError::new(
                Status::Forbidden,
                crate::tr!("This form has expired or did not come from this page. Please start again from your course."),
            )
            .with_locale(&self.locale))
        }
    }
}

/// The visit whose id the cookie holds, if the store still has it at `now`.
pub fn from_jar(jar: &CookieJar<'_>, app: &App, now: u64) -> Option<Visit> {
    let c = jar.get_private(COOKIE)?;
    let id = c.value();
    if !HEXLOWER.decode(id.as_bytes()).is_ok_and(|b| b.len() == 32) {
        return None;
    }
    let bytes = match app.store.visit_get(id.as_bytes(), now) {
        Ok(b) => b?,
        Err(e) => {
            tracing::error!(error = %e, "cannot read a visit");
            return None;
        }
    };
    let v: Visit = serde_json::from_slice(&bytes).ok()?;
    (v.id == id && v.issued_at <= now + 60).then_some(v)
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Visit {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(app) = req.rocket().state::<App>() else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        match from_jar(req.cookies(), app, crate::clock::unix_now()) {
            Some(v) => Outcome::Success(v),
            None => Outcome::Error((Status::Forbidden, ())),
        }
    }
}
