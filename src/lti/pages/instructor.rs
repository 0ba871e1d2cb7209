//! The instructor's page: the learners of the launching activity, with where each is. Only
//! for launches with a context role that teaches ([`crate::lti::launch::is_staff`]), and only the
//! learners of that consumer's resource link.

use super::{class, times};
use crate::lesson::{OmemoStage, Stage};
use crate::lti::error::PageError;
use crate::lti::visit::Visit;
use crate::lti::App;
use crate::store::Session;
use rocket::http::{ContentType, Header, Status};
use rocket::response::content::RawHtml;
use rocket::State;

/// One learner as the instructor sees them.
#[derive(serde::Serialize)]
struct LearnerRow {
    /// The name the LMS gave at launch, or empty.
    name: String,
    jid: String,
    /// The JID percent-encoded, for a query string.
    jid_query: String,
    /// The stage's name, translated.
    stage: String,
    /// What the stage means, translated.
    stage_help: String,
    last_activity: String,
    has_secret: bool,
    completed: bool,
    /// The mistakes met on the way, translated.
    mistakes: Vec<String>,
    /// From the start to completion, or to the last activity ([`times::duration`]).
    time_spent: String,
    /// The same for `<time datetime>`.
    time_spent_iso: String,
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

/// The sessions of the visit's resource link, with their stages; refused unless the visit
/// teaches in that context.
/// One learner of the activity: their name (if the LMS sent one), JID, session and stage.
struct Member {
    name: String,
    jid: String,
    session: Session,
    stage: Option<Stage>,
    /// When each step was reached ([`times::reached_at`]).
    reached_at: [Option<u64>; 5],
}

impl Member {
    /// Seconds from the start to completion, or to the last activity.
    fn seconds_spent(&self) -> u64 {
        let end = self.reached_at[4].unwrap_or(self.session.last_activity);
        end.saturating_sub(self.session.created_at)
    }
}

/// Refuses a visit whose launch does not teach the activity.
pub(super) fn staff_only(v: &Visit) -> Result<(), PageError> {
    if v.staff {
        return Ok(());
    }
    Err(PageError::new(
        Status::Forbidden,
        crate::tr!("This page is for teachers of the course."),
    )
    .with_locale(&v.locale))
}

async fn class_of(app: &App, v: &Visit) -> Result<Vec<Member>, PageError> {
    staff_only(v)?;
    let (s, lti) = (app.store.clone(), v.lti.clone());
    let all = super::blocking(move || {
        let mut out = Vec::new();
        for (jid, r) in s.sessions()? {
            let Some(b) = r.session.lti.as_ref() else {
                continue;
            };
            if b.consumer_key != lti.consumer_key || b.resource_link_id != lti.resource_link_id {
                continue;
            }
            let name = s.learner_name(&b.learner_key())?.unwrap_or_default();
            let reached_at = times::reached_at(r.session.created_at, &s.stage_times(&jid)?);
            out.push((name, jid, r.session, reached_at));
        }
        Ok(out)
    })
    .await?;
    Ok(all
        .into_iter()
        .map(|(name, jid, session, reached_at)| Member {
            stage: app.course.stage(&session),
            name,
            jid,
            session,
            reached_at,
        })
        .collect())
}

/// The mistakes a learner met, translated.
fn mistakes_text(app: &App, locale: &str, stage: Option<&Stage>) -> Vec<String> {
    class::mistakes(stage)
        .into_iter()
        .map(|(one, many, n)| app.pages.ntext(locale, one, many, n))
        .collect()
}

/// One bar of the funnel picture.
#[derive(serde::Serialize)]
struct Bar {
    name: String,
    reached: usize,
    now: usize,
    /// The median time spent at this step by those who moved on ([`times::duration`]), if any.
    median: Option<String>,
    /// The same for `<time datetime>`.
    median_iso: Option<String>,
    /// The bar's length in the picture's units (0 to [`BAR_MAX`]).
    width: usize,
    y: usize,
}

/// The longest bar, in the SVG's units.
const BAR_MAX: usize = 360;

/// The class's page; `reset` names a learner the teacher just reset.
#[rocket::get("/instructor?<reset>")]
pub async fn instructor(
    app: &State<App>,
    v: Visit,
    reset: Option<&str>,
) -> Result<RawHtml<String>, PageError> {
    let class = class_of(app, &v).await?;
    let funnel = class::Funnel::of(class.iter().map(|m| class::step_of(m.stage.as_ref())));
    let rows: Vec<LearnerRow> = class
        .iter()
        .map(
            |m @ Member {
                 name: who,
                 jid,
                 session,
                 stage,
                 ..
             }| {
                let (name, help) = stage_text(stage.as_ref());
                LearnerRow {
                    time_spent: times::duration(m.seconds_spent()),
                    time_spent_iso: times::iso_duration(m.seconds_spent()),
                    name: who.clone(),
                    jid: jid.clone(),
                    jid_query: rocket::http::RawStr::new(jid).percent_encode().to_string(),
                    stage: app.pages.text(&v.locale, name),
                    stage_help: app.pages.text(&v.locale, help),
                    last_activity: crate::clock::utc(session.last_activity),
                    has_secret: session.shared_secret.is_some(),
                    completed: stage.as_ref().is_some_and(Stage::is_completed),
                    mistakes: mistakes_text(app, &v.locale, stage.as_ref()),
                }
            },
        )
        .collect();
    let total = funnel.reached[0].max(1);
    let reached: Vec<[Option<u64>; 5]> = class.iter().map(|m| m.reached_at).collect();
    let medians = times::median_per_step(&reached);
    let bars: Vec<Bar> = class::Step::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| Bar {
            name: app.pages.text(&v.locale, s.name()),
            reached: funnel.reached[i],
            now: funnel.now_at[i],
            median: medians.get(i).copied().flatten().map(times::duration),
            median_iso: medians.get(i).copied().flatten().map(times::iso_duration),
            width: funnel.reached[i] * BAR_MAX / total,
            y: i * 32,
        })
        .collect();
    let mut ctx = super::context(app, &v);
    ctx.insert("learners", &rows);
    ctx.insert("bars", &bars);
    ctx.insert("ended", &funnel.ended);
    ctx.insert(
        "stuck",
        &funnel.stuck().map(|s| app.pages.text(&v.locale, s.name())),
    );
    ctx.insert("resource_link_id", &v.lti.resource_link_id);
    ctx.insert(
        "reset",
        &reset.map(|j| j.chars().take(3071).collect::<String>()),
    );
    app.pages
        .render(&v.locale, "instructor.html.tera", &ctx)
        .map(RawHtml)
        .map_err(|e| PageError::internal(e.to_string()))
}

