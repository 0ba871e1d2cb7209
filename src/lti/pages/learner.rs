//! The learner's pages: the JID (`/jid`, `/added`), the shared secret (`/secret`), the
//! completion code (`/code`) and the end (`/done`).

use super::guide;
use super::progress::Place;
use super::{blocking, context, now, protocol_of, render, session_ended, to, with_progress, Page};
use crate::lesson::Protocol;
use crate::lti::course::same_learner;
use crate::lti::course::{code_attempts_left, CodeVerdict, Ended, SecretVerdict, Started};
use crate::lti::error::PageError;
use crate::lti::omemo_view::{self, FingerprintView};
use crate::lti::visit::Visit;
use crate::lti::App;
use crate::store::{self, GradeNote, LtiBinding, StoredSession};
use crate::xmpp::jid::parse_bare;
use rocket::form::{Form, FromForm};
use rocket::http::{CookieJar, Status};
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::State;
use tera::Context;

/// Said when a JID is in another learner's session.
const IN_USE: &str = crate::tr!("This Jabber ID is already taking part in another session. Please use another one, or wait until that session ends.");
/// Said when a learner has put too many JIDs through the bot.
const TOO_MANY_JIDS: &str = crate::tr!("You have already used {n} different Jabber IDs for this exercise today. Please go on with the one you entered before, or ask your teacher.");
/// The most JIDs one LMS learner may put through the bot within [`JID_CLAIM_WINDOW`]: each
/// new one gets a subscription request from the bot's account and an OTR key from the pool.
pub const MAX_JIDS_PER_LEARNER: usize = 3;
/// The window over which [`MAX_JIDS_PER_LEARNER`] counts, in seconds.
pub const JID_CLAIM_WINDOW: u64 = 24 * 3600;

#[rocket::get("/jid")]
pub(super) fn jid_page(app: &State<App>, v: Visit) -> Page {
    render(app, &v.locale, "jid.html.tera", &jid_context(app, &v))
}

/// The JID page's context: the lesson the launch chose, and where that is in the exercise.
fn jid_context(app: &App, v: &Visit) -> Context {
    let mut ctx = context(app, v);
    let protocol = protocol_of(app, v);
    ctx.insert("omemo", &(protocol == Protocol::Omemo));
    with_progress(app, v, &mut ctx, protocol, Place::Jid);
    ctx
}

/// The JID form.
#[derive(FromForm)]
pub(super) struct JidForm<'r> {
    #[field(validate = len(..=128))]
    csrf: &'r str,
    #[field(validate = len(..=3100))]
    jid: &'r str,
}

/// The JID page again, with what was entered and why it was refused (422).
fn jid_refused(
    app: &App,
    v: &Visit,
    entered: &str,
    why: &str,
) -> Result<(Status, RawHtml<String>), PageError> {
    let mut ctx = jid_context(app, v);
    ctx.insert("entered", entered);
    ctx.insert("error", &app.pages.text(&v.locale, why));
    let page = render(app, &v.locale, "jid.html.tera", &ctx)?;
    Ok((Status::UnprocessableEntity, page))
}

