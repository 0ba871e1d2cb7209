//! Headless Chromium walks the LTI pages inside an iframe of a pretend LMS on another site
//! (localhost vs 127.0.0.1), so the session cookie is a third-party one: SameSite=None,
//! Secure, Partitioned. Screenshots go to target/lti-browser/.

mod lti_common;

use lti_common::*;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_walks_the_pages_in_a_cross_site_iframe() {
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

    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/lti-browser");
    std::fs::create_dir_all(&out).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let mut node = Command::new("node")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lti_browser.js"))
        .args([&base, &body])
        .arg(&out)
        .arg(profile.path())
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
    for shot in [
        "1-welcome-jid.png",
        "2-jid-entered.png",
        "3-weak-secret.png",
        "4-code.png",
        "5-wrong-code.png",
        "6-done.png",
    ] {
        let meta = std::fs::metadata(out.join(shot)).unwrap();
        assert!(meta.len() > 5_000, "{shot} is {} bytes", meta.len());
    }
    assert_eq!(env.store.grades().unwrap().len(), 1, "grade queued");
}
