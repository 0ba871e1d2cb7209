//! Error pages: every failure is a translated page with a status, never a stack trace.

use super::visit;
use super::App;
use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder};

/// A failure shown to the learner as a page; `log` holds details for the operator only.
#[derive(Debug, Clone)]
pub struct PageError {
    /// The HTTP status.
    pub status: Status,
    /// The English text shown (translated on output).
    pub msgid: &'static str,
    /// The page locale, when known.
    pub locale: Option<String>,
    /// Details for the log, never shown.
    pub log: Option<String>,
    /// Not an error after all: the page is not the learner's step, so the answer sends them to
    /// this path (under the public URL's prefix) instead.
    pub elsewhere: Option<&'static str>,
}

impl PageError {
    /// A page with `status` saying `msgid`.
    pub fn new(status: Status, msgid: &'static str) -> Self {
        PageError {
            status,
            msgid,
            locale: None,
            log: None,
            elsewhere: None,
        }
    }

    /// Sends the browser to `path` (a redirect, 303): for a page opened out of order.
    pub fn elsewhere(path: &'static str) -> Self {
        PageError {
            elsewhere: Some(path),
            ..Self::new(Status::SeeOther, MSG_400)
        }
    }

    /// An internal failure: logged, and shown as a plain "something went wrong".
    pub fn internal(detail: impl Into<String>) -> Self {
        PageError {
            log: Some(detail.into()),
            ..Self::new(Status::InternalServerError, MSG_500)
        }
    }

    /// Shows the page in `locale`.
    pub fn with_locale(mut self, locale: &str) -> Self {
        self.locale = Some(locale.to_owned());
        self
    }
}

const MSG_400: &str =
    crate::tr!("The request could not be understood. Please start again from your course.");
const MSG_403: &str = crate::tr!("This page can only be opened from your course. Please start the exercise from your course page.");
const MSG_404: &str = crate::tr!("There is no such page.");
const MSG_413: &str = crate::tr!("What you sent is too long.");
const MSG_422: &str = crate::tr!("The form was not filled in as expected. Please try again.");
const MSG_500: &str = crate::tr!("Something went wrong on our side. Please try again in a moment.");

/// Renders the error page for `status` with `msgid` (falls back to plain text if even the
/// template fails).
pub fn render(req: &Request<'_>, status: Status, msgid: &str, locale: Option<&str>) -> Page {
    let body = req.rocket().state::<App>().and_then(|app| {
        let locale = locale.map(str::to_owned).unwrap_or_else(|| {
            visit::from_jar(req.cookies(), app, crate::clock::unix_now())
                .map_or_else(|| app.pages.locale_for(None), |v| v.locale)
        });
        let visit = visit::from_jar(req.cookies(), app, crate::clock::unix_now());
        let mut ctx = app.base_context();
        // The way on: the step the visit is on (`/` sends there), and back to the course.
        ctx.insert("has_visit", &visit.is_some());
        ctx.insert(
            "return_url",
            &visit.as_ref().and_then(|v| v.lti.return_url.clone()),
        );
        ctx.insert("status", &status.code);
        ctx.insert("message", &app.pages.text(&locale, msgid));
        match app.pages.render(&locale, "error.html.tera", &ctx) {
            Ok(html) => Some(html),
            Err(e) => {
                tracing::error!(error = %e, "cannot render the error page");
                None
            }
        }
    });
    let (ct, body) = match body {
        Some(html) => (ContentType::HTML, html),
        None => (
            ContentType::Plain,
            format!("{} {}\n{msgid}\n", status.code, status.reason_lossy()),
        ),
    };
    (status, (ct, body))
}

/// An error page: status, content type and body.
pub type Page = (Status, (ContentType, String));

impl<'r> Responder<'r, 'static> for PageError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        if let Some(path) = self.elsewhere {
            let prefix = req
                .rocket()
                .state::<App>()
                .map_or("", |a| a.prefix.as_str());
            tracing::info!(uri = %req.uri(), to = path, "page opened out of order");
            return rocket::response::Redirect::to(format!("{prefix}{path}")).respond_to(req);
        }
        if let Some(detail) = &self.log {
            tracing::error!(status = self.status.code, uri = %req.uri(), detail, "page error");
        } else {
            tracing::info!(status = self.status.code, uri = %req.uri(), msg = self.msgid, "page refused");
        }
        render(req, self.status, self.msgid, self.locale.as_deref()).respond_to(req)
    }
}

#[rocket::catch(400)]
fn bad_request(req: &Request<'_>) -> Page {
    render(req, Status::BadRequest, MSG_400, None)
}

#[rocket::catch(403)]
fn forbidden(req: &Request<'_>) -> Page {
    render(req, Status::Forbidden, MSG_403, None)
}

#[rocket::catch(404)]
fn not_found(req: &Request<'_>) -> Page {
    render(req, Status::NotFound, MSG_404, None)
}

#[rocket::catch(413)]
fn too_large(req: &Request<'_>) -> Page {
    render(req, Status::PayloadTooLarge, MSG_413, None)
}

#[rocket::catch(422)]
fn unprocessable(req: &Request<'_>) -> Page {
    render(req, Status::UnprocessableEntity, MSG_422, None)
}

#[rocket::catch(500)]
fn internal(req: &Request<'_>) -> Page {
    render(req, Status::InternalServerError, MSG_500, None)
}

#[rocket::catch(default)]
fn other(status: Status, req: &Request<'_>) -> Page {
    render(req, status, MSG_400, None)
}

/// The catchers for every error status.
pub fn catchers() -> Vec<rocket::Catcher> {
    rocket::catchers![
        bad_request,
        forbidden,
        not_found,
        too_large,
        unprocessable,
        internal,
        other
    ]
}