#[rocket::post("/jid", data = "<form>")]
pub(super) async fn jid_submit(
    app: &State<App>,
    mut v: Visit,
    form: Form<JidForm<'_>>,
    jar: &CookieJar<'_>,
) -> Result<Redirect, Result<(Status, RawHtml<String>), PageError>> {
    v.check_csrf(form.csrf).map_err(Err)?;
    let jid = match parse_bare(form.jid).map(|j| j.to_string()) {
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
    if v.jid.as_deref() != Some(jid.as_str()) {
        let (s, who, j) = (
            app.store.clone(),
            LtiBinding::learner_key(&v.lti),
            jid.clone(),
        );
        let claim =
            blocking(move || s.claim_jid(&who, &j, t, JID_CLAIM_WINDOW, MAX_JIDS_PER_LEARNER))
                .await
                .map_err(Err)?;
        if claim == store::Claim::TooMany {
            tracing::info!(%jid, "learner has used too many JIDs; refused");
            let mut ctx = context(app, &v);
            ctx.insert("entered", form.jid);
            let why = app.pages.text(&v.locale, TOO_MANY_JIDS);
            let n = MAX_JIDS_PER_LEARNER.to_string();
            ctx.insert("error", &crate::i18n::format(&why, &[("n", n.as_str())]));
            let page = render(app, &v.locale, "jid.html.tera", &ctx).map_err(Err)?;
            return Err(Ok((Status::TooManyRequests, page)));
        }
    }
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
        Some(_) => return Err(in_use(app, &v, form.jid)),
        None => {
            let started = app
                .course
                .start_session(&jid, &v.lti, &v.locale, v.protocol)
                .await
                .map_err(|e| Err(PageError::internal(e.to_string())))?;
            if started == Started::InUse {
                return Err(in_use(app, &v, form.jid));
            }
        }
    }
    tracing::info!(%jid, "learner entered a JID");
    if let Some(old) = v.jid.take().filter(|old| *old != jid) {
        end_replaced(app, &v, &old).await.map_err(Err)?;
        v.replaced_jid = Some(old);
    }
    v.jid = Some(jid);
    v.save(app, jar).map_err(Err)?;
    Ok(to(app, "/added"))
}

/// The JID page again, saying that `entered` is in another learner's session (422).
fn in_use(app: &App, v: &Visit, entered: &str) -> Result<(Status, RawHtml<String>), PageError> {
    jid_refused(app, v, entered, IN_USE)
}

/// Ends the session of the JID this visit entered before, if it is still this learner's:
/// the bot stops talking to it and, when the launch had put it on the whitelist, takes it
/// off its roster. One learner has one JID in the bot at a time.
async fn end_replaced(app: &App, v: &Visit, old: &str) -> Result<(), PageError> {
    let ended = app
        .course
        .end_session(old, &v.lti)
        .await
        .map_err(|e| PageError::internal(e.to_string()))?;
    if ended == Ended::Ended {
        tracing::info!(jid = %old, "the learner entered another JID; the earlier session ended");
    }
    Ok(())
}

/// The session of the visit's JID, or the page that says to enter one / start again.
async fn learner_session(app: &App, v: &Visit) -> Result<(String, StoredSession), PageError> {
    let Some(jid) = v.jid.clone() else {
        // Opened before a Jabber ID was entered: to the step the learner is on.
        return Err(PageError::elsewhere("/"));
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
        _ => Err(session_ended(v)),
    }
}

#[rocket::get("/added")]
pub(super) async fn added(app: &State<App>, v: Visit) -> Page {
    let (jid, rec) = learner_session(app, &v).await?;
    let mut ctx = context(app, &v);
    let protocol = if is_omemo(app, &rec) {
        Protocol::Omemo
    } else {
        Protocol::Otr
    };
    with_progress(app, &v, &mut ctx, protocol, Place::AddBot);
    ctx.insert(
        "guides",
        &guide::guides(protocol, &app.bot_jid, |m| app.pages.text(&v.locale, m)),
    );
    if protocol == Protocol::Omemo {
        ctx.insert("omemo", &omemo_view(app, &v)?);
        return render(app, &v.locale, "added.html.tera", &ctx);
    }
    let (s, j) = (app.store.clone(), jid.clone());
    let fingerprint = blocking(move || s.otr_key(&j))
        .await?
        .and_then(|k| crate::lti::fingerprint(k.expose()));
    ctx.insert("fingerprint", &fingerprint);
    render(app, &v.locale, "added.html.tera", &ctx)
}

/// Whether the session follows the OMEMO lesson.
fn is_omemo(app: &App, rec: &StoredSession) -> bool {
    app.course
        .stage(&rec.session)
        .is_some_and(|s| s.protocol() == Protocol::Omemo)
}

