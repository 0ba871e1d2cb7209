//! The ways in: the LMS's launch (`POST /launch`, checked and turned into a visit), `/` (to
//! the page where the visitor is) and `/is_up`.

use super::class::{step_of, Step};
use super::{blocking, now, to};
use crate::lesson::{Protocol, Stage};
use crate::lti::course::same_learner;
use crate::lti::error::PageError;
use crate::lti::launch::{launch_params, LaunchError, Verifier};
use crate::lti::visit::{self, Visit};
use crate::lti::App;
use rocket::data::{Data, ToByteUnit};
use rocket::http::uri::Origin;
use rocket::http::{ContentType, CookieJar, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::Redirect;
use rocket::State;

/// The longest launch body read, in bytes.
pub const MAX_LAUNCH_BODY: u64 = 32 * 1024;

/// The `Authorization` header, if any.
pub struct AuthHeader(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AuthHeader {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        Outcome::Success(AuthHeader(
            req.headers().get_one("Authorization").map(str::to_owned),
        ))
    }
}

#[rocket::get("/is_up")]
pub(super) fn is_up() -> &'static str {
    "ok\n"
}

fn launch_refused(e: &LaunchError) -> PageError {
    let (status, msgid) = match e {
        LaunchError::Missing(_) | LaunchError::Unsupported(_) | LaunchError::TooLong(_) => (
            Status::BadRequest,
            crate::tr!("The course did not send what this exercise needs. Please tell your teacher."),
        ),
        LaunchError::UnknownConsumer | LaunchError::BadSignature => (
            Status::Forbidden,
            crate::tr!("This launch could not be verified. Please start the exercise again from your course."),
        ),
        LaunchError::StaleTimestamp | LaunchError::Replayed => (
            Status::Forbidden,
            crate::tr!("This launch has expired or was already used. Please start the exercise again from your course."),
        ),
        LaunchError::Store(_) => return PageError::internal(e.to_string()),
    };
    PageError {
        log: None,
        ..PageError::new(status, msgid)
    }
}

#[rocket::post("/launch", data = "<body>")]
pub(super) async fn launch(
    app: &State<App>,
    origin: &Origin<'_>,
    ct: Option<&ContentType>,
    auth: AuthHeader,
    body: Data<'_>,
    jar: &CookieJar<'_>,
) -> Result<Redirect, PageError> {
    let raw = body
        .open(MAX_LAUNCH_BODY.bytes())
        .into_string()
        .await
        .map_err(|e| PageError::internal(format!("reading the launch: {e}")))?;
    if !raw.is_complete() {
        return Err(PageError::new(
            Status::PayloadTooLarge,
            crate::tr!("What you sent is too long."),
        ));
    }
    let form = ct.is_some_and(|c| c.is_form()).then_some(raw.as_str());
    let query = origin.query().map(|q| q.as_str());
    let Some(params) = launch_params(query, form, auth.0.as_deref()) else {
        return Err(PageError::new(
            Status::PayloadTooLarge,
            crate::tr!("What you sent is too long."),
        ));
    };
    let path = origin.path().as_str().to_owned();
    let store = app.store.clone();
    let (consumers, public_url, window) = (
        app.lti.consumers.clone(),
        app.lti.public_url.clone(),
        app.lti.timestamp_window,
    );
    let checked = tokio::task::spawn_blocking(move || {
        Verifier {
            consumers: &consumers,
            public_url: &public_url,
            window,
            store: &store,
        }
        .check(&path, &params, now())
    })
    .await
    .map_err(|e| PageError::internal(format!("task: {e}")))?;
    let mut l = checked.map_err(|e| {
        tracing::info!(error = %e, "LTI launch refused");
        launch_refused(&e)
    })?;
    if l.binding.user_id.is_empty() {
        // No user_id: this launch is a learner of its own, matched to no other launch's
        // session or grade.
        l.binding.user_id = format!("(anonymous launch {})", visit::token()?);
    }
    if let Some(name) = l.name.take() {
        let (store, who) = (app.store.clone(), l.binding.learner_key());
        blocking(move || store.learner_name_put(&who, &name)).await?;
    }
    let locale = app.pages.locale_for(l.locale.as_deref());
    tracing::info!(
        consumer = %l.binding.consumer_key,
        resource_link = %l.binding.resource_link_id,
        staff = l.staff,
        locale = %locale,
        "LTI launch"
    );
    let v = Visit {
        id: visit::token()?,
        lti: l.binding,
        locale,
        staff: l.staff,
        csrf: visit::token()?,
        jid: None,
        issued_at: now(),
        done: false,
        grade: None,
        replaced_jid: None,
        protocol: l.protocol,
    };
    v.save(app, jar)?;
    Ok(to(app, if v.staff { "/instructor" } else { "/jid" }))
}

/// Someone opened the launch address directly (a bookmark, a link copied from the LMS).
#[rocket::get("/launch")]
pub(super) fn launch_get() -> PageError {
    PageError::new(
        Status::BadRequest,
        crate::tr!("This address only works when your course opens it. Please open the exercise from your course page."),
    )
}

/// Sends a visit to the step it is on: the instructor page, the result, the JID page when
/// there is no session (yet, or any more), else by the lesson's stage and the shared secret.
#[rocket::get("/")]
pub(super) async fn home(app: &State<App>, v: Visit) -> Result<Redirect, PageError> {
    if v.staff {
        return Ok(to(app, "/instructor"));
    }
    if v.done {
        return Ok(to(app, "/done"));
    }
    let Some(jid) = v.jid.clone() else {
        return Ok(to(app, "/jid"));
    };
    let s = app.store.clone();
    let rec = blocking(move || s.session(&jid)).await?;
    let Some(rec) = rec.filter(|r| {
        r.session
            .lti
            .as_ref()
            .is_some_and(|b| same_learner(b, &v.lti))
    }) else {
        return Ok(to(app, "/jid"));
    };
    let stage = app.course.stage(&rec.session);
    let protocol = stage.as_ref().map_or(Protocol::Otr, Stage::protocol);
    let started = stage
        .as_ref()
        .is_none_or(|s| step_of(Some(s)) == Some(Step::Started));
    let next = match protocol {
        Protocol::Otr if rec.session.shared_secret.is_some() => "/code",
        // Not written to the bot yet: adding it is the step.
        _ if started => "/added",
        Protocol::Otr => "/secret",
        Protocol::Omemo => "/code",
    };
    Ok(to(app, next))
}
