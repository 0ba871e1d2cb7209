//! LTI launches signed by Python's oauthlib against the Rocket app (local client): good,
//! bad signature, replay, stale timestamp, missing parameters, the proxy case, roles, and the
//! pages' CSRF checks and escaping.

mod lti_common;

use lti_common::*;
use rocket::http::{ContentType, Status};

const PUBLIC: &str = "http://127.0.0.1:8000";

fn location(r: &rocket::local::asynchronous::LocalResponse<'_>) -> String {
    r.headers().get_one("Location").unwrap_or("").to_owned()
}

#[rocket::async_test]
async fn good_launch_sets_an_iframe_cookie_and_leads_to_the_jid_page() {
    let (c, _env) = client(PUBLIC).await;
    let body = signed(&format!("{PUBLIC}/launch"), &learner("u1"));
    let r = post_launch(&c, "/launch", body).await;
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(location(&r), "/jid");
    let set_cookie = r.headers().get("Set-Cookie").collect::<Vec<_>>().join("\n");
    for attr in ["SameSite=None", "Secure", "HttpOnly", "Partitioned"] {
        assert!(set_cookie.contains(attr), "{attr} missing in {set_cookie}");
    }
    let page = c.get("/jid").dispatch().await;
    assert_eq!(page.status(), Status::Ok);
    // Embeddable in the LMS's iframe: no X-Frame-Options from Rocket's shield.
    assert_eq!(page.headers().get_one("X-Frame-Options"), None);
    let html = page.into_string().await.unwrap();
    assert!(html.contains("name=\"jid\""));
    // Tera escapes '/' as &#x2F; in attributes; browsers read it back as '/'.
    assert!(
        html.contains(
            "<link rel=\"stylesheet\" href=\"https:&#x2F;&#x2F;lms.example.org&#x2F;style.css\">"
        ),
        "CSS URL applied: {html}"
    );
}

#[rocket::async_test]
async fn bad_signature_is_refused() {
    let (c, _env) = client(PUBLIC).await;
    let mut body = signed(&format!("{PUBLIC}/launch"), &learner("u1"));
    // Tamper with a signed parameter after signing.
    body = body.replace("user_id=u1", "user_id=u2");
    let r = post_launch(&c, "/launch", body).await;
    assert_eq!(r.status(), Status::Forbidden);
    let html = r.into_string().await.unwrap();
    assert!(html.contains("could not be verified"), "{html}");
    // And a launch signed with another secret.
    let other = sign(&[ToSign {
        url: format!("{PUBLIC}/launch"),
        key: KEY.into(),
        secret: "not the secret".into(),
        params: learner("u1"),
        timestamp: None,
        nonce: None,
    }])
    .remove(0);
    assert_eq!(
        post_launch(&c, "/launch", other).await.status(),
        Status::Forbidden
    );
    // No page is reachable without a valid launch.
    for p in [
        "/",
        "/jid",
        "/added",
        "/secret",
        "/code",
        "/done",
        "/instructor",
    ] {
        assert_eq!(c.get(p).dispatch().await.status(), Status::Forbidden, "{p}");
    }
    assert_eq!(c.get("/is_up").dispatch().await.status(), Status::Ok);
}

#[rocket::async_test]
async fn replayed_nonce_is_refused() {
    let (c, env) = client(PUBLIC).await;
    let body = signed(&format!("{PUBLIC}/launch"), &learner("u1"));
    assert_eq!(
        post_launch(&c, "/launch", body.clone()).await.status(),
        Status::SeeOther
    );
    let r = post_launch(&c, "/launch", body).await;
    assert_eq!(r.status(), Status::Forbidden);
    assert!(r.into_string().await.unwrap().contains("already used"));
    assert_eq!(env.store.nonce_count(), 1);
}

#[rocket::async_test]
async fn stale_timestamp_is_refused() {
    let (c, _env) = client(PUBLIC).await;
    let mk = |ts: u64, nonce: &str| ToSign {
        url: format!("{PUBLIC}/launch"),
        key: KEY.into(),
        secret: SECRET.into(),
        params: learner("u1"),
        timestamp: Some(ts),
        nonce: Some(nonce.into()),
    };
    // The window is 300 s. Signing (python) and the posts take time, and a timestamp in the
    // future gets nearer the window with every second of it: 30 s of margin, not 1.
    let t = now();
    let bodies = sign(&[
        mk(t - 330, "old"),
        mk(t + 330, "future"),
        mk(t - 200, "fine"),
    ]);
    assert_eq!(
        post_launch(&c, "/launch", bodies[0].clone()).await.status(),
        Status::Forbidden
    );
    assert_eq!(
        post_launch(&c, "/launch", bodies[1].clone()).await.status(),
        Status::Forbidden
    );
    assert_eq!(
        post_launch(&c, "/launch", bodies[2].clone()).await.status(),
        Status::SeeOther
    );
}

