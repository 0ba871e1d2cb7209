//! From the LMS to the grade, through one `otrbot run`: a launch signed by oauthlib, the JID
//! and shared secret given on the course pages, the bot befriending the learner over Prosody,
//! the lesson with real libotr, the completion code typed on the page, and the grade arriving
//! at a pretend LMS that checks its signature.

mod lti_common;
mod support;

use std::time::{Duration, Instant};
use support::learner::{befriend, go_private, spawn_bot_with_pages, Learner};
use support::prosody;

use support::process::free_port;

#[tokio::test]
async fn launch_to_grade_through_the_running_bot() {
    let logdir = tempfile::tempdir().unwrap();
    let lms = lti_common::lms(0, lti_common::SECRET, &logdir.path().join("lms.log"));
    let port = free_port();
    let (bjid, bpw) = prosody::fresh_account("ltiteacher");
    let (ljid, lpw) = prosody::fresh_account("ltilearner");

    // The bot: nobody whitelisted in its settings, no default secret, the test LMS's key.
    let _bot = spawn_bot_with_pages(
        port,
        &bjid,
        &bpw,
        (lti_common::KEY, lti_common::SECRET),
        tempfile::tempdir().unwrap(),
        std::process::Stdio::inherit(),
    );

    // The learner is online in their chat client before giving the JID.
    let mut l = Learner::login(&ljid, &lpw, &bjid.parse().unwrap()).await;

    // The LMS launches the tool for the learner.
    let mut params = lti_common::learner("e2e-1");
    params.insert(
        "lis_outcome_service_url".into(),
        format!("http://127.0.0.1:{}/outcomes", lms.port),
    );
    params.insert(
        "lis_result_sourcedid".into(),
        "course-1:link-1:e2e-1".into(),
    );
    let launch = lti_common::signed(&format!("http://127.0.0.1:{port}/launch"), &params);
    let mut b = lti_common::Browser::new(port);
    let p = b.request("POST", "/launch", Some(&launch));
    assert_eq!(p.status, 303, "{}{}", p.head, p.body);
    assert!(p.head.contains("location: /jid"), "{}", p.head);

    // The JID on the page: the bot asks the learner for a subscription.
    let p = b.submit("/jid", &format!("jid={}", ljid.replace('@', "%40")));
    assert_eq!(p.status, 303, "{}", p.body);
    let added = b.get("/added").body;
    assert!(added.contains(&bjid), "the page names the bot: {added}");
    befriend(&mut l).await;

    // The shared secret on the page.
    let p = b.submit("/secret", "secret=purple+otters+sing+at+noon");
    assert_eq!(p.status, 303, "{}", p.body);

    // The lesson over XMPP with libotr.
    go_private(&mut l).await;
    let code = l.smp_to_the_code(b"purple otters sing at noon").await;

    // The code on the page: done, and the grade goes to the LMS.
    let p = b.submit("/code", &format!("code={code}"));
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(b.get("/done").body.contains("Well done"));
    let until = Instant::now() + Duration::from_secs(30);
    let got = loop {
        let got = lti_common::received(&lms.log);
        if !got.is_empty() || Instant::now() > until {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(got.len(), 1, "one grade: {got:?}");
    assert_eq!(
        got[0]["ok"], true,
        "signature and body hash checked: {got:?}"
    );
    assert_eq!(got[0]["sourcedid"], "course-1:link-1:e2e-1");
    assert_eq!(
        got[0]["score"].as_str().map(str::parse::<f64>),
        Some(Ok(1.0))
    );
}

/// A teacher resets a learner who has their code but has not entered it: the learner's
/// libotr still holds the old OTR session, the bot a new one with a new key. The learner
/// starts OTR again, chooses a new secret, verifies, and gets a new code; the old one is void.
#[tokio::test]
async fn a_learner_reset_by_the_teacher_starts_again_with_a_new_code() {
    let port = free_port();
    let (bjid, bpw) = prosody::fresh_account("resetteacher");
    let (ljid, lpw) = prosody::fresh_account("resetlearner");
    let _bot = spawn_bot_with_pages(
        port,
        &bjid,
        &bpw,
        (lti_common::KEY, lti_common::SECRET),
        tempfile::tempdir().unwrap(),
        std::process::Stdio::inherit(),
    );
    let mut l = Learner::login(&ljid, &lpw, &bjid.parse().unwrap()).await;
    let launch_as = |params: &std::collections::BTreeMap<String, String>| {
        lti_common::signed(&format!("http://127.0.0.1:{port}/launch"), params)
    };
    let mut b = lti_common::Browser::new(port);
    let p = b.request(
        "POST",
        "/launch",
        Some(&launch_as(&lti_common::learner("r-1"))),
    );
    assert_eq!(p.status, 303, "{}{}", p.head, p.body);
    let p = b.submit("/jid", &format!("jid={}", ljid.replace('@', "%40")));
    assert_eq!(p.status, 303, "{}", p.body);
    befriend(&mut l).await;
    b.submit("/secret", "secret=purple+otters+sing+at+noon");
    go_private(&mut l).await;
    let first = l.smp_to_the_code(b"purple otters sing at noon").await;

    // The teacher resets the learner from the instructor page.
    let mut t = lti_common::Browser::new(port);
    let mut teacher = lti_common::learner("r-teacher");
    teacher.insert("roles".into(), "Instructor".into());
    assert_eq!(
        t.request("POST", "/launch", Some(&launch_as(&teacher)))
            .status,
        303
    );
    let q = format!("/instructor/reset?jid={}", ljid.replace('@', "%40"));
    let page = t.get(&q);
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = lti_common::csrf_of(&page.body);
    let p = t.request(
        "POST",
        "/instructor/reset",
        Some(&format!("csrf={csrf}&jid={}", ljid.replace('@', "%40"))),
    );
    assert_eq!(p.status, 303, "{}", p.body);

    // The learner hears of it in the private conversation, which the bot then ends.
    l.until("the reset, told in the chat", |l| {
        l.heard("started your exercise again")
    })
    .await;
    l.relay_for(Duration::from_millis(300)).await;
    let ended = l.peer.status(&l.contact());
    assert_eq!(
        ended.msgstate,
        support::libotr::MsgState::Finished,
        "the learner's client shows the private conversation ended: {ended:?}"
    );

    // The old code is void: the new session has none yet.
    let p = b.submit("/code", &format!("code={first}"));
    assert_ne!(p.status, 303, "the old code must not complete the exercise");
    assert!(!b.get("/").head.contains("location: /done"));

    // The learner starts again: a new secret, OTR again (a new AKE with the new key), SMP.
    let p = b.submit("/secret", "secret=seven+green+herons+at+dusk");
    assert_eq!(p.status, 303, "{}", p.body);
    let heard = l.said.len();
    let q = l.peer.query(&l.contact());
    l.send_wire(&q.inject).await;
    l.until("the bot's SMP request in the new session", |l| {
        l.heard_since(heard, "authenticate me")
    })
    .await;
    let second = l.smp_to_the_code(b"seven green herons at dusk").await;
    assert_ne!(second, first, "a new code");
    let p = b.submit("/code", &format!("code={second}"));
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(b.get("/done").body.contains("Well done"));
}
