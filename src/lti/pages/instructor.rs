//! The instructor's page: the learners of the launching activity, with where each is. Only
//! for launches with a context role that teaches ([`crate::lti::launch::is_staff`]), and only the
//! learners of that consumer's resource link.

use crate::lesson::{OmemoStage, Stage};
use crate::lti::error::PageError;
use crate::lti::visit::Visit;
use crate::lti::App;
use rocket::http::Status;
use rocket::response::content::RawHtml;
use rocket::State;

/// One learner as the instructor sees them.
#[derive(serde::Serialize)]
struct LearnerRow {
    jid: String,
    /// The stage's name, translated.
    stage: String,
    /// What the stage means, translated.
    stage_help: String,
    last_activity: String,
    has_secret: bool,
    completed: bool,
}

/// A stage's name and what it means, in English (translated on output).
pub fn stage_text(stage: Option<&Stage>) -> (&'static str, &'static str) {
    match stage {
        Some(Stage::Waiting(_)) | None => (
            crate::tr!("Waiting"),
            crate::tr!("Has entered a Jabber ID; has not written to the bot yet."),
        ),
        Some(Stage::Plaintext(_)) => (
            crate::tr!("Writing unencrypted"),
            crate::tr!("Writes to the bot, but has not switched on OTR yet."),
        ),
        Some(Stage::Encrypted(_)) => (
            crate::tr!("Encrypted"),
            crate::tr!("OTR is on; has not verified the bot with the shared secret yet."),
        ),
        Some(Stage::Verifying(..)) => (
            crate::tr!("Verifying"),
            crate::tr!("Is verifying the bot with the shared secret (SMP) right now."),
        ),
        Some(Stage::Verified(_)) => (
            crate::tr!("Verified"),
            crate::tr!("Has verified the bot and got the completion code; has not entered it yet."),
        ),
        Some(Stage::Completed(_)) => (
            crate::tr!("Completed"),
            crate::tr!("Entered the completion code: finished."),
        ),
        Some(Stage::Ended(_)) => (crate::tr!("Ended"), crate::tr!("The session is over.")),
        Some(Stage::Omemo(s)) => omemo_stage_text(s),
    }
}

/// An OMEMO lesson stage's name and what it means, in English (translated on output).
fn omemo_stage_text(stage: &OmemoStage) -> (&'static str, &'static str) {
    match stage {
        OmemoStage::Waiting(_) => (
            crate::tr!("Waiting"),
            crate::tr!("Has entered a Jabber ID; has not written to the bot yet."),
        ),
        OmemoStage::Plaintext(_) => (
            crate::tr!("Writing unencrypted"),
            crate::tr!("Writes to the bot, but has not switched on OMEMO yet."),
        ),
        OmemoStage::Unverified(_) => (
            crate::tr!("Encrypted, not verified"),
            crate::tr!("OMEMO is on, but the client still encrypts for the impostor device (or only for it)."),
        ),
        OmemoStage::Verified(_) => (
            crate::tr!("Verified"),
            crate::tr!("Has verified the bot and got the completion code; has not entered it yet."),
        ),
        OmemoStage::Completed(_) => (
            crate::tr!("Completed"),
            crate::tr!("Entered the completion code: finished."),
        ),
    }
}

#[rocket::get("/instructor")]
pub async fn instructor(app: &State<App>, v: Visit) -> Result<RawHtml<String>, PageError> {
    if !v.staff {
        return Err(PageError::new(
            Status::Forbidden,
            crate::tr!("This page is for teachers of the course."),
        )
        .with_locale(&v.locale));
    }
    let s = app.store.clone();
    let all = tokio::task::spawn_blocking(move || s.sessions())
        .await
        .map_err(|e| PageError::internal(format!("task: {e}")))?
        .map_err(|e| PageError::internal(format!("store: {e}")))?;
    let rows: Vec<LearnerRow> = all
        .into_iter()
        .filter(|(_, r)| {
            r.session.lti.as_ref().is_some_and(|b| {
                b.consumer_key == v.lti.consumer_key && b.resource_link_id == v.lti.resource_link_id
            })
        })
        .map(|(jid, r)| {
            let stage = app.course.stage(&r.session);
            let (name, help) = stage_text(stage.as_ref());
            LearnerRow {
                jid,
                stage: app.pages.text(&v.locale, name),
                stage_help: app.pages.text(&v.locale, help),
                last_activity: crate::clock::utc(r.session.last_activity),
                has_secret: r.session.shared_secret.is_some(),
                completed: stage.as_ref().is_some_and(Stage::is_completed),
            }
        })
        .collect();
    let mut ctx = super::context(app, &v);
    ctx.insert("learners", &rows);
    ctx.insert("resource_link_id", &v.lti.resource_link_id);
    app.pages
        .render(&v.locale, "instructor.html.tera", &ctx)
        .map(RawHtml)
        .map_err(|e| PageError::internal(e.to_string()))
}
