//! The course side as real LMSes and learners use it: the roles LMSes really send, launches
//! without a user id, limits under requests sent at once, one JID per learner, a done page
//! that says what happened, launch fields of real lengths, and pages that say their language.
//! Launches are signed by Python's oauthlib; the lesson deciding on the pages is the real one.

mod lti_common;

use lti_common::*;
use otrbot::bot::admin::AdminEvent;
use rocket::http::Status;
use rocket::local::asynchronous::Client;
use std::collections::BTreeMap;

const PUBLIC: &str = "http://127.0.0.1:8000";

async fn launch(c: &Client, params: &BTreeMap<String, String>) -> (Status, String) {
    let r = post_launch(c, "/launch", signed(&format!("{PUBLIC}/launch"), params)).await;
    let to = r.headers().get_one("Location").unwrap_or("").to_owned();
    (r.status(), to)
}

async fn enter_jid(c: &Client, jid: &str) -> (Status, String) {
    let token = csrf_of(&get(c, "/jid").await);
    post(
        c,
        "/jid",
        format!(
            "csrf={token}&jid={}",
            jid.replace('+', "%2B").replace('@', "%40")
        ),
    )
    .await
}

fn with_roles(user: &str, roles: &str) -> BTreeMap<String, String> {
    let mut p = learner(user);
    p.insert("roles".into(), roles.into());
    p
}

#[rocket::async_test]
async fn only_those_who_teach_see_the_learners() {
    let (c, _env) = client(PUBLIC).await;
    launch(&c, &learner("u1")).await;
    assert_eq!(enter_jid(&c, "pupil@example.org").await.0, Status::SeeOther);
    // Canvas's observers (often parents) and mentors: the learner's way, no one's progress.
    for roles in [
        "urn:lti:role:ims/lis/Mentor",
        "Mentor",
        "urn:lti:role:ims/lis/Mentor/Advisor",
        // Moodle appends the site administrator's roles to every launch of an admin.
        "Learner,urn:lti:sysrole:ims/lis/Administrator,urn:lti:instrole:ims/lis/Administrator",
        "urn:lti:instrole:ims/lis/Faculty",
    ] {
        let (s, to) = launch(&c, &with_roles("watcher", roles)).await;
        assert_eq!((s, to.as_str()), (Status::SeeOther, "/jid"), "{roles}");
        let (s, html) = fetch(&c, "/instructor").await;
        assert_eq!(s, Status::Forbidden, "{roles}: {html}");
        assert!(!html.contains("pupil@example.org"), "{roles}");
    }
    for roles in [
        "Instructor",
        "urn:lti:role:ims/lis/TeachingAssistant",
        "urn:lti:role:ims/lis/ContentDeveloper",
        "urn:lti:role:ims/lis/Administrator",
        "Instructor,urn:lti:sysrole:ims/lis/Administrator",
    ] {
        let (s, to) = launch(&c, &with_roles("teacher", roles)).await;
        assert_eq!(
            (s, to.as_str()),
            (Status::SeeOther, "/instructor"),
            "{roles}"
        );
        let (s, html) = fetch(&c, "/instructor").await;
        assert_eq!(s, Status::Ok, "{roles}");
        assert!(html.contains("pupil@example.org"), "{roles}: {html}");
    }
}

#[rocket::async_test]
async fn launches_without_a_user_id_are_learners_of_their_own() {
    let (c, env) = client(PUBLIC).await;
    let mut none = learner("x");
    none.remove("user_id");
    launch(&c, &none).await;
    assert_eq!(enter_jid(&c, "first@example.org").await.0, Status::SeeOther);
    // Another launch without a user id (here empty) must not take that learner's session.
    let mut empty = learner("x");
    empty.insert("user_id".into(), String::new());
    launch(&c, &empty).await;
    let (s, html) = enter_jid(&c, "first@example.org").await;
    assert_eq!(s, Status::UnprocessableEntity, "{html}");
    assert!(html.contains("already taking part"), "{html}");
    let r = c.get("/code").dispatch().await;
    assert_eq!(
        (r.status(), r.headers().get_one("Location")),
        (Status::SeeOther, Some("/")),
        "no session of the first learner's: back to the step this one is on"
    );
    assert_eq!(launch_location(&c, "/").await, "/jid");
    let bound = env.store.session("first@example.org").unwrap().unwrap();
    assert!(bound
        .session
        .lti
        .unwrap()
        .user_id
        .starts_with("(anonymous launch "));
}

