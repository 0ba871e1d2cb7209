//! The admin protocol and the bot's admin socket.
//!
//! A Unix socket `admin.sock` in the data directory (mode 0600, in a 0700 directory), one
//! JSON object per line each way: the client writes a [`Request`], the bot answers with a
//! [`Response`], and the connection may carry more requests. The same [`handle`] serves the
//! socket and the command line when the bot is not running.

use crate::i18n::is_valid_locale;
use crate::store::{self, Attempts, Store, WhitelistEntry, WhitelistSource};
use crate::xmpp::jid::parse_bare;
use serde::{Deserialize, Serialize};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};

/// The socket's file name inside the data directory.
pub const SOCKET_NAME: &str = "admin.sock";

/// The longest request line accepted, in bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// Where the admin socket of the bot using `data_dir` lives.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// A request, e.g. `{"cmd":"whitelist_add","jid":"a@example.org","locale":"en_GB"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Whitelist a JID (replacing its locale if it is there).
    WhitelistAdd {
        /// The bare JID.
        jid: String,
        /// The locale the bot speaks to it in.
        locale: String,
    },
    /// Remove a JID from the whitelist.
    WhitelistRemove {
        /// The bare JID.
        jid: String,
    },
    /// List the whitelist.
    WhitelistList,
    /// List the sessions.
    SessionsList,
    /// End a session now and delete its data.
    SessionsKill {
        /// The learner's bare JID.
        jid: String,
    },
    /// Give a learner with a session a new shared secret.
    SecretSet {
        /// The learner's bare JID.
        jid: String,
        /// The secret (never logged).
        secret: super::admin_secret::SecretText,
    },
    /// How the running bot is doing (its own turn times).
    Stats,
}

/// A whitelist entry as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhitelistRow {
    /// The bare JID.
    pub jid: String,
    /// Its locale.
    pub locale: String,
    /// Where it came from.
    pub source: WhitelistSource,
    /// When it was added (Unix seconds).
    pub added_at: u64,
}

/// A session as listed (no secrets, no completion code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    /// The learner's bare JID.
    pub jid: String,
    /// The lesson stage.
    pub stage: String,
    /// The learner's locale.
    pub locale: String,
    /// When the session began (Unix seconds).
    pub created_at: u64,
    /// The last activity (Unix seconds).
    pub last_activity: u64,
    /// When the warning is due, if it was not given yet.
    pub warn_at: Option<u64>,
    /// When the session expires.
    pub expire_at: u64,
    /// Whether the learner has set a shared secret.
    pub has_secret: bool,
    /// Whether a completion code was given.
    pub completed: bool,
    /// Attempt counters.
    pub attempts: Attempts,
    /// The LTI context (course) id, if the session came from a launch.
    pub lti_context: Option<String>,
    /// The session's grade while it waits in the outbox: tries so far and the last error.
    #[serde(default)]
    pub grade_pending: Option<GradePending>,
}

/// A grade not yet accepted by the LMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradePending {
    /// Tries so far.
    pub attempts: u32,
    /// Next try (Unix seconds).
    pub next_try: u64,
    /// Why the last try failed.
    pub last_error: Option<String>,
}

/// What a successful request did or found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// The JID is whitelisted; `new` if it was not before.
    Added {
        /// The JID as stored (normalised).
        jid: String,
        /// Its locale.
        locale: String,
        /// False if an entry was replaced.
        new: bool,
    },
    /// The JID was removed from the whitelist.
    Removed {
        /// The JID.
        jid: String,
    },
    /// The whitelist.
    Whitelist {
        /// Entries in JID order.
        entries: Vec<WhitelistRow>,
    },
    /// The sessions.
    Sessions {
        /// Sessions in JID order.
        entries: Vec<SessionRow>,
    },
    /// The session was ended and its data deleted.
    Killed {
        /// The JID.
        jid: String,
    },
    /// The learner's shared secret was replaced.
    SecretSet {
        /// The JID.
        jid: String,
    },
    /// The running bot's figures.
    Stats {
        /// Per chat message: its arrival at the bot to the end of its turn.
        turn_times: super::turn_times::TurnTimesSummary,
    },
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A bad JID or locale.
    InvalidArgument,
    /// The JID is not on the whitelist / has no session.
    NotFound,
    /// The store failed.
    Store,
    /// The request was not understood.
    Protocol,
}

/// The answer to one request: `{"status":"ok","reply":{...}}` or
/// `{"status":"error","kind":"not_found","message":"..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Response {
    /// It worked.
    Ok {
        /// What it did or found.
        reply: Reply,
    },
    /// It did not.
    Error {
        /// Why, as a category.
        kind: ErrorKind,
        /// Why, for the operator.
        message: String,
    },
}

