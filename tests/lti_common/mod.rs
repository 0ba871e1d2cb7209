//! Shared by the LTI tests: an app on a temporary store, launches signed by Python's oauthlib.
#![allow(dead_code)]

use otrbot::bot::admin::AdminEvent;
use otrbot::bot::course::CoursePages;
use otrbot::bot::teach::{Teacher, Teaching};
use otrbot::i18n::Catalogs;
use otrbot::lti::{self, App, Pages};
use otrbot::settings::{Format, Lti};
use otrbot::store::{KeyPool, Store, Timeouts};
use rocket::local::asynchronous::Client;
use std::collections::BTreeMap;
use std::io::Write;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};

/// The consumer key the tests launch with.
pub const KEY: &str = "test-lms";
/// Its secret (with characters that must be percent-encoded).
pub const SECRET: &str = "s3cret &+/= with spaces";
/// The bot's JID on the pages.
pub const BOT: &str = "otrbot@example.org";

/// Python with oauthlib (Debian's python3-oauthlib lives under /usr/bin/python3).
pub fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Now, in Unix seconds.
pub fn now() -> u64 {
    otrbot::clock::unix_now()
}

/// One launch to sign.
#[derive(serde::Serialize, Clone)]
pub struct ToSign {
    /// The URL the LMS posts to (public).
    pub url: String,
    /// Consumer key.
    pub key: String,
    /// Consumer secret.
    pub secret: String,
    /// The LTI parameters.
    pub params: BTreeMap<String, String>,
    /// A fixed timestamp, or oauthlib's now.
    pub timestamp: Option<u64>,
    /// A fixed nonce, or oauthlib's random one.
    pub nonce: Option<String>,
}

/// Signs launches with oauthlib; returns the form bodies.
pub fn sign(reqs: &[ToSign]) -> Vec<String> {
    let mut child = Command::new(python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/lti_oauth_sign.py"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with oauthlib (apt install python3-oauthlib)");
    let input = serde_json::to_vec(reqs).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "oauthlib signer failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The parameters of a learner's launch.
pub fn learner(user: &str) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    for (k, v) in [
        ("lti_message_type", "basic-lti-launch-request"),
        ("lti_version", "LTI-1p0"),
        ("resource_link_id", "link-1"),
        ("context_id", "course-1"),
        ("roles", "urn:lti:role:ims/lis/Learner"),
        ("launch_presentation_locale", "en-GB"),
        (
            "launch_presentation_return_url",
            "https://lms.example.org/course/1",
        ),
    ] {
        p.insert(k.to_owned(), v.to_owned());
    }
    p.insert("user_id".into(), user.into());
    p
}

/// A launch of `params` to `url` signed now with a fresh nonce.
pub fn signed(url: &str, params: &BTreeMap<String, String>) -> String {
    sign(&[ToSign {
        url: url.into(),
        key: KEY.into(),
        secret: SECRET.into(),
        params: params.clone(),
        timestamp: None,
        nonce: None,
    }])
    .remove(0)
}

/// A test app and what the test needs to look at.
pub struct Env {
    /// Keeps the data directory.
    pub dir: tempfile::TempDir,
    /// The store.
    pub store: Store,
    /// The key pool.
    pub pool: Arc<KeyPool>,
    /// Events sent to the bot.
    pub events: mpsc::Receiver<AdminEvent>,
    /// The grade sender's wake-up.
    pub wake: Arc<Notify>,
}

/// A fast stand-in key generator (pages then show no fingerprint); each key differs.
pub fn fake_keys() -> otrbot::store::KeyGenerator {
    let n = Arc::new(std::sync::atomic::AtomicU64::new(0));
    Arc::new(move || {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        [i.to_be_bytes(), [7u8; 8]].concat()
    })
}

/// Builds the app on a fresh store.
pub fn app(public_url: &str, keys: otrbot::store::KeyGenerator) -> (App, Env) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let pool = Arc::new(KeyPool::start(store.clone(), 2, keys).unwrap());
    let catalogs = Arc::new(
        Catalogs::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/locales")))
            .unwrap_or_else(|_| Catalogs::empty()),
    );
    let pages = Pages::load(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/templates")),
        catalogs.clone(),
        "en_GB",
    )
    .unwrap();
    let timeouts = Timeouts {
        warning: 1500,
        session: 1800,
    };
    // The real lesson decides on what the pages send; with no XMPP connection here, what it
    // would say in chat is dropped (and logged).
    let (xmpp, _) = mpsc::channel(1);
    let teacher = Teacher::new(
        store.clone(),
        pool.clone(),
        catalogs,
        Teaching::with_defaults(BOT, timeouts),
        xmpp,
    )
    .expect("the teacher");
    let (tx, rx) = mpsc::channel(64);
    let wake = Arc::new(Notify::new());
    let mut consumers = BTreeMap::new();
    consumers.insert(KEY.to_owned(), SECRET.to_owned());
    // The pages reach the bot through the bot's own `lti::Course`, as in `otrbot run`; its
    // admin events come out here instead of in the bot's main loop.
    let course = Arc::new(CoursePages {
        teacher,
        store: store.clone(),
        pool: pool.clone(),
        timeouts,
        events: tx,
        protocol: otrbot::lesson::Protocol::Otr,
    });
    let app = App {
        store: store.clone(),
        course,
        grade_wake: wake.clone(),
        pages,
        lti: Lti {
            public_url: public_url.into(),
            css_url: "https://lms.example.org/style.css".into(),
            consumers,
            timestamp_window: 300,
            ..Default::default()
        },
        format: Format::default(),
        bot_jid: BOT.into(),
        timeouts,
        visit_max_age: 7200,
        prefix: lti::path_prefix(public_url),
    };
    (
        app,
        Env {
            dir,
            store,
            pool,
            events: rx,
            wake,
        },
    )
}

