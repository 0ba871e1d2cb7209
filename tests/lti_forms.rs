//! The learner's pages through Rocket's local client: CSRF on every form, hostile input
//! escaped, the JID → secret → code → done walk, attempts limited, grade queued once.

mod lti_common;

use lti_common::*;
use otrbot::bot::admin::AdminEvent;
use rocket::http::Status;
use rocket::local::asynchronous::Client;

const PUBLIC: &str = "http://127.0.0.1:8000";

async fn launched(params: std::collections::BTreeMap<String, String>) -> (Client, Env) {
    let (c, env) = client(PUBLIC).await;
    let status = post_launch(&c, "/launch", signed(&format!("{PUBLIC}/launch"), &params))
        .await
        .status();
    assert_eq!(status, Status::SeeOther);
    (c, env)
}

#[rocket::async_test]
async fn every_form_needs_the_csrf_token() {
    let (c, env) = launched(learner("u1")).await;
    let token = csrf_of(&get(&c, "/jid").await);
    let (s, _) = post(&c, "/jid", "jid=a%40example.org".into()).await;
    assert_eq!(s, Status::UnprocessableEntity, "no token");
    let last = if token.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &token[..token.len() - 1]);
    let (s, html) = post(&c, "/jid", format!("csrf={wrong}&jid=a%40example.org")).await;
    assert_eq!(s, Status::Forbidden, "wrong token");
    assert!(html.contains("did not come from this page"));
    assert!(env.store.session("a@example.org").unwrap().is_none());
    let (s, _) = post(&c, "/jid", format!("csrf={token}&jid=a%40example.org")).await;
    assert_eq!(s, Status::SeeOther);
    for path in ["/secret", "/code"] {
        let field = if path == "/secret" { "secret" } else { "code" };
        let (s, _) = post(&c, path, format!("{field}=x")).await;
        assert_eq!(s, Status::UnprocessableEntity, "{path} without token");
        let (s, _) = post(&c, path, format!("csrf={wrong}&{field}=x")).await;
        assert_eq!(s, Status::Forbidden, "{path} with a wrong token");
    }
    // A token from another launch does not work either.
    let (c2, _env2) = launched(learner("u2")).await;
    let other = csrf_of(&get(&c2, "/jid").await);
    assert_ne!(other, token);
    let (s, _) = post(
        &c,
        "/secret",
        format!("csrf={other}&secret=correct+horse+battery"),
    )
    .await;
    assert_eq!(s, Status::Forbidden);
}

