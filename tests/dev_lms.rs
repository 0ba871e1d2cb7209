//! The pretend LMS of `scripts/try` (scripts/lib/dev_lms.py) and otrbot close the loop: the
//! LMS's learner launch (signed by oauthlib, names and outcome service as Moodle and Canvas
//! send them) is taken by otrbot's pages, the learner's completion code queues a grade, otrbot's
//! own outcome client signs and sends it, the LMS verifies it with oauthlib's server side and
//! shows it on /gradebook. Grades signed with another secret, for a sourcedid the LMS never gave
//! out, with a score outside 0..1 or with a body other than the one hashed are refused, say
//! why, and change no score; readResult and deleteResult do what they say.

mod lti_common;

use lti_common::*;
use otrbot::lti::oauth;
use otrbot::lti::outcome::{self, Backoff};
use otrbot::store::{GradeRequest, Store};
use rocket::http::Status;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Where the LMS's launches go (otrbot's `lti.public_url`; the pages run in-process here).
const PUBLIC: &str = "http://127.0.0.1:8000";

/// scripts/lib/dev_lms.py on a free port, with the tests' consumer key and secret.
struct DevLms {
    child: Child,
    port: u16,
}

impl Drop for DevLms {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dev_lms() -> DevLms {
    let mut child = Command::new(python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/lib/dev_lms.py"
        ))
        .args(["0", &format!("{PUBLIC}/launch"), KEY, SECRET])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with oauthlib (apt install python3-oauthlib)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("dev_lms.py prints its port");
    DevLms { child, port }
}

impl DevLms {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// GETs a page of the LMS (with otrbot's own HTTP client): status and body.
    async fn get(&self, path: &str) -> (u16, String) {
        outcome::request(
            hyper::Method::GET,
            &self.url(path),
            &[],
            String::new(),
            None,
            Duration::from_secs(10),
        )
        .await
        .unwrap()
    }

    /// The row of the gradebook for LMS user `user`.
    async fn row(&self, user: &str) -> String {
        let (status, book) = self.get("/gradebook").await;
        assert_eq!(status, 200, "{book}");
        row_of(&book, user)
    }

    /// POSTs `body` to the outcome service signed as otrbot signs a grade, with `secret`,
    /// the body hash being that of `hashed`: status and answer.
    async fn post_signed(&self, body: &str, hashed: &str, secret: &str) -> (u16, String) {
        static NONCE: AtomicU32 = AtomicU32::new(0);
        let url = self.url("/outcomes");
        let nonce = format!("dev-lms-{}", NONCE.fetch_add(1, Ordering::SeqCst));
        let auth =
            oauth::authorization_for_body(&url, KEY, secret, hashed.as_bytes(), now(), &nonce)
                .unwrap();
        let headers = [
            (hyper::header::CONTENT_TYPE, "application/xml".to_owned()),
            (hyper::header::AUTHORIZATION, auth),
        ];
        outcome::request(
            hyper::Method::POST,
            &url,
            &headers,
            body.to_owned(),
            None,
            Duration::from_secs(10),
        )
        .await
        .unwrap()
    }
}

/// The `<tr>` of the gradebook for LMS user `user`.
fn row_of(book: &str, user: &str) -> String {
    let start = book
        .find(&format!("<tr data-user=\"{user}\">"))
        .unwrap_or_else(|| panic!("no row for {user}: {book}"));
    let end = start + book[start..].find("</tr>").unwrap();
    book[start..end].to_owned()
}

/// The hidden fields of a launch page, HTML escaping undone.
fn hidden_fields(page: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    page.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once("\" value=\"").unwrap();
            (unescape(name), unescape(&rest[..rest.find('"').unwrap()]))
        })
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The form body a browser posts for these fields.
fn form(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", oauth::encode(k), oauth::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn consumers(secret: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(KEY.to_owned(), secret.to_owned())])
}

fn quick() -> Backoff {
    Backoff {
        base: Duration::from_secs(60),
        max: Duration::from_secs(60),
        poll: Duration::from_millis(200),
        timeout: Duration::from_secs(10),
    }
}

fn grade(url: &str, sourcedid: &str, score: f64) -> GradeRequest {
    GradeRequest {
        url: url.into(),
        sourcedid: sourcedid.into(),
        score,
        consumer_key: KEY.into(),
        attempts: 0,
        next_try: 0,
        last_error: None,
    }
}