/// Thirty wrong codes at once, each on its own task of a runtime with four threads (as
/// Rocket's workers would take them): the lesson judges five, one after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn codes_sent_at_once_are_judged_one_at_a_time() {
    let (c, env) = client(PUBLIC).await;
    launch(&c, &learner("u1")).await;
    enter_jid(&c, "racer@example.org").await;
    give_code(&env.store, "racer@example.org", "K7QM-3XPA", 5);
    let token = csrf_of(&get(&c, "/code").await);
    let c = std::sync::Arc::new(c);
    let tries: Vec<_> = (0..30)
        .map(|i| {
            let (c, body) = (c.clone(), format!("csrf={token}&code=WRONG-{i:04}"));
            tokio::spawn(async move { post(&c, "/code", body).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tries {
        answers.push(t.await.unwrap());
    }
    let judged = answers
        .iter()
        .filter(|(_, html)| html.contains("not the code the bot gave you"))
        .count();
    let voided = answers
        .iter()
        .filter(|(s, html)| *s == Status::TooManyRequests && html.contains("no longer works"))
        .count();
    assert_eq!((judged, voided), (4, 1), "five attempts, no more");
    // The rest were told there is no code now; the right code no longer works either.
    let (s, html) = post(&c, "/code", format!("csrf={token}&code=K7QM-3XPA")).await;
    assert_eq!(s, Status::UnprocessableEntity, "{html}");
    assert!(env.store.grades().unwrap().is_empty());
}

#[rocket::async_test]
async fn a_relaunch_after_the_last_attempt_shows_the_way_on() {
    let (c, env) = client(PUBLIC).await;
    launch(&c, &learner("u1")).await;
    enter_jid(&c, "stuck@example.org").await;
    give_code(&env.store, "stuck@example.org", "K7QM-3XPA", 1);
    let token = csrf_of(&get(&c, "/code").await);
    let (s, _) = post(&c, "/code", format!("csrf={token}&code=WRONG-CODE")).await;
    assert_eq!(s, Status::TooManyRequests);
    // From the course again: no "0 attempts left", but what to do.
    launch(&c, &learner("u1")).await;
    assert_eq!(enter_jid(&c, "stuck@example.org").await.0, Status::SeeOther);
    let (_, html) = fetch(&c, "/code").await;
    assert!(!html.contains("0 attempts"), "{html}");
    assert!(html.contains("bot gives you a completion code"), "{html}");
    // The lesson voided the secret too: a new one is asked for, and accepted.
    let rec = env.store.session("stuck@example.org").unwrap().unwrap();
    assert!(rec.session.shared_secret.is_none());
    assert_eq!(rec.session.stage, "plaintext");
    let token = csrf_of(&get(&c, "/secret").await);
    let (s, _) = post(
        &c,
        "/secret",
        format!("csrf={token}&secret=new+violet+kites"),
    )
    .await;
    assert_eq!(s, Status::SeeOther);
}

#[rocket::async_test]
async fn one_learner_puts_few_jids_through_the_bot() {
    let (c, mut env) = client(PUBLIC).await;
    launch(&c, &learner("u1")).await;
    assert_eq!(enter_jid(&c, "one@example.org").await.0, Status::SeeOther);
    let (s, _) = enter_jid(&c, "two@example.org").await;
    assert_eq!(s, Status::SeeOther);
    // The earlier JID's session ended: off the whitelist and the roster.
    assert!(env.store.session("one@example.org").unwrap().is_none());
    assert!(env
        .store
        .whitelist_get("one@example.org")
        .unwrap()
        .is_none());
    let (_, added) = fetch(&c, "/added").await;
    assert!(
        added.contains("You entered one@example.org before"),
        "{added}"
    );
    let mut seen = Vec::new();
    while let Ok(ev) = env.events.try_recv() {
        seen.push(ev);
    }
    assert!(seen.contains(&AdminEvent::WhitelistRemoved {
        jid: "one@example.org".into()
    }));
    assert_eq!(enter_jid(&c, "three@example.org").await.0, Status::SeeOther);
    let (s, html) = enter_jid(&c, "four@example.org").await;
    assert_eq!(s, Status::TooManyRequests, "{html}");
    assert!(
        html.contains("already used 3 different Jabber IDs"),
        "{html}"
    );
    assert!(env.store.session("four@example.org").unwrap().is_none());
    // A relaunch by the same learner does not reset the count; the current JID still works.
    launch(&c, &learner("u1")).await;
    assert_eq!(
        enter_jid(&c, "five@example.org").await.0,
        Status::TooManyRequests
    );
    assert_eq!(enter_jid(&c, "three@example.org").await.0, Status::SeeOther);
}

#[rocket::async_test]
async fn jids_sent_at_once_from_one_launch_are_bounded() {
    let (c, mut env) = client(PUBLIC).await;
    launch(&c, &learner("u7")).await;
    let token = csrf_of(&get(&c, "/jid").await);
    let tries = (0..20).map(|i| {
        post(
            &c,
            "/jid",
            format!("csrf={token}&jid=spam{i}%40example.org"),
        )
    });
    futures::future::join_all(tries).await;
    let sessions = env.store.sessions().unwrap();
    assert!(sessions.len() <= 3, "{} sessions", sessions.len());
    let mut subscribed = 0;
    while let Ok(ev) = env.events.try_recv() {
        if matches!(ev, AdminEvent::WhitelistAdded { .. }) {
            subscribed += 1;
        }
    }
    assert!(subscribed <= 3, "{subscribed} subscription requests");
}

#[rocket::async_test]
async fn the_done_page_says_what_became_of_the_grade() {
    for (outcome, says) in [
        (true, "being sent to your course"),
        (false, "did not ask for a grade"),
    ] {
        let (c, env) = client(PUBLIC).await;
        let mut p = learner("u1");
        if outcome {
            p.insert(
                "lis_outcome_service_url".into(),
                "https://lms.example.org/o".into(),
            );
            p.insert("lis_result_sourcedid".into(), "s-1".into());
        }
        launch(&c, &p).await;
        enter_jid(&c, "done@example.org").await;
        give_code(&env.store, "done@example.org", "K7QM-3XPA", 5);
        let token = csrf_of(&get(&c, "/code").await);
        let (s, _) = post(&c, "/code", format!("csrf={token}&code=K7QM-3XPA")).await;
        assert_eq!(s, Status::SeeOther);
        let (_, html) = fetch(&c, "/done").await;
        assert!(html.contains(says), "{outcome}: {html}");
        assert!(!html.contains("has been told"), "{html}");
        assert_eq!(env.store.grades().unwrap().len(), usize::from(outcome));
    }
}

#[rocket::async_test]
async fn long_launch_fields_keep_the_cookie_small() {
    let (c, _env) = client(PUBLIC).await;
    let mut p = learner(&"u".repeat(255));
    let long = |prefix: &str| format!("{prefix}{}", "x".repeat(1000 - prefix.len()));
    p.insert("lis_result_sourcedid".into(), long("s"));
    p.insert(
        "lis_outcome_service_url".into(),
        long("https://lms.example.org/o?"),
    );
    p.insert(
        "launch_presentation_return_url".into(),
        long("https://lms.example.org/r?"),
    );
    p.insert("context_id".into(), long("c"));
    p.insert("resource_link_id".into(), "r".repeat(255));
    let r = post_launch(&c, "/launch", signed(&format!("{PUBLIC}/launch"), &p)).await;
    assert_eq!(r.status(), Status::SeeOther);
    let cookie = r.headers().get("Set-Cookie").collect::<Vec<_>>().join("\n");
    assert!(cookie.len() < 400, "{} bytes: {cookie}", cookie.len());
    let (s, _) = fetch(&c, "/jid").await;
    assert_eq!(s, Status::Ok);
    assert_eq!(enter_jid(&c, "long@example.org").await.0, Status::SeeOther);
}

#[rocket::async_test]
async fn a_bookmarked_launch_address_says_where_to_go() {
    let (c, _env) = client(PUBLIC).await;
    let (s, html) = fetch(&c, "/launch").await;
    assert_eq!(s, Status::BadRequest);
    assert!(
        html.contains("open the exercise from your course"),
        "{html}"
    );
    assert!(!html.contains("There is no such page"), "{html}");
}

#[rocket::async_test]
async fn pages_say_their_language() {
    for (locale, lang) in [("nl-NL", "nl-NL"), ("de", "de-DE"), ("en-GB", "en-GB")] {
        let (c, _env) = client(PUBLIC).await;
        let mut p = learner("u1");
        p.insert("launch_presentation_locale".into(), locale.into());
        launch(&c, &p).await;
        let (_, html) = fetch(&c, "/jid").await;
        assert!(
            html.contains(&format!("<html lang=\"{lang}\">")),
            "{locale}: {html}"
        );
    }
}

#[rocket::async_test]
async fn the_instructor_sees_stages_in_words() {
    let (c, env) = client(PUBLIC).await;
    launch(&c, &learner("u1")).await;
    enter_jid(&c, "verified@example.org").await;
    give_code(&env.store, "verified@example.org", "K7QM-3XPA", 5);
    let mut p = with_roles("t", "Instructor");
    p.insert("launch_presentation_locale".into(), "nl-NL".into());
    launch(&c, &p).await;
    let (_, html) = fetch(&c, "/instructor").await;
    assert!(html.contains("verified@example.org"), "{html}");
    assert!(!html.contains(">verified<"), "an internal name: {html}");
    assert!(html.contains("Geverifieerd"), "{html}");
    assert!(
        html.contains("completiecode") || html.contains("voltooiingscode"),
        "{html}"
    );
}

/// The class at a glance, from a store set up as a class would leave it: the funnel's figures,
/// where most are now, each learner's mistakes, and the same table as CSV; learners of another
/// activity are not counted.
#[rocket::async_test]
async fn the_instructor_sees_how_far_the_class_got_and_can_take_it_away_as_csv() {
    use otrbot::lesson::{Finished, Progress, Stage};
    let (c, env) = client(PUBLIC).await;
    let p = |reminders, smp_failures, interrupted| Progress {
        reminders,
        smp_failures,
        interrupted,
        ..Progress::default()
    };
    let done = || Finished {
        code: "K7QM-3XPA".into(),
        attempts_left: 3,
        encrypted: true,
        warned: false,
    };
    let class = [
        ("waiting", None),
        ("plain1", Some(Stage::Plaintext(p(2, 0, false)))),
        ("plain2", Some(Stage::Plaintext(p(0, 0, false)))),
        ("encrypted", Some(Stage::Encrypted(p(0, 1, true)))),
        ("verified", Some(Stage::Verified(done()))),
        ("completed", Some(Stage::Completed(done()))),
    ];
    // Names as LMSes send them: the full name (Moodle, Canvas), only given and family names
    // (some Brightspace setups), markup and formulas a learner typed into their profile, none
    // (Open edX), and a name changed in the LMS since the first launch.
    let names = [
        ("waiting", vec![("lis_person_name_full", "Wai Ting")]),
        (
            "plain1",
            vec![("lis_person_name_full", "Ada <b>Lovelace</b>")],
        ),
        (
            "plain2",
            vec![
                ("lis_person_name_given", "Grace"),
                ("lis_person_name_family", "Hopper"),
            ],
        ),
        (
            "encrypted",
            vec![("lis_person_name_full", "=HYPERLINK(\"x\")")],
        ),
        ("verified", vec![]),
        ("completed", vec![("lis_person_name_full", "Old Name")]),
    ];
    for (user, stage) in &class {
        let mut params = learner(user);
        for (user2, fields) in &names {
            if user2 == user {
                params.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            }
        }
        launch(&c, &params).await;
        let jid = format!("{user}@example.org");
        assert_eq!(enter_jid(&c, &jid).await.0, Status::SeeOther);
        // The way there, seconds after the session began; then the stage it is at now.
        let way: &[u64] = match *user {
            "plain1" => &[60],
            "plain2" => &[120],
            "encrypted" => &[30, 90],
            "verified" => &[40, 100, 400],
            "completed" => &[50, 300, 500, 560],
            _ => &[],
        };
        let start = env.store.session(&jid).unwrap().unwrap().session.created_at;
        let steps = [
            Stage::Plaintext(p(0, 0, false)),
            Stage::Encrypted(p(0, 0, false)),
            Stage::Verified(done()),
            Stage::Completed(done()),
        ];
        for (s, after) in steps.iter().zip(way) {
            set_stage_at(&env.store, &jid, s, start + after);
        }
        if let Some(s) = stage {
            set_stage_at(
                &env.store,
                &jid,
                s,
                start + way.last().copied().unwrap_or(0),
            );
        }
    }
    let mut renamed = learner("completed");
    renamed.insert("lis_person_name_full".into(), "New Name".into());
    launch(&c, &renamed).await;
    let mut elsewhere = learner("other");
    elsewhere.insert("resource_link_id".into(), "link-2".into());
    launch(&c, &elsewhere).await;
    enter_jid(&c, "other@example.org").await;

    launch(&c, &with_roles("t", "Instructor")).await;
    let (s, html) = fetch(&c, "/instructor").await;
    assert_eq!(s, Status::Ok);
    let cells = |class: &str| -> Vec<String> {
        html.split(&format!("<td class=\"{class}\">"))
            .skip(1)
            .map(|c| c[..c.find("</td>").unwrap()].to_owned())
            .collect()
    };
    assert_eq!(cells("reached"), ["6", "5", "3", "2", "1"], "{html}");
    assert_eq!(cells("now"), ["1", "2", "1", "1", "1"], "{html}");
    // Started → wrote: 60, 120, 30, 40, 50 s; wrote → encrypted: 60, 60, 250 s; encrypted →
    // verified: 300, 200 s; verified → completed: 60 s.
    let medians: Vec<String> = cells("median")
        .iter()
        .map(|c| {
            c.split('>')
                .nth(1)
                .map_or(c.clone(), |t| t.trim_end_matches("</time").to_owned())
        })
        .collect();
    assert_eq!(medians, ["0:50", "1:00", "4:10", "1:00", "–"], "{html}");
    assert!(
        html.contains("<time datetime=\"PT250S\">4:10</time>"),
        "{html}"
    );
    assert!(
        cells("spent").contains(&"<time datetime=\"PT560S\">9:20</time>".to_owned()),
        "the completed learner's time, to completion: {html}"
    );
    assert!(
        html.contains("now at this step: <strong>Wrote to the bot</strong>"),
        "{html}"
    );
    assert!(
        !html.contains("other@example.org"),
        "another activity's learner"
    );
    assert!(html.contains("<svg role=\"img\""), "the funnel picture");
    let mut shown = cells("name");
    shown.sort();
    assert_eq!(
        shown,
        [
            "",
            "=HYPERLINK(&quot;x&quot;)",
            "Ada &lt;b&gt;Lovelace&lt;&#x2F;b&gt;",
            "Grace Hopper",
            "New Name",
            "Wai Ting"
        ],
        "names, escaped, the last launch's winning"
    );
    let mistakes = cells("mistakes");
    assert!(
        mistakes.contains(&"wrote unencrypted after being asked 2 times".to_owned()),
        "{mistakes:?}"
    );
    assert!(
        mistakes.contains(
            &"1 verification with a different secret<br>ended OTR during the exercise".to_owned()
        ),
        "{mistakes:?}"
    );

    let r = c.get("/instructor.csv").dispatch().await;
    assert_eq!(r.status(), Status::Ok);
    assert_eq!(
        r.content_type().map(|t| t.to_string()).as_deref(),
        Some("text/csv; charset=utf-8")
    );
    let disposition = r
        .headers()
        .get_one("Content-Disposition")
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    let csv = r.into_string().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 7, "a header and six learners: {csv}");
    assert!(
        lines[0].starts_with("Name,Jabber ID,Step,Stage,Last activity (UTC),Time spent (seconds),"),
        "{csv}"
    );
    assert!(
        lines.iter().any(
            |l| l.starts_with("New Name,completed@example.org,Completed,")
                && l.contains(",560,no,yes,")
        ),
        "{csv}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Grace Hopper,plain2@example.org,Wrote to the bot,")),
        "{csv}"
    );
    assert!(
        lines.iter().any(|l| l
            .starts_with("\"'=HYPERLINK(\"\"x\"\")\",encrypted@example.org,Encrypted,")
            && l.ends_with(
                ",1 verification with a different secret; ended OTR during the exercise"
            )),
        "a name is never run as a formula: {csv}"
    );

    // A learner gets neither.
    launch(&c, &learner("plain1")).await;
    assert_eq!(
        c.get("/instructor.csv").dispatch().await.status(),
        Status::Forbidden
    );
}

