//! Resetting one learner from the instructor page: a confirmation page, then the reset itself
//! (the session ends and a new one starts: a new code, a new OTR key; [`crate::lti::Course`]).

use super::instructor::staff_only;
use super::{blocking, context, render, to, Page};
use crate::lti::course::{same_activity, Reset};
use crate::lti::error::PageError;
use crate::lti::visit::Visit;
use crate::lti::App;
use rocket::form::Form;
use rocket::http::{RawStr, Status};
use rocket::response::Redirect;
use rocket::{FromForm, State};

/// The longest JID taken (RFC 7622: 3071 bytes).
const MAX_JID: usize = 3071;

const NOT_IN_CLASS: &str =
    crate::tr!("No learner of this activity has this Jabber ID (any more). Go back to the list of learners and choose again.");

/// The learner `jid`'s name and stage name, if their session belongs to the visit's activity.
async fn member(app: &App, v: &Visit, jid: &str) -> Result<Option<(String, String)>, PageError> {
    let (s, j, class) = (app.store.clone(), jid.to_owned(), v.lti.clone());
    blocking(move || {
        let Some(rec) = s.session(&j)? else {
            return Ok(None);
        };
        let Some(b) = rec
            .session
            .lti
            .as_ref()
            .filter(|b| same_activity(b, &class))
        else {
            return Ok(None);
        };
        let name = s.learner_name(&b.learner_key())?.unwrap_or_default();
        Ok(Some((name, rec.session.stage.clone())))
    })
    .await
}

/// Asks the teacher to confirm resetting `jid`.
#[rocket::get("/instructor/reset?<jid>")]
pub(super) async fn confirm(app: &State<App>, v: Visit, jid: &str) -> Page {
    staff_only(&v)?;
    let jid: String = jid.chars().take(MAX_JID).collect();
    let Some((name, _)) = member(app, &v, &jid).await? else {
        return Err(PageError::new(Status::NotFound, NOT_IN_CLASS).with_locale(&v.locale));
    };
    let mut ctx = context(app, &v);
    ctx.insert("learner_jid", &jid);
    ctx.insert("learner_name", &name);
    render(app, &v.locale, "reset.html.tera", &ctx)
}

/// The confirmation form.
#[derive(FromForm)]
pub(super) struct ResetForm<'r> {
    #[field(validate = len(..=128))]
    csrf: &'r str,
    #[field(validate = len(1..=3071))]
    jid: &'r str,
}

/// Resets the learner, then back to the list, which says so.
#[rocket::post("/instructor/reset", data = "<form>")]
pub(super) async fn reset(
    app: &State<App>,
    v: Visit,
    form: Form<ResetForm<'_>>,
) -> Result<Redirect, PageError> {
    staff_only(&v)?;
    v.check_csrf(form.csrf)?;
    let done = app
        .course
        .reset_session(form.jid, &v.lti)
        .await
        .map_err(|e| PageError::internal(e.to_string()))?;
    if done == Reset::NotInClass {
        return Err(PageError::new(Status::NotFound, NOT_IN_CLASS).with_locale(&v.locale));
    }
    tracing::info!(jid = %form.jid, "a teacher reset a learner");
    Ok(to(
        app,
        &format!(
            "/instructor?reset={}",
            RawStr::new(form.jid).percent_encode()
        ),
    ))
}