/// What an admin request changed, for the parts of the bot that must react (roster, chat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminEvent {
    /// A JID was whitelisted.
    WhitelistAdded {
        /// The JID.
        jid: String,
    },
    /// A JID was removed from the whitelist.
    WhitelistRemoved {
        /// The JID.
        jid: String,
    },
    /// A session was killed.
    SessionKilled {
        /// The JID.
        jid: String,
    },
    /// A learner's LTI launch created a session (after [`AdminEvent::WhitelistAdded`]).
    SessionStarted {
        /// The JID.
        jid: String,
    },
}

fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::Error {
        kind,
        message: message.into(),
    }
}

fn store_error(e: store::Error) -> Response {
    error(ErrorKind::Store, e.to_string())
}

/// Checks and normalises a JID argument.
pub fn check_jid(jid: &str) -> Result<String, String> {
    parse_bare(jid)
        .map(|j| j.to_string())
        .map_err(|e| format!("{jid:?}: {e}"))
}

/// Checks a locale argument.
pub fn check_locale(locale: &str) -> Result<(), String> {
    if is_valid_locale(locale) {
        Ok(())
    } else {
        Err(format!(
            "{locale:?} is not a locale; use a name like en_GB, nl_NL or de"
        ))
    }
}

/// Whitelists `jid` with `locale` from `source` (the CLI's `whitelist add`, and the LTI pages
/// when a learner enters a JID). An LTI launch never takes over an operator's entry: that
/// entry keeps its source (so ending the session does not remove it), only its locale changes.
pub fn whitelist_add(
    store: &Store,
    jid: &str,
    locale: &str,
    source: WhitelistSource,
    now: u64,
) -> (Response, Option<AdminEvent>) {
    let r = (|| {
        let jid = check_jid(jid).map_err(|m| error(ErrorKind::InvalidArgument, m))?;
        check_locale(locale).map_err(|m| error(ErrorKind::InvalidArgument, m))?;
        let old = store.whitelist_get(&jid).map_err(store_error)?;
        let source = match (&old, source) {
            (Some(o), WhitelistSource::Lti) => o.source,
            _ => source,
        };
        let entry = WhitelistEntry {
            locale: locale.to_owned(),
            source,
            added_at: old.as_ref().map_or(now, |o| o.added_at),
        };
        store.whitelist_add(&jid, &entry).map_err(store_error)?;
        let reply = Reply::Added {
            jid: jid.clone(),
            locale: locale.to_owned(),
            new: old.is_none(),
        };
        Ok((reply, Some(AdminEvent::WhitelistAdded { jid })))
    })();
    match r {
        Ok((reply, ev)) => (Response::Ok { reply }, ev),
        Err(resp) => (resp, None),
    }
}

/// Carries out one request on `store` at time `now`.
pub fn handle(store: &Store, req: &Request, now: u64) -> (Response, Option<AdminEvent>) {
    let jid_of = |j: &str| check_jid(j).map_err(|m| error(ErrorKind::InvalidArgument, m));
    let r = match req {
        Request::WhitelistAdd { jid, locale } => {
            return whitelist_add(store, jid, locale, WhitelistSource::Cli, now)
        }
        Request::WhitelistRemove { jid } => (|| {
            let jid = jid_of(jid)?;
            if !store.whitelist_remove(&jid).map_err(store_error)? {
                return Err(error(
                    ErrorKind::NotFound,
                    format!("{jid} is not on the whitelist"),
                ));
            }
            let ev = AdminEvent::WhitelistRemoved { jid: jid.clone() };
            Ok((Reply::Removed { jid }, Some(ev)))
        })(),
        Request::WhitelistList => store
            .whitelist()
            .map(|list| {
                let entries = list
                    .into_iter()
                    .map(|(jid, e)| WhitelistRow {
                        jid,
                        locale: e.locale,
                        source: e.source,
                        added_at: e.added_at,
                    })
                    .collect();
                (Reply::Whitelist { entries }, None)
            })
            .map_err(store_error),
        Request::SessionsList => store
            .sessions()
            .and_then(|list| Ok((list, store.grades()?)))
            .map(|(list, grades)| {
                let entries = list
                    .into_iter()
                    .map(|(jid, r)| {
                        let pending = r.session.lti.as_ref().and_then(|b| {
                            grades.iter().find(|(_, g)| {
                                Some(&g.url) == b.outcome_service_url.as_ref()
                                    && Some(&g.sourcedid) == b.result_sourcedid.as_ref()
                            })
                        });
                        let mut row = session_row(jid, r);
                        row.grade_pending = pending.map(|(_, g)| GradePending {
                            attempts: g.attempts,
                            next_try: g.next_try,
                            last_error: g.last_error.clone(),
                        });
                        row
                    })
                    .collect();
                (Reply::Sessions { entries }, None)
            })
            .map_err(store_error),
        Request::SessionsKill { jid } => (|| {
            let jid = jid_of(jid)?;
            if store.remove_session(&jid).map_err(store_error)?.is_none() {
                return Err(error(ErrorKind::NotFound, format!("{jid} has no session")));
            }
            let ev = AdminEvent::SessionKilled { jid: jid.clone() };
            Ok((Reply::Killed { jid }, Some(ev)))
        })(),
        // The lesson answers this one: `admin_secret::set` (running) or `set_offline`.
        Request::SecretSet { .. } => Err(error(
            ErrorKind::Protocol,
            "a shared secret goes to the lesson, not to the store",
        )),
        // The running bot's teacher answers this one (`connection`).
        Request::Stats => Err(error(
            ErrorKind::Protocol,
            "figures come from the running bot, not from the store",
        )),
    };
    match r {
        Ok((reply, ev)) => (Response::Ok { reply }, ev),
        Err(resp) => (resp, None),
    }
}

