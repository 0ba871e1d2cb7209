//! The routes: launch, the learner's pages, the instructor view and `/is_up`.

use super::error::PageError;
use super::launch::{launch_params, LaunchError, Verifier};
use super::visit::{self, Visit};
use super::App;
use crate::bot::admin::{self, AdminEvent};
use crate::lesson::secret;
use crate::store::{
    self, GradeRequest, LtiBinding, SecretBytes, Session, StoredSession, WhitelistSource,
};
use rocket::data::{Data, ToByteUnit};
use rocket::form::{Form, FromForm};
use rocket::http::uri::Origin;
use rocket::http::{ContentType, CookieJar, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::State;
use tera::Context;

/// The most completion codes a learner may try per session.
pub const MAX_CODE_ATTEMPTS: u32 = 5;
/// Said when a JID is in another learner's session.
const IN_USE: &str = crate::tr!("This Jabber ID is already taking part in another session. Please use another one, or wait until that session ends.");
/// The longest launch body read, in bytes.
pub const MAX_LAUNCH_BODY: u64 = 32 * 1024;

type Page = Result<RawHtml<String>, PageError>;

fn now() -> u64 {
    store::scanner::unix_now()
}

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

fn render(app: &App, locale: &str, name: &str, ctx: &Context) -> Page {
    app.pages
        .render(locale, name, ctx)
        .map(RawHtml)
        .map_err(|e| PageError::internal(e.to_string()))
}

fn context(app: &App, v: &Visit) -> Context {
    let mut ctx = app.base_context();
    ctx.insert("csrf", &v.csrf);
    ctx.insert("jid", &v.jid);
    ctx
}

fn to(app: &App, path: &str) -> Redirect {
    Redirect::to(format!("{}{path}", app.prefix))
}

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

#[rocket::get("/is_up")]
fn is_up() -> &'static str {
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
async fn launch(
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
    let l = checked.map_err(|e| {
        tracing::info!(error = %e, "LTI launch refused");
        launch_refused(&e)
    })?;
    let locale = app.pages.locale_for(l.locale.as_deref());
    tracing::info!(
        consumer = %l.binding.consumer_key,
        resource_link = %l.binding.resource_link_id,
        staff = l.staff,
        locale = %locale,
        "LTI launch"
    );
    let v = Visit {
        lti: l.binding,
        locale,
        staff: l.staff,
        csrf: visit::token()?,
        jid: None,
        issued_at: now(),
        done: false,
    };
    v.save(jar)?;
    Ok(to(app, if v.staff { "/instructor" } else { "/jid" }))
}

#[rocket::get("/")]
fn home(app: &State<App>, v: Visit) -> Redirect {
    let next = match (&v.jid, v.staff, v.done) {
        (_, true, _) => "/instructor",
        (_, _, true) => "/done",
        (Some(_), _, _) => "/added",
        (None, _, _) => "/jid",
    };
    to(app, next)
}

#[rocket::get("/jid")]
fn jid_page(app: &State<App>, v: Visit) -> Page {
    render(app, &v.locale, "jid.html.tera", &context(app, &v))
}

/// The JID form.
#[derive(FromForm)]
struct JidForm<'r> {
    #[field(validate = len(..=128))]
    csrf: &'r str,
    #[field(validate = len(..=3100))]
    jid: &'r str,
}

/// Whether a session's launch is the same learner on the same resource link.
/// The JID page again, with what was entered and why it was refused (422).
fn jid_refused(
    app: &App,
    v: &Visit,
    entered: &str,
    why: &str,
) -> Result<(Status, RawHtml<String>), PageError> {
    let mut ctx = context(app, v);
    ctx.insert("entered", entered);
    ctx.insert("error", &app.pages.text(&v.locale, why));
    let page = render(app, &v.locale, "jid.html.tera", &ctx)?;
    Ok((Status::UnprocessableEntity, page))
}

fn same_learner(a: &LtiBinding, b: &LtiBinding) -> bool {
    a.consumer_key == b.consumer_key
        && a.user_id == b.user_id
        && a.resource_link_id == b.resource_link_id
}