/// A readResult or deleteResult request for `sourcedid`.
fn pox(operation: &str, sourcedid: &str) -> String {
    assert!(!sourcedid.contains(['&', '<', '>']), "{sourcedid}");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><imsx_POXEnvelopeRequest xmlns=\"{}\">\
         <imsx_POXHeader><imsx_POXRequestHeaderInfo><imsx_version>V1.0</imsx_version>\
         <imsx_messageIdentifier>{operation}-1</imsx_messageIdentifier>\
         </imsx_POXRequestHeaderInfo></imsx_POXHeader><imsx_POXBody><{operation}Request>\
         <resultRecord><sourcedGUID><sourcedId>{sourcedid}</sourcedId></sourcedGUID>\
         </resultRecord></{operation}Request></imsx_POXBody></imsx_POXEnvelopeRequest>",
        outcome::pox::NS
    )
}

#[rocket::async_test]
async fn a_launch_from_the_dev_lms_ends_as_a_grade_on_its_gradebook() {
    let lms = dev_lms();
    let (status, page) = lms.get("/").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<a href=\"/gradebook\">"), "{page}");
    let fields = hidden_fields(&page);
    let outcomes = lms.url("/outcomes");
    assert_eq!(
        field(&fields, "lis_outcome_service_url"),
        Some(outcomes.as_str())
    );
    assert_eq!(field(&fields, "lis_person_name_full"), Some("Ada Lovelace"));
    for name in [
        "lis_result_sourcedid",
        "lis_person_name_given",
        "lis_person_name_family",
        "lis_person_contact_email_primary",
        "context_label",
        "tool_consumer_info_product_family_code",
    ] {
        assert!(
            field(&fields, name).is_some_and(|v| !v.is_empty()),
            "{name}: {fields:?}"
        );
    }
    let sourcedid = field(&fields, "lis_result_sourcedid").unwrap().to_owned();

    // otrbot's pages take the launch (its own OAuth check), the learner gives a JID and, once
    // the chat has given the code, enters it: the lesson queues the grade.
    let (c, env) = client(PUBLIC).await;
    let r = post_launch(&c, "/launch", form(&fields)).await;
    assert_eq!(r.status(), Status::SeeOther);
    assert_eq!(r.headers().get_one("Location"), Some("/jid"));
    let token = csrf_of(&get(&c, "/jid").await);
    let (s, html) = post(&c, "/jid", format!("csrf={token}&jid=learner%40localhost")).await;
    assert_eq!(s, Status::SeeOther, "{html}");
    give_code(&env.store, "learner@localhost", "K7QM-3XPA", 5);
    let (s, html) = post(&c, "/code", format!("csrf={token}&code=K7QM-3XPA")).await;
    assert_eq!(s, Status::SeeOther, "{html}");
    let grades = env.store.grades().unwrap();
    assert_eq!(grades.len(), 1);
    assert_eq!(
        (grades[0].1.url.as_str(), grades[0].1.sourcedid.as_str()),
        (outcomes.as_str(), sourcedid.as_str())
    );
    assert!(lms.row("learner-1").await.contains("no grade yet"));

    // otrbot's outcome client sends it; the LMS accepts it and shows it.
    let sent = outcome::send_due(&env.store, &consumers(SECRET), None, quick(), now()).await;
    assert_eq!(sent, 1, "{:?}", env.store.grades().unwrap());
    assert!(env.store.grades().unwrap().is_empty());
    let (_, book) = lms.get("/gradebook").await;
    assert!(
        book.contains("<meta http-equiv=\"refresh\" content=\"5\">"),
        "{book}"
    );
    assert!(!book.contains("<script"), "{book}");
    let row = row_of(&book, "learner-1");
    for want in ["Ada Lovelace", ">1 (100%)<", ">1 accepted, 0 refused<"] {
        assert!(row.contains(want), "{want}: {row}");
    }
    assert!(row_of(&book, "learner-2").contains("no grade yet"));

    // The instructor's launch is taken too, and the name the LMS gave reaches the class list.
    let (_, page) = lms.get("/instructor").await;
    let fields = hidden_fields(&page);
    assert_eq!(field(&fields, "roles"), Some("Instructor"));
    assert!(field(&fields, "lis_person_name_full").is_some());
    let r = post_launch(&c, "/launch", form(&fields)).await;
    assert_eq!(r.headers().get_one("Location"), Some("/instructor"));
    let (s, html) = fetch(&c, "/instructor").await;
    assert_eq!(s, Status::Ok);
    assert!(html.contains("Ada Lovelace"), "{html}");
}