#[rocket::async_test]
async fn hostile_input_is_escaped() {
    let mut p = learner("<script>alert('u')</script>");
    p.insert(
        "launch_presentation_locale".into(),
        "\"><script>alert(1)</script>".into(),
    );
    p.insert(
        "resource_link_id".into(),
        "<img src=x onerror=alert(2)>".into(),
    );
    let (c, _env) = launched(p).await;
    let html = get(&c, "/jid").await;
    let token = csrf_of(&html);
    assert!(!html.contains("<script>alert"), "{html}");
    let hostile = "%3Cscript%3Ealert(3)%3C%2Fscript%3E%22%3E%40example.org";
    let (s, html) = post(&c, "/jid", format!("csrf={token}&jid={hostile}")).await;
    assert_eq!(s, Status::UnprocessableEntity);
    assert!(!html.contains("<script>alert(3)"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(3)&lt;&#x2F;script&gt;&quot;&gt;@example.org"),
        "{html}"
    );
    // Oversized fields are refused, not stored.
    let (s, _) = post(&c, "/jid", format!("csrf={token}&jid={}", "a".repeat(5000))).await;
    assert!(
        s == Status::UnprocessableEntity || s == Status::PayloadTooLarge,
        "{s}"
    );
    // Unknown pages give the error page, not a stack trace.
    let r = c.get("/nope/../../etc/passwd").dispatch().await;
    assert_eq!(r.status(), Status::NotFound);
    let body = r.into_string().await.unwrap();
    assert!(body.contains("There is no such page"), "{body}");
}

#[rocket::async_test]
async fn the_walk_from_jid_to_done_queues_one_grade() {
    let mut p = learner("u1");
    p.insert(
        "lis_outcome_service_url".into(),
        "https://lms.example.org/outcomes".into(),
    );
    p.insert("lis_result_sourcedid".into(), "course-1:link-1:u1".into());
    let (c, mut env) = launched(p).await;
    let token = csrf_of(&get(&c, "/jid").await);
    let (s, html) = post(&c, "/jid", format!("csrf={token}&jid={BOT}")).await;
    assert_eq!(s, Status::UnprocessableEntity, "{html}");
    let (s, _) = post(
        &c,
        "/jid",
        format!("csrf={token}&jid=+Learner%40Example.org+"),
    )
    .await;
    assert_eq!(s, Status::SeeOther);
    let jid = "learner@example.org";
    let wl = env.store.whitelist_get(jid).unwrap().unwrap();
    assert_eq!(wl.source, otrbot::store::WhitelistSource::Lti);
    let added = get(&c, "/added").await;
    assert!(added.contains(BOT), "{added}");

    let html = get(&c, "/secret").await;
    let (s, html2) = post(
        &c,
        "/secret",
        format!("csrf={}&secret=1234", csrf_of(&html)),
    )
    .await;
    assert_eq!(s, Status::UnprocessableEntity);
    assert!(html2.contains("class=\"error\""), "{html2}");
    assert!(env
        .store
        .session(jid)
        .unwrap()
        .unwrap()
        .session
        .shared_secret
        .is_none());
    let (s, _) = post(
        &c,
        "/secret",
        format!("csrf={token}&secret=purple+otters+sing+at+noon"),
    )
    .await;
    assert_eq!(s, Status::SeeOther);
    let sess = env.store.session(jid).unwrap().unwrap().session;
    assert_eq!(
        sess.shared_secret.unwrap().expose(),
        b"purple otters sing at noon"
    );

    // No code yet: explained.
    let (s, html) = post(&c, "/code", format!("csrf={token}&code=ABCD-EFGH")).await;
    assert_eq!(s, Status::UnprocessableEntity);
    assert!(html.contains("Finish the chat first"), "{html}");
    // The bot gives a code (as the lesson does when SMP succeeds).
    give_code(&env.store, jid, "K7QM-3XPA", 5);
    let (s, html) = post(&c, "/code", format!("csrf={token}&code=AAAA-AAAA")).await;
    assert_eq!(s, Status::UnprocessableEntity);
    assert!(html.contains("4 attempts left"), "{html}");
    assert!(!get(&c, "/done").await.contains("Well done"));
    let (s, _) = post(&c, "/code", format!("csrf={token}&code=k7qm3xpa")).await;
    assert_eq!(s, Status::SeeOther);
    let done = get(&c, "/done").await;
    assert!(done.contains("Well done"), "{done}");
    assert!(
        done.contains("lms.example.org&#x2F;course&#x2F;1"),
        "return link: {done}"
    );
    let grades = env.store.grades().unwrap();
    assert_eq!(grades.len(), 1);
    assert_eq!(grades[0].1.sourcedid, "course-1:link-1:u1");
    assert_eq!(grades[0].1.score, 1.0);
    // Entering it again queues nothing more.
    let (s, _) = post(&c, "/code", format!("csrf={token}&code=K7QM-3XPA")).await;
    assert_eq!(s, Status::SeeOther);
    assert_eq!(env.store.grades().unwrap().len(), 1);

    let mut seen = Vec::new();
    while let Ok(ev) = env.events.try_recv() {
        seen.push(ev);
    }
    let j = || jid.to_owned();
    assert!(seen.contains(&AdminEvent::WhitelistAdded { jid: j() }));
    assert!(seen.contains(&AdminEvent::SessionStarted { jid: j() }));
    // The lesson, not the page, decided: its stage says completed.
    let sess = env.store.session(jid).unwrap().unwrap().session;
    assert_eq!(sess.stage, "completed");
    assert_eq!(sess.attempts.secret, 1, "one secret set on the page");
}

#[rocket::async_test]
async fn attempts_are_limited_and_no_grade_without_an_outcome_url() {
    let (c, env) = launched(learner("u1")).await;
    let token = csrf_of(&get(&c, "/jid").await);
    post(&c, "/jid", format!("csrf={token}&jid=l%40example.org")).await;
    give_code(&env.store, "l@example.org", "K7QM-3XPA", 5);
    for _ in 0..4 {
        let (s, _) = post(&c, "/code", format!("csrf={token}&code=WRONG-CODE")).await;
        assert_eq!(s, Status::UnprocessableEntity);
    }
    let (s, html) = post(&c, "/code", format!("csrf={token}&code=WRONG-CODE")).await;
    assert_eq!(s, Status::TooManyRequests, "{html}");
    assert!(html.contains("the code no longer works"), "{html}");
    // The voided code no longer works, and the page says how to get a new one.
    let (s, html) = post(&c, "/code", format!("csrf={token}&code=K7QM-3XPA")).await;
    assert_eq!(s, Status::UnprocessableEntity, "{html}");
    assert!(html.contains("Finish the chat first"), "{html}");
    // Another learner without lis_outcome_service_url: done, but nothing queued.
    let (c2, env2) = launched(learner("u2")).await;
    let token = csrf_of(&get(&c2, "/jid").await);
    post(&c2, "/jid", format!("csrf={token}&jid=m%40example.org")).await;
    give_code(&env2.store, "m@example.org", "K7QM-3XPA", 5);
    let (s, _) = post(&c2, "/code", format!("csrf={token}&code=K7QM-3XPA")).await;
    assert_eq!(s, Status::SeeOther);
    assert!(env2.store.grades().unwrap().is_empty());
}

#[rocket::async_test]
async fn pages_speak_the_launch_locale() {
    let mut p = learner("u1");
    p.insert("launch_presentation_locale".into(), "nl-NL".into());
    let (c, _env) = launched(p).await;
    let html = get(&c, "/jid").await;
    assert!(html.contains("Je Jabber-ID"), "{html}");
    let (s, html) = post(&c, "/jid", format!("csrf={}&jid=nope", csrf_of(&html))).await;
    assert_eq!(s, Status::UnprocessableEntity);
    assert!(html.contains("Dit is geen Jabber-ID"), "{html}");
    let mut p = learner("u2");
    p.insert("launch_presentation_locale".into(), "de".into());
    let (c, _env) = launched(p).await;
    assert!(get(&c, "/jid").await.contains("Deine Jabber-ID"));
    // Error pages too, in the visit's locale.
    let r = c.get("/instructor").dispatch().await;
    assert_eq!(r.status(), Status::Forbidden);
    let html = r.into_string().await.unwrap();
    assert!(
        html.contains("Diese Seite ist für Lehrkräfte des Kurses."),
        "{html}"
    );
    assert!(
        html.contains("Zum Schritt, bei dem du gerade bist"),
        "{html}"
    );
}

#[rocket::async_test]
async fn no_session_leaves_no_whitelist_entry() {
    let (c, env) = launched(learner("u9")).await;
    // No key can be had: the filler is stopped and the ready keys are taken.
    env.pool.stop();
    let s = otrbot::store::Session::new("started", "en_GB", now());
    let t = otrbot::store::Timeouts {
        warning: 60,
        session: 120,
    };
    for i in 0..env.pool.ready() + 2 {
        let _ = env
            .store
            .create_session(&format!("other{i}@example.org"), &s, t);
    }
    assert_eq!(env.pool.ready(), 0);
    let token = csrf_of(&get(&c, "/jid").await);
    let (status, _) = post(&c, "/jid", format!("csrf={token}&jid=late%40example.org")).await;
    assert_eq!(status, Status::InternalServerError);
    assert!(env.store.session("late@example.org").unwrap().is_none());
    assert!(
        env.store
            .whitelist_get("late@example.org")
            .unwrap()
            .is_none(),
        "the whitelist entry made for the failed session is gone"
    );
}