#[rocket::post("/jid", data = "<form>")]
async fn jid_submit(
    app: &State<App>,
    mut v: Visit,
    form: Form<JidForm<'_>>,
    jar: &CookieJar<'_>,
) -> Result<Redirect, Result<(Status, RawHtml<String>), PageError>> {
    v.check_csrf(form.csrf).map_err(Err)?;
    let jid = match admin::check_jid(form.jid) {
        Ok(j) => j,
        Err(reason) => {
            tracing::info!(%reason, "JID refused");
            return Err(jid_refused(
                app,
                &v,
                form.jid,
                crate::tr!("This is not a Jabber ID. A Jabber ID looks like name@example.org, without a / and what follows it."),
            ));
        }
    };
    if jid == app.bot_jid {
        return Err(jid_refused(
            app,
            &v,
            form.jid,
            crate::tr!("That is the bot's Jabber ID. Please enter your own."),
        ));
    }
    let t = now();
    let existing = {
        let (s, j) = (app.store.clone(), jid.clone());
        blocking(move || s.session(&j)).await.map_err(Err)?
    };
    match existing {
        Some(rec)
            if rec
                .session
                .lti
                .as_ref()
                .is_some_and(|b| same_learner(b, &v.lti)) =>
        {
            let (s, j, b, tm) = (app.store.clone(), jid.clone(), v.lti.clone(), app.timeouts);
            blocking(move || {
                s.update_session(&j, |sess| sess.lti = Some(b.clone()))?;
                s.touch(&j, t, tm)
            })
            .await
            .map_err(Err)?;
        }
        Some(_) => {
            let mut ctx = context(app, &v);
            ctx.insert("entered", form.jid);
            ctx.insert("error", &app.pages.text(&v.locale, IN_USE));
            let page = render(app, &v.locale, "jid.html.tera", &ctx).map_err(Err)?;
            return Err(Ok((Status::UnprocessableEntity, page)));
        }
        None => {
            let (s, j, l) = (app.store.clone(), jid.clone(), v.locale.clone());
            let (reply, ev) = tokio::task::spawn_blocking(move || {
                admin::whitelist_add(&s, &j, &l, WhitelistSource::Lti, t)
            })
            .await
            .map_err(|e| Err(PageError::internal(format!("task: {e}"))))?;
            if let admin::Response::Error { message, .. } = &reply {
                return Err(Err(PageError::internal(format!("whitelist: {message}"))));
            }
            let mut session = Session::new("started", v.locale.clone(), t);
            session.lti = Some(v.lti.clone());
            match app.pool.create_session(&jid, &session, app.timeouts).await {
                Ok(_) => {}
                Err(store::Error::SessionExists(_)) => {
                    // Another launch took this JID a moment ago.
                    let mut ctx = context(app, &v);
                    ctx.insert("entered", form.jid);
                    ctx.insert("error", &app.pages.text(&v.locale, IN_USE));
                    let page = render(app, &v.locale, "jid.html.tera", &ctx).map_err(Err)?;
                    return Err(Ok((Status::UnprocessableEntity, page)));
                }
                Err(e) => {
                    // No session, so no whitelist entry that this launch just made either.
                    if ev.is_some() {
                        let (s, j) = (app.store.clone(), jid.clone());
                        if let Err(e) = blocking(move || s.whitelist_remove(&j)).await {
                            tracing::error!(%jid, error = ?e, "cannot undo the whitelist entry");
                        }
                    }
                    return Err(Err(store_err(e)));
                }
            }
            if let Some(ev) = ev {
                app.event(ev).await;
            }
            app.event(AdminEvent::SessionStarted { jid: jid.clone() })
                .await;
        }
    }
    tracing::info!(%jid, "learner entered a JID");
    v.jid = Some(jid);
    v.save(jar).map_err(Err)?;
    Ok(to(app, "/added"))
}

/// The session of the visit's JID, or the page that says to enter one / start again.
async fn learner_session(app: &App, v: &Visit) -> Result<(String, StoredSession), PageError> {
    let Some(jid) = v.jid.clone() else {
        return Err(PageError::new(
            Status::Forbidden,
            crate::tr!("Please enter your Jabber ID first."),
        )
        .with_locale(&v.locale));
    };
    let (s, j) = (app.store.clone(), jid.clone());
    match blocking(move || s.session(&j)).await? {
        Some(rec)
            if rec
                .session
                .lti
                .as_ref()
                .is_some_and(|b| same_learner(b, &v.lti)) =>
        {
            Ok((jid, rec))
        }
        _ => Err(PageError::new(
            Status::NotFound,
            crate::tr!("Your session has ended. Please start the exercise again from your course."),
        )
        .with_locale(&v.locale)),
    }
}