/// A teacher resets one learner, after a confirmation: the session ends and a new one starts
/// (stage, code, secret and OTR key new; the roster entry kept); a learner of another activity
/// cannot be reset from this one, a forged form does nothing, and a learner cannot reset.
#[rocket::async_test]
async fn a_teacher_resets_one_learner_after_confirming() {
    let (c, env) = client(PUBLIC).await;
    let mut ada = learner("ada");
    ada.insert("lis_person_name_full".into(), "Ada Lovelace".into());
    launch(&c, &ada).await;
    let jid = "ada+x@example.org";
    assert_eq!(enter_jid(&c, jid).await.0, Status::SeeOther);
    give_code(&env.store, jid, "K7QM-3XPA", 3);
    let before = env.store.session(jid).unwrap().unwrap().session;
    let key_before = env.store.otr_key(jid).unwrap().unwrap();
    assert!(!env.store.stage_times(jid).unwrap().is_empty());

    let mut other = learner("bob");
    other.insert("resource_link_id".into(), "link-2".into());
    launch(&c, &other).await;
    enter_jid(&c, "bob@example.org").await;

    // A learner may neither see the confirmation nor reset.
    launch(&c, &ada).await;
    let (s, _) = fetch(&c, "/instructor/reset?jid=ada%2Bx%40example.org").await;
    assert_eq!(s, Status::Forbidden);
    let token = csrf_of(&get(&c, "/jid").await);
    let (s, _) = post(
        &c,
        "/instructor/reset",
        format!("csrf={token}&jid=ada%2Bx%40example.org"),
    )
    .await;
    assert_eq!(s, Status::Forbidden);

    launch(&c, &with_roles("t", "Instructor")).await;
    let (_, list) = fetch(&c, "/instructor").await;
    assert!(
        list.contains("href=\"/instructor/reset?jid=ada%2Bx@example.org\""),
        "{list}"
    );
    let (s, page) = fetch(&c, "/instructor/reset?jid=ada%2Bx%40example.org").await;
    assert_eq!(s, Status::Ok);
    assert!(
        page.contains("<strong>Ada Lovelace</strong> (ada+x@example.org)"),
        "{page}"
    );
    let token = csrf_of(&page);

    // A forged form (no token of this visit) changes nothing.
    let (s, _) = post(
        &c,
        "/instructor/reset",
        "csrf=00&jid=ada%2Bx%40example.org".into(),
    )
    .await;
    assert_ne!(s, Status::SeeOther);
    assert_eq!(env.store.session(jid).unwrap().unwrap().session, before);

    // Another activity's learner is not this teacher's to reset.
    let (s, _) = fetch(&c, "/instructor/reset?jid=bob%40example.org").await;
    assert_eq!(s, Status::NotFound);
    let bob = env
        .store
        .session("bob@example.org")
        .unwrap()
        .unwrap()
        .session;
    let (s, _) = post(
        &c,
        "/instructor/reset",
        format!("csrf={token}&jid=bob%40example.org"),
    )
    .await;
    assert_eq!(s, Status::NotFound);
    assert_eq!(
        env.store
            .session("bob@example.org")
            .unwrap()
            .unwrap()
            .session,
        bob
    );

    let r = c
        .post("/instructor/reset")
        .header(rocket::http::ContentType::Form)
        .body(format!("csrf={token}&jid=ada%2Bx%40example.org"))
        .dispatch()
        .await;
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        r.headers().get_one("Location"),
        Some("/instructor?reset=ada%2Bx@example.org")
    );
    let after = env.store.session(jid).unwrap().unwrap().session;
    assert_eq!(after.lti, before.lti, "the same learner");
    assert_eq!(after.locale, before.locale);
    assert_ne!(after.lesson_state, before.lesson_state, "the code is gone");
    assert_eq!(after.stage, "started");
    assert!(after.shared_secret.is_none());
    assert_ne!(
        env.store.otr_key(jid).unwrap().unwrap(),
        key_before,
        "a new OTR key"
    );
    assert!(env.store.stage_times(jid).unwrap().is_empty());
    assert!(
        env.store.whitelist_get(jid).unwrap().is_some(),
        "still listed"
    );
    let (_, list) = fetch(&c, "/instructor?reset=ada%2Bx%40example.org").await;
    assert!(
        list.contains("ada+x@example.org starts again: a new session and a new completion code."),
        "{list}"
    );
    assert!(
        list.contains("<td class=\"name\">Ada Lovelace</td>"),
        "{list}"
    );
}