/// Rocket's settings for tests: a fixed secret key, quiet.
pub fn figment() -> rocket::figment::Figment {
    rocket::Config::figment()
        .merge(("secret_key", vec![9u8; 64]))
        .merge(("log_level", "off"))
        .merge(("shutdown.ctrlc", false))
}

/// A local client on the app.
pub async fn client(public_url: &str) -> (Client, Env) {
    let (app, env) = app(public_url, fake_keys());
    let c = Client::tracked(lti::rocket(app, figment())).await.unwrap();
    (c, env)
}

/// Posts a signed launch body to `path`.
pub async fn post_launch<'c>(
    c: &'c Client,
    path: &str,
    body: String,
) -> rocket::local::asynchronous::LocalResponse<'c> {
    c.post(path.to_owned())
        .header(rocket::http::ContentType::Form)
        .body(body)
        .dispatch()
        .await
}

/// Posts a form body to `path`: the status and the page.
pub async fn post(c: &Client, path: &str, body: String) -> (rocket::http::Status, String) {
    let r = c
        .post(path.to_owned())
        .header(rocket::http::ContentType::Form)
        .body(body)
        .dispatch()
        .await;
    (r.status(), r.into_string().await.unwrap_or_default())
}

/// GETs `path`: the status and the page.
pub async fn fetch(c: &Client, path: &str) -> (rocket::http::Status, String) {
    let r = c.get(path.to_owned()).dispatch().await;
    (r.status(), r.into_string().await.unwrap_or_default())
}

/// GETs `path`: the page.
pub async fn get(c: &Client, path: &str) -> String {
    fetch(c, path).await.1
}

/// The value of `name="csrf"` in a page.
pub fn csrf_of(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("a csrf field");
    let rest = &html[i + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// The pretend LMS outcome service (tests/lti_lms.py), checking signatures with oauthlib.
pub struct Lms {
    child: Child,
    /// Its port.
    pub port: u16,
    /// Where it logs each request as a JSON line.
    pub log: std::path::PathBuf,
}

impl Drop for Lms {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the pretend LMS on `port` (0: any) with `secret`.
pub fn lms(port: u16, secret: &str, log: &std::path::Path) -> Lms {
    let mut child = Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lti_lms.py"))
        .args([&port.to_string(), KEY, secret])
        .arg(log)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with oauthlib");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("the LMS prints its port");
    Lms {
        child,
        port,
        log: log.to_owned(),
    }
}

/// What the LMS received, one JSON object per request.
pub fn received(log: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A browser of one: a cookie jar and plain HTTP/1.1 to the bot's LTI port.
pub struct Browser {
    port: u16,
    cookie: Option<String>,
}

/// One response: status, headers (lower-cased names), body.
pub struct Page {
    /// The status code.
    pub status: u16,
    /// The status line and headers, lower-cased.
    pub head: String,
    /// The body.
    pub body: String,
}

impl Browser {
    /// A browser with no cookie yet for the pages on `127.0.0.1:port`.
    pub fn new(port: u16) -> Browser {
        Browser { port, cookie: None }
    }

    /// Sends one request (a form body if given) with the cookie; keeps any new cookie.
    pub fn request(&mut self, method: &str, path: &str, form: Option<&str>) -> Page {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let cookie = self
            .cookie
            .as_ref()
            .map(|c| format!("Cookie: {c}\r\n"))
            .unwrap_or_default();
        let body = form.unwrap_or("");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{cookie}\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
        let head = head.to_ascii_lowercase();
        let status = head[9..12].parse().unwrap();
        if let Some(i) = head.find("set-cookie: otrbot_lti=") {
            let at = i + "set-cookie: ".len();
            let end = out[at..].find(';').map_or(out.len(), |e| at + e);
            self.cookie = Some(out[at..end].to_owned());
        }
        Page {
            status,
            head,
            body: body.to_owned(),
        }
    }

    /// GETs `path`.
    pub fn get(&mut self, path: &str) -> Page {
        self.request("GET", path, None)
    }

    /// Posts a form with the page's CSRF token.
    pub fn submit(&mut self, path: &str, fields: &str) -> Page {
        let csrf = csrf_of(&self.get(path).body);
        self.request("POST", path, Some(&format!("csrf={csrf}&{fields}")))
    }
}

/// Puts the lesson of `jid` where SMP has just succeeded and `code` was given in chat, with
/// `attempts` left (what the lesson holds; the pages ask it).
pub fn give_code(store: &Store, jid: &str, code: &str, attempts: u8) {
    let stage = otrbot::lesson::Stage::Verified(otrbot::lesson::Finished {
        code: code.into(),
        attempts_left: attempts,
        encrypted: false,
        warned: false,
    });
    set_stage(store, jid, &stage);
}

/// Puts `jid`'s lesson at `stage`, as the bot would have stored it.
pub fn set_stage(store: &Store, jid: &str, stage: &otrbot::lesson::Stage) {
    set_stage_at(store, jid, stage, otrbot::clock::unix_now());
}

/// Moves the session of `jid` to `stage` as the bot does, at `at` (Unix seconds).
pub fn set_stage_at(store: &Store, jid: &str, stage: &otrbot::lesson::Stage, at: u64) {
    let bytes = bincode::serde::encode_to_vec(stage, bincode::config::standard()).unwrap();
    let c = otrbot::store::LessonCommit {
        state: Some((bytes, stage.name().into())),
        at,
        ..Default::default()
    };
    store.commit_lesson(jid, &c).unwrap();
}