/// A CSV body with the header that makes browsers save it.
#[derive(rocket::Responder)]
pub struct Csv {
    body: String,
    disposition: Header<'static>,
}

/// The instructor page's table as CSV (RFC 4180, UTF-8), for a spreadsheet or the gradebook.
#[rocket::get("/instructor.csv")]
pub async fn instructor_csv(app: &State<App>, v: Visit) -> Result<(ContentType, Csv), PageError> {
    let class = class_of(app, &v).await?;
    let t = |m: &str| app.pages.text(&v.locale, m);
    let mut out = class::csv_record(&[
        t(crate::tr!("Name")),
        t(crate::tr!("Jabber ID")),
        t(crate::tr!("Step")),
        t(crate::tr!("Stage")),
        t(crate::tr!("Last activity (UTC)")),
        t(crate::tr!("Time spent (seconds)")),
        t(crate::tr!("Secret set")),
        t(crate::tr!("Finished")),
        t(crate::tr!("Mistakes met")),
    ]);
    let yes_no = |b: bool| {
        t(if b {
            crate::tr!("yes")
        } else {
            crate::tr!("no")
        })
    };
    for m in &class {
        let Member {
            name,
            jid,
            session,
            stage,
            ..
        } = m;
        let step = class::step_of(stage.as_ref()).map_or(String::new(), |s| t(s.name()));
        out.push_str(&class::csv_record(&[
            name.clone(),
            jid.clone(),
            step,
            t(stage_text(stage.as_ref()).0),
            crate::clock::utc(session.last_activity),
            m.seconds_spent().to_string(),
            yes_no(session.shared_secret.is_some()),
            yes_no(stage.as_ref().is_some_and(Stage::is_completed)),
            mistakes_text(app, &v.locale, stage.as_ref()).join("; "),
        ]));
    }
    let name = format!(
        "attachment; filename=\"learners-{}.csv\"",
        v.lti
            .resource_link_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(40)
            .collect::<String>()
    );
    Ok((
        ContentType::new("text", "csv").with_params(("charset", "utf-8")),
        Csv {
            body: out,
            disposition: Header::new("Content-Disposition", name),
        },
    ))
}
