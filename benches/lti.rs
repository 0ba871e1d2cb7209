//! LTI launches per second (not a timed test): Rocket on a loopback port, a load generator of
//! 16 keep-alive HTTP/1.1 connections (hyper) posting pre-signed launches with distinct
//! nonces, each with the ~30 fields (~1.1 KB) a Canvas or Moodle launch carries. Each launch is
//! a full OAuth check plus a durable nonce write in sled.
//!
//! There is no anchor in this run: no other LTI tool provider runs here the same way, and
//! Rocket's own `GET /is_up` (also measured) is the web server's floor on this machine, not a
//! comparable tool; the client shares the process (and the 2 cores) with the server.

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
        // What Canvas and Moodle send beside the required fields (~1.1 KB in all).
        ("resource_link_title", "Encrypted chat: verify the bot"),
        ("resource_link_description", "Start OTR with the course bot and verify it with SMP."),
        ("context_id", "4dde05e8ca1973bcca9bffc13e1548820eee93a3"),
        ("context_label", "PRIV101"),
        ("context_title", "Privacy and Security 101"),
        ("context_type", "CourseSection"),
        ("lis_person_name_full", "Ada Learner"),
        ("lis_person_name_given", "Ada"),
        ("lis_person_name_family", "Learner"),
        ("lis_person_contact_email_primary", "ada.learner@example.edu"),
        ("lis_person_sourcedid", "sis-2718281"),
        ("lis_course_offering_sourcedid", "PRIV101-2026-FALL"),
        ("lis_outcome_service_url", "https://lms.example.edu/api/lti/v1/tools/42/grade_passback"),
        ("launch_presentation_document_target", "iframe"),
        ("launch_presentation_locale", "en"),
        ("launch_presentation_return_url", "https://lms.example.edu/courses/7/external_content/success/external_tool_redirect"),
        ("tool_consumer_info_product_family_code", "canvas"),
        ("tool_consumer_info_version", "cloud"),
        ("tool_consumer_instance_guid", "07adb3e60637ff02d9ea11c7c74f1ca921699bd7.lms.example.edu"),
        ("tool_consumer_instance_name", "Example University"),
        ("ext_roles", "urn:lti:instrole:ims/lis/Student,urn:lti:role:ims/lis/Learner,urn:lti:sysrole:ims/lis/User"),
        ("custom_canvas_course_id", "7"),
        ("custom_canvas_user_id", "1138"),
        ("oauth_callback", "about:blank"),
        ("oauth_consumer_key", KEY),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_version", "1.0"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    p.push(("user_id".into(), format!("user-{user}")));
    p.push((
        "lis_result_sourcedid".into(),
        format!("42-7-{user}-1138-6f3b1a2c9d8e7f60a5b4c3d2e1f00112"),
    ));
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
        )
        .expect("the teacher");
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
            protocol: otrbot::lesson::Protocol::Otr,
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
        println!("  no anchor in this run (no other tool provider runs here); /is_up is Rocket's floor");
        println!("  GET /is_up (web server floor):  {up_rate:>8.0} req/s");
        println!(
            "  POST /launch (OAuth + nonce):   {rate:>8.0} launches/s  ({:.2} of the floor; goal: a class of 300 in 30 s = 10/s)",
            rate / up_rate
        );
        println!(
            "  POST /launch replayed (refused):{replay_rate:>8.0} req/s  ({:.2} of the floor)",
            replay_rate / up_rate
        );
        println!(
            "  signing {LAUNCHES} launches in the bench: {:.1} µs each",
            sign_s * 1e6 / LAUNCHES as f64
        );
    });
}