/// The bot's true OMEMO device as the page shows it.
fn omemo_view(app: &App, v: &Visit) -> Result<FingerprintView, PageError> {
    let (id, fp) = app.course.omemo_device();
    let label = app.pages.text(&v.locale, omemo_view::QR_LABEL);
    omemo_view::view(&app.bot_jid, id, &fp, &label)
        .map_err(|e| PageError::internal(format!("the OMEMO fingerprint: {e}")))
}

#[rocket::get("/secret")]
pub(super) async fn secret_page(
    app: &State<App>,
    v: Visit,
) -> Result<RawHtml<String>, Result<Redirect, PageError>> {
    let (_, rec) = learner_session(app, &v).await.map_err(Err)?;
    if is_omemo(app, &rec) {
        // No shared secret in the OMEMO lesson: the page that shows what to compare instead.
        return Err(Ok(to(app, "/added")));
    }
    let mut ctx = context(app, &v);
    ctx.insert("has_secret", &rec.session.shared_secret.is_some());
    with_progress(app, &v, &mut ctx, Protocol::Otr, Place::Secret);
    render(app, &v.locale, "secret.html.tera", &ctx).map_err(Err)
}

/// The shared-secret form.
#[derive(FromForm)]
pub(super) struct SecretForm<'r> {
    #[field(validate = len(..=128))]
    csrf: &'r str,
    #[field(validate = len(..=1024))]
    secret: &'r str,
}

#[rocket::post("/secret", data = "<form>")]
pub(super) async fn secret_submit(
    app: &State<App>,
    v: Visit,
    form: Form<SecretForm<'_>>,
) -> Result<Redirect, Result<(Status, RawHtml<String>), PageError>> {
    v.check_csrf(form.csrf).map_err(Err)?;
    let (jid, rec) = learner_session(app, &v).await.map_err(Err)?;
    let verdict = app
        .course
        .secret_entered(&jid, form.secret)
        .await
        .map_err(|e| Err(PageError::internal(e.to_string())))?;
    match verdict {
        SecretVerdict::Stored | SecretVerdict::AlreadyVerified => Ok(to(app, "/code")),
        SecretVerdict::NoSession => Err(Err(session_ended(&v))),
        SecretVerdict::Refused(w) => {
            let reason = w.msgid();
            let shown = app.pages.explain(&v.locale, &w);
            tracing::info!(%jid, reason, "shared secret refused");
            let mut ctx = context(app, &v);
            ctx.insert("has_secret", &rec.session.shared_secret.is_some());
            with_progress(app, &v, &mut ctx, Protocol::Otr, Place::Secret);
            ctx.insert("error", &shown);
            let page = render(app, &v.locale, "secret.html.tera", &ctx).map_err(Err)?;
            Err(Ok((Status::UnprocessableEntity, page)))
        }
    }
}

/// The code page's context: the lesson, and attempts left when a code has been given.
fn code_context(app: &App, v: &Visit, omemo: bool, attempts_left: Option<u8>) -> Context {
    let mut ctx = context(app, v);
    ctx.insert("omemo", &omemo);
    ctx.insert("has_code", &attempts_left.is_some());
    let protocol = if omemo {
        Protocol::Omemo
    } else {
        Protocol::Otr
    };
    let at = if attempts_left.is_some() {
        Place::Code
    } else {
        Place::Chat
    };
    with_progress(app, v, &mut ctx, protocol, at);
    ctx.insert("attempts_left", &attempts_left.unwrap_or(0));
    ctx
}

#[rocket::get("/code")]
pub(super) async fn code_page(app: &State<App>, v: Visit) -> Page {
    let (_, rec) = learner_session(app, &v).await?;
    let ctx = code_context(
        app,
        &v,
        is_omemo(app, &rec),
        code_attempts_left(app.course.stage(&rec.session).as_ref()),
    );
    render(app, &v.locale, "code.html.tera", &ctx)
}