fn session_row(jid: String, r: store::StoredSession) -> SessionRow {
    let s = &r.session;
    SessionRow {
        jid,
        stage: s.stage.clone(),
        locale: s.locale.clone(),
        created_at: s.created_at,
        last_activity: s.last_activity,
        warn_at: r.deadlines.warn_at,
        expire_at: r.deadlines.expire_at,
        has_secret: s.shared_secret.is_some(),
        completed: super::course::lesson_stage(s).is_some_and(|st| st.finished().is_some()),
        attempts: s.attempts,
        lti_context: s.lti.as_ref().and_then(|l| l.context_id.clone()),
        grade_pending: None,
    }
}

/// Binds the admin socket at `path`, mode 0600. The caller holds the store, so no other bot
/// uses this data directory: a file already there is a stale socket and is replaced.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!(path = %path.display(), "removed a stale admin socket"),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Serves admin connections until `shutdown` turns true; changes are reported on `events`.
pub async fn serve(
    listener: UnixListener,
    store: Store,
    teacher: super::teach::Teacher,
    events: mpsc::Sender<AdminEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let conn = tokio::select! {
            c = listener.accept() => c,
            _ = shutdown.wait_for(|s| *s) => break,
        };
        match conn {
            Ok((stream, _)) => {
                let (store, events, teacher) = (store.clone(), events.clone(), teacher.clone());
                tokio::spawn(async move {
                    if let Err(e) = connection(stream, store, teacher, events).await {
                        tracing::warn!(error = %e, "admin connection failed");
                    }
                });
            }
            Err(e) => {
                tracing::error!(error = %e, "admin socket: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }
}

/// Answers `req` from the store (on the blocking pool): the reply and the change to announce.
async fn in_store(store: &Store, req: Request) -> (Response, Option<AdminEvent>) {
    let store = store.clone();
    let now = crate::clock::unix_now();
    tokio::task::spawn_blocking(move || handle(&store, &req, now))
        .await
        .unwrap_or_else(|e| {
            (
                error(ErrorKind::Store, format!("request failed: {e}")),
                None,
            )
        })
}

async fn connection(
    stream: UnixStream,
    store: Store,
    teacher: super::teach::Teacher,
    events: mpsc::Sender<AdminEvent>,
) -> io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    loop {
        let mut line = Vec::new();
        let n = (&mut rd)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        let too_long = line.len() > MAX_LINE;
        let (resp, ev) = if too_long {
            let m = format!("request longer than {MAX_LINE} bytes");
            (error(ErrorKind::Protocol, m), None)
        } else {
            match serde_json::from_slice::<Request>(&line) {
                Err(e) => (
                    error(ErrorKind::Protocol, format!("bad request: {e}")),
                    None,
                ),
                Ok(Request::Stats) => {
                    let reply = Reply::Stats {
                        turn_times: teacher.turn_times(),
                    };
                    (Response::Ok { reply }, None)
                }
                Ok(Request::SecretSet { jid, secret }) => {
                    tracing::info!(%jid, "admin request: a shared secret");
                    (
                        super::admin_secret::set(&teacher, &jid, &secret).await,
                        None,
                    )
                }
                Ok(Request::SessionsKill { jid }) => {
                    tracing::info!(%jid, "admin request: end a session");
                    // Under the learner's lock, the lesson tells them and ends OTR (their
                    // client shows the private conversation ended), then the store's kill.
                    let bare = check_jid(&jid).unwrap_or_else(|_| jid.clone());
                    let lock = teacher.lock_for(&bare);
                    let _turn = lock.lock().await;
                    if let Err(e) = teacher.event_turn(&bare, crate::lesson::Event::Kill).await {
                        tracing::warn!(jid = %bare, error = %e, "the learner could not be told");
                    }
                    in_store(&store, Request::SessionsKill { jid }).await
                }
                Ok(req) => {
                    tracing::info!(request = ?req, "admin request");
                    in_store(&store, req).await
                }
            }
        };
        let mut out = serde_json::to_vec(&resp).map_err(io::Error::other)?;
        out.push(b'\n');
        wr.write_all(&out).await?;
        if let Some(ev) = ev {
            let _ = events.send(ev).await;
        }
        if too_long {
            return Ok(());
        }
    }
}