#[rocket::get("/added")]
async fn added(app: &State<App>, v: Visit) -> Page {
    let (jid, _) = learner_session(app, &v).await?;
    let mut ctx = context(app, &v);
    let (s, j) = (app.store.clone(), jid.clone());
    let fingerprint = blocking(move || s.otr_key(&j))
        .await?
        .and_then(|k| super::fingerprint(k.expose()));
    ctx.insert("fingerprint", &fingerprint);
    render(app, &v.locale, "added.html.tera", &ctx)
}

#[rocket::get("/secret")]
async fn secret_page(app: &State<App>, v: Visit) -> Page {
    let (_, rec) = learner_session(app, &v).await?;
    let mut ctx = context(app, &v);
    ctx.insert("has_secret", &rec.session.shared_secret.is_some());
    render(app, &v.locale, "secret.html.tera", &ctx)
}

/// The shared-secret form.
#[derive(FromForm)]
struct SecretForm<'r> {
    #[field(validate = len(..=128))]
    csrf: &'r str,
    #[field(validate = len(..=1024))]
    secret: &'r str,
}

#[rocket::post("/secret", data = "<form>")]
async fn secret_submit(
    app: &State<App>,
    v: Visit,
    form: Form<SecretForm<'_>>,
) -> Result<Redirect, Result<(Status, RawHtml<String>), PageError>> {
    v.check_csrf(form.csrf).map_err(Err)?;
    let (jid, rec) = learner_session(app, &v).await.map_err(Err)?;
    if let Err(w) = secret::check_secret(form.secret) {
        let reason = w.msgid();
        let params = w.params();
        let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let shown = crate::i18n::format(&app.pages.text(&v.locale, reason), &refs);
        tracing::info!(%jid, reason, "shared secret refused");
        app.event(AdminEvent::SecretRefused {
            jid: jid.clone(),
            reason: reason.to_owned(),
        })
        .await;
        let mut ctx = context(app, &v);
        ctx.insert("has_secret", &rec.session.shared_secret.is_some());
        ctx.insert("error", &shown);
        let page = render(app, &v.locale, "secret.html.tera", &ctx).map_err(Err)?;
        return Err(Ok((Status::UnprocessableEntity, page)));
    }
    let bytes = SecretBytes::from(form.secret.as_bytes());
    let (s, j, tm, t) = (app.store.clone(), jid.clone(), app.timeouts, now());
    blocking(move || {
        s.update_session(&j, |sess| {
            sess.shared_secret = Some(bytes.clone());
            sess.attempts.secret = sess.attempts.secret.saturating_add(1);
        })?;
        s.touch(&j, t, tm)
    })
    .await
    .map_err(Err)?;
    app.event(AdminEvent::SecretSet { jid }).await;
    Ok(to(app, "/code"))
}

#[rocket::get("/code")]
async fn code_page(app: &State<App>, v: Visit) -> Page {
    let (_, rec) = learner_session(app, &v).await?;
    let mut ctx = context(app, &v);
    ctx.insert(
        "attempts_left",
        &MAX_CODE_ATTEMPTS.saturating_sub(rec.session.attempts.completion_code),
    );
    render(app, &v.locale, "code.html.tera", &ctx)
}

/// The completion-code form.
#[derive(FromForm)]
struct CodeForm<'r> {
    #[field(validate = len(..=128))]
    csrf: &'r str,
    #[field(validate = len(..=64))]
    code: &'r str,
}