#[rocket::async_test]
async fn missing_or_wrong_parameters_are_refused() {
    let (c, _env) = client(PUBLIC).await;
    let url = format!("{PUBLIC}/launch");
    let mut cases = Vec::new();
    for drop in ["lti_message_type", "lti_version", "resource_link_id"] {
        let mut p = learner("u1");
        p.remove(drop);
        cases.push(p);
    }
    let mut p = learner("u1");
    p.insert(
        "lti_message_type".into(),
        "ContentItemSelectionRequest".into(),
    );
    cases.push(p);
    let reqs: Vec<ToSign> = cases
        .into_iter()
        .map(|params| ToSign {
            url: url.clone(),
            key: KEY.into(),
            secret: SECRET.into(),
            params,
            timestamp: None,
            nonce: None,
        })
        .collect();
    for body in sign(&reqs) {
        let r = post_launch(&c, "/launch", body).await;
        assert_eq!(r.status(), Status::BadRequest);
        assert!(r
            .into_string()
            .await
            .unwrap()
            .contains("did not send what this exercise needs"));
    }
    // Unsigned, and an unknown consumer key.
    let r = post_launch(
        &c,
        "/launch",
        "lti_message_type=basic-lti-launch-request".into(),
    )
    .await;
    assert_eq!(r.status(), Status::BadRequest);
    let unknown = sign(&[ToSign {
        url,
        key: "nobody".into(),
        secret: SECRET.into(),
        params: learner("u1"),
        timestamp: None,
        nonce: None,
    }])
    .remove(0);
    assert_eq!(
        post_launch(&c, "/launch", unknown).await.status(),
        Status::Forbidden
    );
}

/// nginx terminates https at https://otr.example.org/otrbot/ and proxies to Rocket on http
/// with the prefix stripped: the signature is over the public URL, and it verifies.
#[rocket::async_test]
async fn proxy_case_uses_the_public_url() {
    let public = "https://OTR.example.org:443/otrbot";
    let (c, _env) = client(public).await;
    let body = signed("https://otr.example.org/otrbot/launch", &learner("u1"));
    let r = post_launch(&c, "/launch", body).await;
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(
        location(&r),
        "/otrbot/jid",
        "redirects stay under the public prefix"
    );
    // Signed for Rocket's own http address instead: refused.
    let (c2, _env2) = client(public).await;
    let body = signed("http://127.0.0.1:8000/launch", &learner("u1"));
    assert_eq!(
        post_launch(&c2, "/launch", body).await.status(),
        Status::Forbidden
    );
    // A launch URL with a query: its parameters are signed too.
    let (c3, _env3) = client(public).await;
    let body = signed(
        "https://otr.example.org/otrbot/launch?course=7",
        &learner("u1"),
    );
    let r = c3
        .post("/launch?course=7")
        .header(ContentType::Form)
        .body(body)
        .dispatch()
        .await;
    assert_eq!(r.status(), Status::SeeOther);
}

#[rocket::async_test]
async fn instructor_sees_the_learners_of_the_link() {
    let (c, env) = client(PUBLIC).await;
    // A learner enters a JID.
    let body = signed(&format!("{PUBLIC}/launch"), &learner("u1"));
    post_launch(&c, "/launch", body).await;
    let html = c.get("/jid").dispatch().await.into_string().await.unwrap();
    let r = c
        .post("/jid")
        .header(ContentType::Form)
        .body(format!("csrf={}&jid=learner%40example.org", csrf_of(&html)))
        .dispatch()
        .await;
    assert_eq!(r.status(), Status::SeeOther);
    assert!(env.store.session("learner@example.org").unwrap().is_some());
    // A teacher with a URN role launches the same link (a new launch replaces the cookie).
    let mut p = learner("teacher");
    p.insert("roles".into(), "urn:lti:role:ims/lis/Instructor".into());
    let body = signed(&format!("{PUBLIC}/launch"), &p);
    let r = post_launch(&c, "/launch", body).await;
    assert_eq!(location(&r), "/instructor");
    let html = c
        .get("/instructor")
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap();
    assert!(html.contains("learner@example.org"), "{html}");
    assert!(html.contains("Waiting"), "{html}");
    // A learner cannot open it.
    let body = signed(&format!("{PUBLIC}/launch"), &learner("u3"));
    post_launch(&c, "/launch", body).await;
    assert_eq!(
        c.get("/instructor").dispatch().await.status(),
        Status::Forbidden
    );
}
