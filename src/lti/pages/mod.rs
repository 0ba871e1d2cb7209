//! The pages, by audience: [`entry`] (the LMS's launch, the way in, `/is_up`), [`learner`]
//! (JID, shared secret, completion code) and [`instructor`]; here what they share.

mod class;
mod entry;
mod guide;
mod instructor;
mod learner;
mod progress;
mod reset;
mod times;

use super::error::PageError;
use super::visit::Visit;
use super::App;
use crate::store;
use rocket::http::Status;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use tera::Context;

pub use entry::MAX_LAUNCH_BODY;
pub use instructor::stage_text;
pub use learner::{JID_CLAIM_WINDOW, MAX_JIDS_PER_LEARNER};

/// A rendered page, or the error page.
type Page = Result<RawHtml<String>, PageError>;

use crate::clock::unix_now as now;

/// Renders template `name` in `locale`.
fn render(app: &App, locale: &str, name: &str, ctx: &Context) -> Page {
    app.pages
        .render(locale, name, ctx)
        .map(RawHtml)
        .map_err(|e| PageError::internal(e.to_string()))
}

/// What every page of a visit gets: the base context, the CSRF token, the JIDs.
fn context(app: &App, v: &Visit) -> Context {
    let mut ctx = app.base_context();
    ctx.insert("csrf", &v.csrf);
    ctx.insert("jid", &v.jid);
    ctx.insert("replaced_jid", &v.replaced_jid);
    ctx
}

/// The lesson of the visit: the one its launch chose, else the operator's default.
fn protocol_of(app: &App, v: &Visit) -> crate::lesson::Protocol {
    v.protocol.unwrap_or_else(|| app.course.default_protocol())
}

/// Puts the progress row for a page at `at` of `protocol`'s exercise into `ctx`.
fn with_progress(
    app: &App,
    v: &Visit,
    ctx: &mut Context,
    protocol: crate::lesson::Protocol,
    at: progress::Place,
) {
    ctx.insert("progress", &progress::shown(app, &v.locale, protocol, at));
}

/// A redirect to `path` under the public URL's prefix.
fn to(app: &App, path: &str) -> Redirect {
    Redirect::to(format!("{}{path}", app.prefix))
}

/// A store failure as an internal error page.
fn store_err(e: store::Error) -> PageError {
    PageError::internal(format!("store: {e}"))
}

/// Runs blocking store work off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, store::Error> + Send + 'static,
) -> Result<T, PageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PageError::internal(format!("task: {e}")))?
        .map_err(store_err)
}

/// The page for a visit whose session is gone.
fn session_ended(v: &Visit) -> PageError {
    PageError::new(
        Status::NotFound,
        crate::tr!("Your session has ended. Please start the exercise again from your course."),
    )
    .with_locale(&v.locale)
}

/// Every route.
pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![
        entry::is_up,
        entry::launch,
        entry::launch_get,
        entry::home,
        learner::jid_page,
        learner::jid_submit,
        learner::added,
        learner::secret_page,
        learner::secret_submit,
        learner::code_page,
        learner::code_submit,
        learner::done,
        reset::confirm,
        reset::reset,
        instructor::instructor,
        instructor::instructor_csv
    ]
}
