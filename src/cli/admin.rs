//! `otrbot whitelist …` and `otrbot sessions …`: through the running bot's admin socket, or
//! on the store directly when the bot is not running.

use crate::bot::admin::{
    self, check_jid, check_locale, ErrorKind, Reply, Request, Response, SessionRow, WhitelistRow,
};
use crate::bot::admin_secret::{set_offline, SecretText};
use crate::clock::unix_now;
use crate::clock::utc;
use crate::exit::{ExitCode, Failure};
use crate::settings::Settings;
use clap::Subcommand;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// How long the command waits for the bot's answer.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(30);

/// `otrbot whitelist …`
#[derive(Debug, Subcommand)]
pub enum WhitelistCmd {
    /// Allow a Jabber ID to talk to the bot (takes effect at once if the bot runs).
    Add {
        /// The bare Jabber ID, like name@example.org.
        jid: String,
        /// The locale the bot speaks to it in (default: lesson.default_locale).
        #[arg(long, value_name = "LOCALE")]
        locale: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove a Jabber ID from the whitelist.
    Remove {
        /// The bare Jabber ID.
        jid: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the whitelist.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `otrbot sessions …`
#[derive(Debug, Subcommand)]
pub enum SessionsCmd {
    /// List the learners' sessions (no secrets are shown).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// End a learner's session now and delete its keys and state.
    Kill {
        /// The learner's bare Jabber ID.
        jid: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `otrbot stats`
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `otrbot secret …`
#[derive(Debug, Subcommand)]
pub enum SecretCmd {
    /// Give a learner's session a new shared secret, read from standard input (one line), e.g.
    /// after they typed theirs into the chat and have no course page to choose another on.
    Set {
        /// The learner's bare Jabber ID.
        jid: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn invalid(m: String) -> Failure {
    Failure::new(ExitCode::InvalidArgument, m)
}

/// Runs a whitelist subcommand; `settings` is loaded only once the arguments are valid.
pub fn whitelist(
    cmd: &WhitelistCmd,
    settings: impl FnOnce() -> Result<Settings, Failure>,
) -> Result<(), Failure> {
    let (req, json, s) = match cmd {
        WhitelistCmd::Add { jid, locale, json } => {
            let jid = check_jid(jid).map_err(invalid)?;
            if let Some(l) = locale {
                check_locale(l).map_err(invalid)?;
            }
            let s = settings()?;
            let locale = locale
                .clone()
                .unwrap_or_else(|| s.lesson.default_locale.clone());
            (Request::WhitelistAdd { jid, locale }, *json, s)
        }
        WhitelistCmd::Remove { jid, json } => {
            let jid = check_jid(jid).map_err(invalid)?;
            (Request::WhitelistRemove { jid }, *json, settings()?)
        }
        WhitelistCmd::List { json } => (Request::WhitelistList, *json, settings()?),
    };
    let reply = send(&s, &req)?;
    print_reply(&reply, json);
    Ok(())
}

/// Runs a sessions subcommand.
pub fn sessions(
    cmd: &SessionsCmd,
    settings: impl FnOnce() -> Result<Settings, Failure>,
) -> Result<(), Failure> {
    let (req, json) = match cmd {
        SessionsCmd::List { json } => (Request::SessionsList, *json),
        SessionsCmd::Kill { jid, json } => {
            let jid = check_jid(jid).map_err(invalid)?;
            (Request::SessionsKill { jid }, *json)
        }
    };
    let reply = send(&settings()?, &req)?;
    print_reply(&reply, json);
    Ok(())
}

/// Runs a secret subcommand: the secret is the first line of standard input.
pub fn secret(
    cmd: &SecretCmd,
    settings: impl FnOnce() -> Result<Settings, Failure>,
) -> Result<(), Failure> {
    let SecretCmd::Set { jid, json } = cmd;
    let jid = check_jid(jid).map_err(invalid)?;
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| invalid(format!("cannot read the secret from standard input: {e}")))?;
    let secret = line.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        return Err(invalid(
            "no secret on standard input (give it as one line)".to_owned(),
        ));
    }
    let req = Request::SecretSet {
        jid,
        secret: SecretText(secret.to_owned()),
    };
    let reply = send(&settings()?, &req)?;
    print_reply(&reply, *json);
    Ok(())
}

/// Sends `req` to the running bot, or carries it out on the store when no bot is running.
pub fn send(settings: &Settings, req: &Request) -> Result<Reply, Failure> {
    let sock = admin::socket_path(&settings.store.data_dir);
    let resp = match UnixStream::connect(&sock) {
        Ok(stream) => ask_bot(stream, req).map_err(|e| {
            Failure::new(
                ExitCode::Store,
                format!("the bot at {} did not answer: {e}", sock.display()),
            )
        })?,
        // No socket, or a stale one left by a bot that died: nobody holds the store.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            let store = crate::bot::open_store(settings).map_err(|f| match f.message {
                ref m if m.contains("in use by another process") => Failure::new(
                    ExitCode::Store,
                    format!("{m}; its admin socket does not answer yet, try again in a moment"),
                ),
                _ => f,
            })?;
            let resp = match req {
                Request::SecretSet { jid, secret } => set_offline(&store, settings, jid, secret),
                _ => admin::handle(&store, req, unix_now()).0,
            };
            store.flush().map_err(crate::bot::store_failure)?;
            resp
        }
        Err(e) => {
            return Err(Failure::new(
                ExitCode::Store,
                format!("cannot reach the bot at {}: {e}", sock.display()),
            ))
        }
    };
    match resp {
        Response::Ok { reply } => Ok(reply),
        Response::Error { kind, message } => Err(Failure::new(
            match kind {
                ErrorKind::InvalidArgument | ErrorKind::NotFound => ExitCode::InvalidArgument,
                ErrorKind::Store => ExitCode::Store,
                ErrorKind::Protocol => ExitCode::Unknown,
            },
            message,
        )),
    }
}

fn ask_bot(mut stream: UnixStream, req: &Request) -> std::io::Result<Response> {
    stream.set_read_timeout(Some(SOCKET_TIMEOUT))?;
    stream.set_write_timeout(Some(SOCKET_TIMEOUT))?;
    let mut line = serde_json::to_vec(req).map_err(std::io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    if answer.is_empty() {
        return Err(std::io::Error::other("connection closed"));
    }
    serde_json::from_str(&answer).map_err(std::io::Error::other)
}

fn print_reply(reply: &Reply, json: bool) {
    if json {
        let text = match reply {
            Reply::Whitelist { entries } => serde_json::to_string_pretty(entries),
            Reply::Sessions { entries } => serde_json::to_string_pretty(entries),
            other => serde_json::to_string_pretty(other),
        };
        outln!("{}", text.unwrap_or_default());
        return;
    }
    match reply {
        Reply::Added { jid, locale, new } => {
            let what = if *new { "whitelisted" } else { "updated" };
            outln!("{what} {jid} (locale {locale})");
        }
        Reply::Removed { jid } => outln!("removed {jid} from the whitelist"),
        Reply::Killed { jid } => outln!("ended the session of {jid} and deleted its data"),
        Reply::SecretSet { jid } => outln!("set a new shared secret for {jid}"),
        Reply::Whitelist { entries } if entries.is_empty() => outln!("the whitelist is empty"),
        Reply::Whitelist { entries } => out!("{}", whitelist_table(entries)),
        Reply::Sessions { entries } if entries.is_empty() => outln!("no sessions"),
        Reply::Sessions { entries } => out!("{}", sessions_table(entries)),
        Reply::Stats { turn_times: t } => {
            let ms = |us: u64| us as f64 / 1000.0;
            outln!(
                "turns: {} chat messages since the bot started; the bot's own time per message \
                 (arrival to the end of its turn): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                t.turns,
                ms(t.p50_us),
                ms(t.p90_us),
                ms(t.p99_us),
                ms(t.max_us)
            );
        }
    }
}

/// Runs `otrbot stats`.
pub fn stats(
    cmd: &StatsArgs,
    settings: impl FnOnce() -> Result<Settings, Failure>,
) -> Result<(), Failure> {
    let reply = send(&settings()?, &Request::Stats)?;
    print_reply(&reply, cmd.json);
    Ok(())
}

/// The whitelist as a text table.
pub fn whitelist_table(rows: &[WhitelistRow]) -> String {
    let body = rows
        .iter()
        .map(|r| {
            vec![
                r.jid.clone(),
                r.locale.clone(),
                r.source.as_str().to_owned(),
                utc(r.added_at),
            ]
        })
        .collect::<Vec<_>>();
    table(&["JID", "LOCALE", "SOURCE", "ADDED (UTC)"], &body)
}

/// The sessions as a text table.
pub fn sessions_table(rows: &[SessionRow]) -> String {
    let yes = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let body = rows
        .iter()
        .map(|r| {
            vec![
                r.jid.clone(),
                r.stage.clone(),
                r.locale.clone(),
                utc(r.created_at),
                utc(r.last_activity),
                utc(r.expire_at),
                yes(r.has_secret),
                yes(r.completed),
                match &r.grade_pending {
                    None => "-".to_owned(),
                    Some(g) => format!(
                        "pending, {} tries{}",
                        g.attempts,
                        g.last_error
                            .as_deref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    ),
                },
            ]
        })
        .collect::<Vec<_>>();
    table(
        &[
            "JID",
            "STAGE",
            "LOCALE",
            "STARTED",
            "LAST ACTIVE",
            "EXPIRES",
            "SECRET",
            "DONE",
            "GRADE",
        ],
        &body,
    )
}

/// Left-aligned columns, two spaces apart, one line per row.
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&width).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(head.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::WhitelistSource;

    #[test]
    fn tables_align() {
        let rows = vec![
            WhitelistRow {
                jid: "a@example.org".into(),
                locale: "en_GB".into(),
                source: WhitelistSource::Cli,
                added_at: 0,
            },
            WhitelistRow {
                jid: "longer.name@example.org".into(),
                locale: "de".into(),
                source: WhitelistSource::Settings,
                added_at: 60,
            },
        ];
        let t = whitelist_table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("JID                      LOCALE  SOURCE    ADDED"));
        assert_eq!(
            lines[2],
            "longer.name@example.org  de      settings  1970-01-01 00:01:00"
        );
    }
}