/// The step a page marks as current (`aria-current="step"`), and the steps before it marked done.
fn progress_of(html: &str) -> (String, usize, usize) {
    let nav = &html[html.find("<nav aria-label=\"Your progress\"").expect(html)..];
    let nav = &nav[..nav.find("</nav>").unwrap()];
    let current = nav
        .split("aria-current=\"step\">")
        .nth(1)
        .map_or(String::new(), |c| {
            let name = &c[c.find("</span>").unwrap() + "</span>".len()..];
            name[..name.find("</li>").unwrap()].to_owned()
        });
    (
        current,
        nav.matches("<li class=\"done\"").count(),
        nav.matches("<li ").count(),
    )
}

/// Every learner page shows where the learner is: the OTR lesson's five steps, the OMEMO
/// lesson's four (no shared secret), the current one for screen readers too.
#[rocket::async_test]
async fn every_learner_page_shows_where_the_learner_is() {
    let (c, env) = client(PUBLIC).await;
    launch(&c, &learner("p1")).await;
    let step = |html: String| progress_of(&html);
    assert_eq!(step(get(&c, "/jid").await), ("Your Jabber ID".into(), 0, 5));
    enter_jid(&c, "p1@example.org").await;
    let added = get(&c, "/added").await;
    assert_eq!(step(added.clone()), ("Add the bot".into(), 1, 5));
    // Pick your client: each OTR client's steps, each with its picture.
    for client in ["Pidgin", "Psi+", "Profanity", "mcabber"] {
        assert!(
            added.contains(&format!("<summary>{client}</summary>")),
            "{added}"
        );
    }
    assert_eq!(
        added.matches("<svg xmlns").count(),
        12,
        "three pictures per client"
    );
    assert!(
        added.contains("aria-label=\"Buddies → Add Buddy…\""),
        "{added}"
    );
    assert!(!added.contains("<summary>Conversations</summary>"));
    assert_eq!(
        step(get(&c, "/secret").await),
        ("Shared secret".into(), 2, 5)
    );
    assert_eq!(
        step(get(&c, "/code").await),
        ("Encrypt and verify in the chat".into(), 3, 5)
    );
    give_code(&env.store, "p1@example.org", "K7QM-3XPA", 3);
    assert_eq!(
        step(get(&c, "/code").await),
        ("Completion code".into(), 4, 5)
    );

    let mut o = learner("p2");
    o.insert("custom_protocol".into(), "omemo".into());
    launch(&c, &o).await;
    let page = get(&c, "/jid").await;
    assert_eq!(step(page.clone()), ("Your Jabber ID".into(), 0, 4));
    assert!(page.contains("a chat client with OMEMO"), "{page}");
    assert!(!page.contains("a chat client with OTR"), "{page}");
    enter_jid(&c, "p2@example.org").await;
    let added = get(&c, "/added").await;
    assert_eq!(step(added.clone()), ("Add the bot".into(), 1, 4));
    for client in ["Conversations", "Gajim", "Dino", "Monal", "Profanity"] {
        assert!(
            added.contains(&format!("<summary>{client}</summary>")),
            "{added}"
        );
    }
    assert!(!added.contains("<summary>Pidgin</summary>"));
    assert_eq!(
        step(get(&c, "/code").await),
        ("Trust only the true device".into(), 2, 4)
    );
}

