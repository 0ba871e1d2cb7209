//! LTI launches per second (not a timed test): Rocket on a loopback port, a load generator of
//! 16 keep-alive HTTP/1.1 connections (hyper) posting pre-signed launches with distinct
//! nonces. Each launch is a full OAuth check plus a durable nonce write in sled. Anchor: the
//! same load on `GET /is_up` (Rocket's floor on this machine); the ratio is printed.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use otrbot::i18n::Catalogs;
use otrbot::lti::{self, oauth, App, Pages};
use otrbot::settings::{Format, Lti};
use otrbot::store::{KeyPool, Store, Timeouts};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

const KEY: &str = "bench-lms";
const SECRET: &str = "bench secret";
const CONNECTIONS: usize = 16;
const LAUNCHES: usize = 4000;

fn signed_launch(url: &str, user: usize, ts: u64) -> String {
    let mut p: Vec<(String, String)> = [
        ("lti_message_type", "basic-lti-launch-request"),
        ("lti_version", "LTI-1p0"),
        ("resource_link_id", "link-1"),
        ("roles", "Learner"),
        ("oauth_consumer_key", KEY),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_version", "1.0"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    p.push(("user_id".into(), format!("user-{user}")));
    p.push(("oauth_nonce".into(), format!("nonce-{user}-{ts}")));
    p.push(("oauth_timestamp".into(), ts.to_string()));
    let uri = oauth::base_uri(url).unwrap();
    let sig = oauth::sign(&oauth::base_string("POST", &uri, &p), SECRET);
    p.push(("oauth_signature".into(), sig));
    p.iter()
        .map(|(k, v)| format!("{}={}", oauth::encode(k), oauth::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Sends `requests` over `CONNECTIONS` connections; returns (requests/s, how many had `want`).
async fn load(port: u16, requests: Vec<Option<String>>, want: u16) -> (f64, usize) {
    let queue = Arc::new(std::sync::Mutex::new(requests));
    let good = Arc::new(AtomicUsize::new(0));
    let total = queue.lock().unwrap().len();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (queue, good) = (queue.clone(), good.clone());
        tasks.push(tokio::spawn(async move {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            tcp.set_nodelay(true).unwrap();
            let (mut send, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            loop {
                let Some(body) = queue.lock().unwrap().pop() else {
                    break;
                };
                let req = match body {
                    Some(b) => hyper::Request::post("/launch")
                        .header("host", "127.0.0.1")
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(Full::new(Bytes::from(b))),
                    None => hyper::Request::get("/is_up")
                        .header("host", "127.0.0.1")
                        .body(Full::new(Bytes::new())),
                }
                .unwrap();
                let resp = send.send_request(req).await.unwrap();
                let ok = resp.status().as_u16() == want;
                resp.into_body().collect().await.unwrap();
                if ok {
                    good.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (
        total as f64 / t0.elapsed().as_secs_f64(),
        good.load(Ordering::Relaxed),
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let pool = Arc::new(KeyPool::start(store.clone(), 0, Arc::new(|| vec![0u8; 8])).unwrap());
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let catalogs =
            Arc::new(Catalogs::load(&root.join("locales")).unwrap_or_else(|_| Catalogs::empty()));
        let pages = Pages::load(&root.join("templates"), catalogs.clone(), "en_GB").unwrap();
        let timeouts = Timeouts {
            warning: 1500,
            session: 1800,
        };
        let (xmpp, _) = mpsc::channel(1);
        let teacher = otrbot::bot::teach::Teacher::new(
            store.clone(),
            pool.clone(),
            catalogs,
            otrbot::bot::teach::Teaching::with_defaults("bot@example.org", timeouts),
            xmpp,
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let public = format!("http://127.0.0.1:{port}");
        let mut consumers = BTreeMap::new();
        consumers.insert(KEY.to_owned(), SECRET.to_owned());
        let (tx, mut rx) = mpsc::channel(16);
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let course = Arc::new(otrbot::bot::course::CoursePages {
            teacher,
            store: store.clone(),
            pool,
            timeouts,
            events: tx,
        });
        let app = App {
            store: store.clone(),
            course,
            grade_wake: Arc::new(Notify::new()),
            pages,
            lti: Lti {
                public_url: public.clone(),
                css_url: String::new(),
                consumers,
                timestamp_window: 300,
                ..Default::default()
            },
            format: Format::default(),
            bot_jid: "bot@example.org".into(),
            timeouts,
            visit_max_age: 7200,
            prefix: String::new(),
        };
        let fig = rocket::Config::figment()
            .merge(("secret_key", vec![1u8; 64]))
            .merge(("log_level", "off"))
            .merge(("port", port))
            .merge(("address", "127.0.0.1"))
            .merge(("shutdown.ctrlc", false));
        tokio::spawn(lti::rocket(app, fig).launch());
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let ts = otrbot::clock::unix_now();
        let url = format!("{public}/launch");
        let t_sign = Instant::now();
        let launches: Vec<Option<String>> = (0..LAUNCHES)
            .map(|i| Some(signed_launch(&url, i, ts)))
            .collect();
        let sign_s = t_sign.elapsed().as_secs_f64();
        // Warm up, then the anchor and the launches.
        load(port, vec![None; 500], 200).await;
        let (up_rate, up_ok) = load(port, vec![None; LAUNCHES], 200).await;
        let (rate, ok) = load(port, launches.clone(), 303).await;
        assert_eq!(ok, LAUNCHES, "every launch accepted");
        assert_eq!(store.nonce_count(), LAUNCHES);
        // The same launches again: all replays, refused (no nonce write).
        let (replay_rate, refused) = load(port, launches, 403).await;
        assert_eq!(refused, LAUNCHES, "every replay refused");
        assert_eq!(up_ok, LAUNCHES);
        println!("lti bench: {CONNECTIONS} connections, {LAUNCHES} requests each phase, loopback");
        println!("  GET /is_up (anchor):            {up_rate:>8.0} req/s");
        println!(
            "  POST /launch (OAuth + nonce):   {rate:>8.0} launches/s  ({:.2}x anchor)",
            rate / up_rate
        );
        println!(
            "  POST /launch replayed (refused):{replay_rate:>8.0} req/s  ({:.2}x anchor)",
            replay_rate / up_rate
        );
        println!(
            "  signing {LAUNCHES} launches in the bench: {:.1} µs each",
            sign_s * 1e6 / LAUNCHES as f64
        );
    });
}
