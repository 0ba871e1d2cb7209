//! The learner's visit: a private (encrypted, authenticated) cookie set by a valid launch,
//! usable inside an LMS iframe (`SameSite=None; Secure; Partitioned`), with the CSRF token
//! that every form must carry.

use super::error::PageError;
use super::App;
use crate::store::LtiBinding;
use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::request::{FromRequest, Outcome, Request};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const COOKIE: &str = "otrbot_lti";

/// What the cookie carries between pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visit {
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
}

/// A fresh random token, hex.
pub fn token() -> Result<String, PageError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| PageError::internal(format!("no randomness: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

impl Visit {
    /// Stores the visit in the private cookie.
    pub fn save(&self, jar: &CookieJar<'_>) -> Result<(), PageError> {
        let value = serde_json::to_string(self)
            .map_err(|e| PageError::internal(format!("cookie encoding: {e}")))?;
        let cookie = Cookie::build((COOKIE, value))
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

/// The visit from the cookie, if valid and not too old for `app`.
pub fn from_jar(jar: &CookieJar<'_>, app: &App, now: u64) -> Option<Visit> {
    let c = jar.get_private(COOKIE)?;
    let v: Visit = serde_json::from_str(c.value()).ok()?;
    (v.issued_at.saturating_add(app.visit_max_age) >= now && v.issued_at <= now + 60).then_some(v)
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Visit {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(app) = req.rocket().state::<App>() else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        match from_jar(req.cookies(), app, crate::store::scanner::unix_now()) {
            Some(v) => Outcome::Success(v),
            None => Outcome::Error((Status::Forbidden, ())),
        }
    }
}