#[rocket::async_test]
async fn refused_grades_say_why_and_change_no_score() {
    let lms = dev_lms();
    let sourcedid = field(
        &hidden_fields(&lms.get("/?learner=2").await.1),
        "lis_result_sourcedid",
    )
    .unwrap()
    .to_owned();
    let url = lms.url("/outcomes");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();

    // Signed by otrbot with a secret the LMS does not hold: refused (401), not shown.
    let id = store.grade_enqueue(&grade(&url, &sourcedid, 0.5)).unwrap();
    let wrong = consumers("not the LMS's secret");
    assert_eq!(
        outcome::send_due(&store, &wrong, None, quick(), now()).await,
        0
    );
    let (gid, g) = store.grades().unwrap().remove(0);
    assert_eq!(gid, id);
    assert!(g.last_error.as_deref().unwrap().contains("401"), "{g:?}");
    let (_, book) = lms.get("/gradebook").await;
    let row = row_of(&book, "learner-2");
    for want in ["Seán O&#x27;Brien", "no grade yet", "0 accepted, 1 refused"] {
        assert!(row.contains(want), "{want}: {row}");
    }
    assert!(!row.contains("0.5"), "{row}");
    assert!(book.contains("refused</strong>: bad signature"), "{book}");

    // The same grade, due again, with the right secret: the secret was all that was wrong.
    assert_eq!(
        outcome::send_due(&store, &consumers(SECRET), None, quick(), now() + 3600).await,
        1
    );
    let row = lms.row("learner-2").await;
    for want in [">0.5 (50%)<", ">1 accepted, 1 refused<"] {
        assert!(row.contains(want), "{want}: {row}");
    }

    // A sourcedid the LMS never gave out: authenticated, but refused (imsx failure).
    let stranger = r#"{"data":{"userid":"nobody"},"hash":"0"}"#;
    let id = store.grade_enqueue(&grade(&url, stranger, 1.0)).unwrap();
    assert_eq!(
        outcome::send_due(&store, &consumers(SECRET), None, quick(), now()).await,
        0
    );
    let (_, g) = store.grades().unwrap().remove(0);
    assert!(
        g.last_error.as_deref().unwrap().contains("\"failure\""),
        "{g:?}"
    );
    store.grade_done(id).unwrap();
    let (_, book) = lms.get("/gradebook").await;
    assert!(
        book.contains("refused</strong>: unknown sourcedid"),
        "{book}"
    );
    // What the request claimed is shown escaped.
    assert!(book.contains("&quot;nobody&quot;"), "{book}");
    assert!(!book.contains(stranger), "{book}");
    assert!(
        book.contains("named no learner of this course: 1."),
        "{book}"
    );

    // Signed as otrbot signs, by hand: a score outside 0.0..1.0 ...
    let half = outcome::replace_result_xml("m-1", &sourcedid, 0.25).unwrap();
    let over = half.replace(">0.25<", ">1.5<");
    assert_ne!(over, half);
    let (status, answer) = lms.post_signed(&over, &over, SECRET).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(outcome::code_major(&answer).as_deref(), Some("failure"));
    assert!(answer.contains("outside 0.0..1.0"), "{answer}");
    // ... and a body other than the one whose hash was signed.
    let other = half.replace(">0.25<", ">0.75<");
    let (status, answer) = lms.post_signed(&other, &half, SECRET).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(outcome::code_major(&answer).as_deref(), Some("failure"));
    assert!(answer.contains("oauth_body_hash"), "{answer}");
    // The control: that body, signed with its own hash, is accepted.
    let (status, answer) = lms.post_signed(&half, &half, SECRET).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(outcome::code_major(&answer).as_deref(), Some("success"));
    let row = lms.row("learner-2").await;
    for want in [">0.25 (25%)<", ">2 accepted, 3 refused<"] {
        assert!(row.contains(want), "{want}: {row}");
    }

    // readResult gives the score back; deleteResult removes it.
    let read = pox("readResult", &sourcedid);
    let (status, answer) = lms.post_signed(&read, &read, SECRET).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(outcome::code_major(&answer).as_deref(), Some("success"));
    assert!(answer.contains("<textString>0.25</textString>"), "{answer}");
    let delete = pox("deleteResult", &sourcedid);
    let (_, answer) = lms.post_signed(&delete, &delete, SECRET).await;
    assert_eq!(outcome::code_major(&answer).as_deref(), Some("success"));
    let row = lms.row("learner-2").await;
    for want in ["no grade yet", ">4 accepted, 3 refused<"] {
        assert!(row.contains(want), "{want}: {row}");
    }
    // The other learners saw none of it.
    assert!(lms
        .row("learner-1")
        .await
        .contains(">0 accepted, 0 refused<"));
}
