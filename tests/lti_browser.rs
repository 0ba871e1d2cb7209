//! Headless Chromium walks the LTI pages inside an iframe of a pretend LMS on another site
//! (localhost vs 127.0.0.1), so the session cookie is a third-party one: SameSite=None,
//! Secure, Partitioned; a learner to the end, then a teacher through the instructor page, a
//! reset and an error page, in English and in Dutch. axe-core checks every page (a serious or
//! critical finding fails). Screenshots go to target/lti-browser/<locale>/, and to
//! docs/screenshots/<locale>/ when `OTRBOT_SCREENSHOTS=docs` (how the README's are made).

mod lti_common;

use lti_common::*;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every screenshot a walk takes, each also checked by axe-core.
const SHOTS: [&str; 10] = [
    "1-welcome-jid.png",
    "2-jid-entered.png",
    "3-weak-secret.png",
    "4-code.png",
    "5-wrong-code.png",
    "6-done.png",
    "7-instructor.png",
    "8-reset-confirm.png",
    "9-reset-done.png",
    "10-error.png",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_walks_the_pages_in_a_cross_site_iframe_in_english() {
    walk("en-GB").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_walks_the_pages_in_a_cross_site_iframe_in_dutch() {
    walk("nl-NL").await;
}

async fn walk(locale: &str) {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium package is needed (scripts/lib/deps.sh installs it)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    // Real DSA keys, so the page shows this session's fingerprint.
    let (app, env) = app(&base, std::sync::Arc::new(otrbot::store::default_dsa_key));
    let fig = figment()
        .merge(("port", port))
        .merge(("address", "127.0.0.1"));
    let server = tokio::spawn(otrbot::lti::rocket(app, fig).launch());
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "Rocket did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut p = learner("browser-user");
    p.insert("launch_presentation_locale".into(), locale.into());
    p.insert("lis_person_name_full".into(), "Ada Lovelace".into());
    p.insert(
        "launch_presentation_return_url".into(),
        "http://localhost/course/1".into(),
    );
    p.insert(
        "lis_outcome_service_url".into(),
        "http://127.0.0.1:9/outcomes".into(),
    );
    p.insert("lis_result_sourcedid".into(), "c1:l1:browser".into());
    let body = signed(&format!("{base}/launch"), &p);
    let mut t = learner("teacher");
    t.insert("launch_presentation_locale".into(), locale.into());
    t.insert("roles".into(), "Instructor".into());
    t.insert("lis_person_name_full".into(), "Grace Hopper".into());
    let teacher = signed(&format!("{base}/launch"), &t);

    let out = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/lti-browser")
        .join(locale);
    std::fs::create_dir_all(&out).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let mut node = Command::new("node")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lti_browser.js"))
        .args([&base, &body])
        .arg(&out)
        .arg(profile.path())
        .arg(&teacher)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node");
    let mut stdin = node.stdin.take().unwrap();
    let stdout = node.stdout.take().unwrap();
    let store = env.store.clone();
    let lines = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if line == "CODE?" {
                // The bot gives the code in chat once SMP succeeded; here the test does it.
                give_code(&store, "learner@example.org", "K7QM-3XPA", 5);
                writeln!(stdin, "k7qm 3xpa").unwrap();
            }
            seen.push(line);
        }
        seen
    })
    .await
    .unwrap();
    let status = node.wait().unwrap();
    server.abort();
    assert!(status.success(), "browser walk failed: {lines:?}");
    assert!(lines.contains(&format!("BOT {BOT}")), "{lines:?}");
    let fpr = lines
        .iter()
        .find_map(|l| l.strip_prefix("FINGERPRINT "))
        .unwrap();
    assert_eq!(fpr.len(), 44, "fingerprint shown: {fpr:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("WEAK ") && l.len() > 10),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"RETURN http://localhost/course/1".to_owned()),
        "{lines:?}"
    );
    assert_eq!(lines.last().map(String::as_str), Some("OK"));
    let findings: Vec<&String> = lines.iter().filter(|l| l.starts_with("AXE ")).collect();
    eprintln!("{locale}: axe-core findings (none serious or critical): {findings:?}");
    let keep = std::env::var("OTRBOT_SCREENSHOTS").is_ok_and(|v| v == "docs");
    let docs = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/screenshots")
        .join(locale);
    for shot in SHOTS {
        let meta = std::fs::metadata(out.join(shot)).unwrap();
        assert!(meta.len() > 5_000, "{shot} is {} bytes", meta.len());
        assert!(
            lines.contains(&format!("AUDITED {shot}")),
            "{shot} was not checked: {lines:?}"
        );
        if keep {
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::copy(out.join(shot), docs.join(shot)).unwrap();
        }
    }
    assert_eq!(env.store.grades().unwrap().len(), 1, "grade queued");
}