/// The completion-code form.
#[derive(FromForm)]
pub(super) struct CodeForm<'r> {
    #[field(validate = len(..=128))]
    csrf: &'r str,
    #[field(validate = len(..=64))]
    code: &'r str,
}

/// The lesson judges the code (under the learner's lock, so codes sent at once are counted
/// one by one); the page shows its verdict.
#[rocket::post("/code", data = "<form>")]
pub(super) async fn code_submit(
    app: &State<App>,
    mut v: Visit,
    form: Form<CodeForm<'_>>,
    jar: &CookieJar<'_>,
) -> Result<Redirect, Result<(Status, RawHtml<String>), PageError>> {
    v.check_csrf(form.csrf).map_err(Err)?;
    let (jid, rec) = learner_session(app, &v).await.map_err(Err)?;
    let omemo = is_omemo(app, &rec);
    let verdict = app
        .course
        .code_entered(&jid, form.code)
        .await
        .map_err(|e| Err(PageError::internal(e.to_string())))?;
    let refuse = |status: Status, msg: &str, left: Option<u8>| {
        let mut ctx = code_context(app, &v, omemo, left);
        ctx.insert("error", &app.pages.text(&v.locale, msg));
        render(app, &v.locale, "code.html.tera", &ctx).map(|p| (status, p))
    };
    match verdict {
        CodeVerdict::Accepted(note) => {
            tracing::info!(%jid, "completion code accepted");
            v.grade = Some(note);
            if note == GradeNote::Queued {
                app.grade_wake.notify_one();
            }
        }
        CodeVerdict::AlreadyDone => {}
        CodeVerdict::Refused { attempts_left } => {
            tracing::info!(%jid, attempts_left, "wrong completion code");
            return Err(refuse(
                Status::UnprocessableEntity,
                crate::tr!("That is not the code the bot gave you. Check it and try again."),
                Some(attempts_left),
            ));
        }
        CodeVerdict::Voided => {
            tracing::info!(%jid, "wrong completion code; no attempts left: code voided");
            let voided = if omemo {
                CODE_VOIDED_OMEMO
            } else {
                CODE_VOIDED
            };
            return Err(refuse(Status::TooManyRequests, voided, None));
        }
        CodeVerdict::NotYet => {
            return Err(refuse(
                Status::UnprocessableEntity,
                crate::tr!("You get the completion code in the chat once you have verified the bot. Finish the chat first."),
                None,
            ));
        }
        CodeVerdict::NoSession => return Err(Err(session_ended(&v))),
    }
    v.done = true;
    v.save(app, jar).map_err(Err)?;
    Ok(to(app, "/done"))
}

/// Said when the last attempt for a code was wrong.
const CODE_VOIDED: &str = crate::tr!("That was the last attempt for this code, so the code no longer works. Choose a new shared secret, then verify the bot again in the chat: it gives you a new code.");

/// Said when the last attempt for a code of the OMEMO lesson was wrong.
const CODE_VOIDED_OMEMO: &str = crate::tr!("That was the last attempt for this code, so the code no longer works. Write to the bot again, encrypted for its true device only: it gives you a new code.");

#[rocket::get("/done")]
pub(super) fn done(app: &State<App>, v: Visit) -> Page {
    if !v.done {
        return Err(PageError::elsewhere("/"));
    }
    let mut ctx = context(app, &v);
    with_progress(app, &v, &mut ctx, protocol_of(app, &v), Place::Done);
    ctx.insert("return_url", &v.lti.return_url);
    let grade = match v.grade {
        Some(GradeNote::Queued) => "queued",
        Some(GradeNote::Staff) => "staff",
        Some(GradeNote::NoOutcomeService) | None => "none",
    };
    ctx.insert("grade", grade);
    render(app, &v.locale, "done.html.tera", &ctx)
}