/// Where a GET of `path` sends the browser.
async fn launch_location(c: &Client, path: &str) -> String {
    let r = c.get(path.to_owned()).dispatch().await;
    assert_eq!(r.status(), Status::SeeOther, "{path}");
    r.headers().get_one("Location").unwrap_or("").to_owned()
}

/// A page opened out of order sends the learner to the step they are on (`/` knows which),
/// and an error page says what to do next and links there and back to the course.
#[rocket::async_test]
async fn pages_opened_out_of_order_send_the_learner_to_their_step() {
    let (c, env) = client(PUBLIC).await;
    launch(&c, &learner("o1")).await;
    assert_eq!(launch_location(&c, "/").await, "/jid");
    for early in ["/added", "/secret", "/code", "/done"] {
        assert_eq!(
            launch_location(&c, early).await,
            "/",
            "{early} before a JID"
        );
    }
    enter_jid(&c, "o1@example.org").await;
    assert_eq!(launch_location(&c, "/").await, "/added");
    assert_eq!(launch_location(&c, "/done").await, "/", "not done yet");
    set_stage(
        &env.store,
        "o1@example.org",
        &otrbot::lesson::Stage::Plaintext(Default::default()),
    );
    assert_eq!(
        launch_location(&c, "/").await,
        "/secret",
        "wrote, no secret yet"
    );
    let token = csrf_of(&get(&c, "/secret").await);
    let (s, _) = post(
        &c,
        "/secret",
        format!("csrf={token}&secret=purple+otters+sing+at+noon"),
    )
    .await;
    assert_eq!(s, Status::SeeOther);
    assert_eq!(launch_location(&c, "/").await, "/code");

    // The session ended (expired, or the bot's operator ended it): the error page leads on.
    env.store.remove_session("o1@example.org").unwrap();
    let (s, html) = fetch(&c, "/code").await;
    assert_eq!(s, Status::NotFound);
    assert!(
        html.contains("<a id=\"way-on\" href=\"/\">Go to the step you are on</a>"),
        "{html}"
    );
    assert!(
        html.contains("<a id=\"back-to-course\" href=\"https:&#x2F;&#x2F;lms.example.org&#x2F;course&#x2F;1\""),
        "{html}"
    );
    assert_eq!(
        launch_location(&c, "/").await,
        "/jid",
        "a new JID, a new session"
    );

    let mut o = learner("o2");
    o.insert("custom_protocol".into(), "omemo".into());
    launch(&c, &o).await;
    enter_jid(&c, "o2@example.org").await;
    assert_eq!(launch_location(&c, "/").await, "/added");
    set_stage(
        &env.store,
        "o2@example.org",
        &otrbot::lesson::Stage::Omemo(otrbot::lesson::OmemoStage::Plaintext(Default::default())),
    );
    assert_eq!(
        launch_location(&c, "/").await,
        "/code",
        "no secret in OMEMO"
    );

    launch(&c, &with_roles("t", "Instructor")).await;
    assert_eq!(launch_location(&c, "/").await, "/instructor");

    // Without any visit: no way on but the course.
    let fresh = Client::tracked(otrbot::lti::rocket(app(PUBLIC, fake_keys()).0, figment()))
        .await
        .unwrap();
    let (s, html) = fetch(&fresh, "/code").await;
    assert_eq!(s, Status::Forbidden);
    assert!(!html.contains("way-on"), "{html}");
}

#[rocket::async_test]
async fn only_the_named_lms_may_frame_the_pages() {
    let (mut app, _env) = app(PUBLIC, fake_keys());
    app.lti.frame_ancestors = vec!["https://canvas.example.edu".into()];
    let c = Client::tracked(otrbot::lti::rocket(app, figment()))
        .await
        .unwrap();
    let r = c.get("/is_up").dispatch().await;
    let csp = r
        .headers()
        .get_one("Content-Security-Policy")
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors https://canvas.example.edu"),
        "{csp}"
    );
    assert!(
        !csp.contains('*') || !csp.contains("frame-ancestors *"),
        "{csp}"
    );
}