#[rocket::post("/code", data = "<form>")]
async fn code_submit(
    app: &State<App>,
    mut v: Visit,
    form: Form<CodeForm<'_>>,
    jar: &CookieJar<'_>,
) -> Result<Redirect, Result<(Status, RawHtml<String>), PageError>> {
    v.check_csrf(form.csrf).map_err(Err)?;
    let (jid, rec) = learner_session(app, &v).await.map_err(Err)?;
    let used = rec.session.attempts.completion_code;
    let refuse = |status: Status, msg: &str, left: u32| {
        let mut ctx = context(app, &v);
        ctx.insert("attempts_left", &left);
        ctx.insert("error", &app.pages.text(&v.locale, msg));
        render(app, &v.locale, "code.html.tera", &ctx).map(|p| (status, p))
    };
    if used >= MAX_CODE_ATTEMPTS {
        return Err(refuse(
            Status::TooManyRequests,
            crate::tr!("You have used all your attempts. Please start the exercise again from your course."),
            0,
        ));
    }
    let Some(expected) = rec.session.completion_code.as_deref() else {
        return Err(refuse(
            Status::UnprocessableEntity,
            crate::tr!("You get the completion code in the chat once you have verified the bot. Finish the chat first."),
            MAX_CODE_ATTEMPTS - used,
        ));
    };
    if !secret::code_matches(form.code, expected) {
        let (s, j) = (app.store.clone(), jid.clone());
        let after = blocking(move || {
            s.update_session(&j, |sess| {
                sess.attempts.completion_code = sess.attempts.completion_code.saturating_add(1)
            })
        })
        .await
        .map_err(Err)?;
        let left = MAX_CODE_ATTEMPTS.saturating_sub(after.session.attempts.completion_code);
        tracing::info!(%jid, left, "wrong completion code");
        return Err(refuse(
            Status::UnprocessableEntity,
            crate::tr!("That is not the code the bot gave you. Check it and try again."),
            left,
        ));
    }
    if !v.done {
        enqueue_grade(app, &v, &jid).await.map_err(Err)?;
        app.event(AdminEvent::Completed { jid: jid.clone() }).await;
    }
    tracing::info!(%jid, "completion code accepted");
    v.done = true;
    v.save(jar).map_err(Err)?;
    Ok(to(app, "/done"))
}

/// Puts grade 1.0 in the outbox, unless the launcher is staff or the LMS takes no grades.
async fn enqueue_grade(app: &App, v: &Visit, jid: &str) -> Result<(), PageError> {
    let (Some(url), Some(sid)) = (&v.lti.outcome_service_url, &v.lti.result_sourcedid) else {
        tracing::info!(%jid, "no outcome service in the launch; no grade sent");
        return Ok(());
    };
    if v.staff {
        tracing::info!(%jid, "staff launch; no grade sent");
        return Ok(());
    }
    let g = GradeRequest {
        url: url.clone(),
        sourcedid: sid.clone(),
        score: 1.0,
        consumer_key: v.lti.consumer_key.clone(),
        attempts: 0,
        next_try: now(),
        last_error: None,
    };
    let s = app.store.clone();
    let id = blocking(move || s.grade_enqueue(&g)).await?;
    tracing::info!(%jid, id, "grade 1.0 queued for the LMS");
    app.grade_wake.notify_one();
    Ok(())
}

#[rocket::get("/done")]
fn done(app: &State<App>, v: Visit) -> Page {
    if !v.done {
        return Err(PageError::new(
            Status::Forbidden,
            crate::tr!("Please enter your completion code first."),
        )
        .with_locale(&v.locale));
    }
    let mut ctx = context(app, &v);
    ctx.insert("return_url", &v.lti.return_url);
    render(app, &v.locale, "done.html.tera", &ctx)
}

/// One learner as the instructor sees them.
#[derive(serde::Serialize)]
struct LearnerRow {
    jid: String,
    stage: String,
    last_activity: String,
    has_secret: bool,
    completed: bool,
}

#[rocket::get("/instructor")]
async fn instructor(app: &State<App>, v: Visit) -> Page {
    if !v.staff {
        return Err(PageError::new(
            Status::Forbidden,
            crate::tr!("This page is for teachers of the course."),
        )
        .with_locale(&v.locale));
    }
    let s = app.store.clone();
    let all = blocking(move || s.sessions()).await?;
    let rows: Vec<LearnerRow> = all
        .into_iter()
        .filter(|(_, r)| {
            r.session.lti.as_ref().is_some_and(|b| {
                b.consumer_key == v.lti.consumer_key && b.resource_link_id == v.lti.resource_link_id
            })
        })
        .map(|(jid, r)| LearnerRow {
            jid,
            stage: r.session.stage.clone(),
            last_activity: crate::cli::admin::utc(r.session.last_activity),
            has_secret: r.session.shared_secret.is_some(),
            completed: r.session.completion_code.is_some(),
        })
        .collect();
    let mut ctx = context(app, &v);
    ctx.insert("learners", &rows);
    ctx.insert("resource_link_id", &v.lti.resource_link_id);
    render(app, &v.locale, "instructor.html.tera", &ctx)
}

/// Every route.
pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![
        is_up,
        launch,
        home,
        jid_page,
        jid_submit,
        added,
        secret_page,
        secret_submit,
        code_page,
        code_submit,
        done,
        instructor
    ]
}
