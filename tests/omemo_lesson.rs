//! The OMEMO lesson through one `otrbot run`, with learners whose OMEMO is an independent
//! implementation (slixmpp-omemo + python-omemo, tests/omemo/clients/learner.py): a launch
//! signed by oauthlib that chooses the lesson (`custom_protocol=omemo`), the bot's true
//! fingerprint read off the course page, the learner trusting only that device to the code and
//! the grade; the impostor trusted; two devices of one learner; the bot killed mid-lesson.

mod lti_common;
mod support;

use std::time::{Duration, Instant};
use support::learner::{code_in, spawn_bot_with_pages, Bot};
use support::omemo_learner::Device;
use support::process::free_port;
use support::prosody;

/// A running bot with LTI pages on `port` that trusts the pretend LMS.
fn lti_bot(port: u16, bjid: &str, bpw: &str, dir: tempfile::TempDir) -> Bot {
    lti_bot_logging(port, bjid, bpw, dir, std::process::Stdio::inherit())
}

/// [`lti_bot`] with its log going to `log`.
fn lti_bot_logging(
    port: u16,
    bjid: &str,
    bpw: &str,
    dir: tempfile::TempDir,
    log: std::process::Stdio,
) -> Bot {
    let lms = (lti_common::KEY, lti_common::SECRET);
    spawn_bot_with_pages(port, bjid, bpw, lms, dir, log)
}

/// The learner's launch of the OMEMO activity, the JID entered: the browser on `/added`, and
/// the true device's id and fingerprint as that page shows them.
fn launch(port: u16, lms: u16, user: &str, ljid: &str) -> (lti_common::Browser, u32, String) {
    let mut params = lti_common::learner(user);
    params.insert("custom_protocol".into(), "omemo".into());
    params.insert(
        "lis_outcome_service_url".into(),
        format!("http://127.0.0.1:{lms}/outcomes"),
    );
    params.insert(
        "lis_result_sourcedid".into(),
        format!("course-1:omemo:{user}"),
    );
    let signed = lti_common::signed(&format!("http://127.0.0.1:{port}/launch"), &params);
    let mut b = lti_common::Browser::new(port);
    let p = b.request("POST", "/launch", Some(&signed));
    assert_eq!(p.status, 303, "{}{}", p.head, p.body);
    let p = b.submit("/jid", &format!("jid={}", ljid.replace('@', "%40")));
    assert_eq!(p.status, 303, "{}", p.body);
    let added = b.get("/added").body;
    let (id, fp) = page_fingerprint(&added);
    assert!(
        !added.contains("/secret"),
        "no shared secret in this lesson: {added}"
    );
    (b, id, fp)
}

/// The device id and the fingerprint (its eight groups joined) the page shows.
fn page_fingerprint(page: &str) -> (u32, String) {
    let after = |marker: &str| {
        let i = page
            .find(marker)
            .unwrap_or_else(|| panic!("{marker} on the page: {page}"));
        &page[i + marker.len()..]
    };
    let id = after("id=\"omemo-device\">");
    let id: u32 = id[..id.find('<').unwrap()].trim().parse().unwrap();
    let list = after("id=\"omemo-fingerprint\"");
    let list = &list[..list.find("</ol>").unwrap()];
    let fp: String = list
        .split("<li>")
        .skip(1)
        .map(|g| g[..g.find("</li>").unwrap()].trim())
        .collect();
    assert_eq!(fp.len(), 64, "{list}");
    (id, fp)
}

/// The bot's devices as the learner's client lists them: (true, impostor), checked against
/// the page.
fn bot_devices(
    d: &mut Device,
    bot: &str,
    page_id: u32,
    page_fp: &str,
) -> ((u32, String), (u32, String)) {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let devs = d.devices(bot);
        if devs.len() == 2 {
            let (t, i): (Vec<_>, Vec<_>) = devs.into_iter().partition(|(_, fp)| fp == page_fp);
            assert_eq!(t.len(), 1, "exactly one device has the page's fingerprint");
            assert_eq!(t[0].0, page_id, "and the page's device id");
            return (t[0].clone(), i[0].clone());
        }
        assert!(
            Instant::now() < until,
            "the bot lists two devices: {devs:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn grade_arrives(log: &std::path::Path) -> Vec<serde_json::Value> {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let got = lti_common::received(log);
        if !got.is_empty() || Instant::now() > until {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn trusting_only_the_true_device_completes_the_lesson_and_the_grade_arrives() {
    let logdir = tempfile::tempdir().unwrap();
    let lms = lti_common::lms(0, lti_common::SECRET, &logdir.path().join("lms.log"));
    let port = free_port();
    let (bjid, bpw) = prosody::fresh_account("omemoteacher");
    let (ljid, lpw) = prosody::fresh_account("omemolearner");
    let _bot = lti_bot(port, &bjid, &bpw, tempfile::tempdir().unwrap());
    let mut l = Device::start(&ljid, &lpw, "phone", "manual");
    let (mut b, page_id, page_fp) = launch(port, lms.port, "omemo-1", &ljid);

    // The bot befriends the learner and greets; plain text gets the OMEMO hints, in plain text.
    l.subscribe(&bjid);
    l.wait_for("Say hello");
    l.say_plain(&bjid, "hello");
    let hint = l.wait_for("/omemo start");
    assert_eq!(hint["encrypted"], false);

    // The learner's client trusts both of the bot's devices: encrypted, not verified.
    let ((true_id, true_fp), (impostor_id, impostor_fp)) =
        bot_devices(&mut l, &bjid, page_id, &page_fp);
    l.trust(&bjid, &true_fp, "trusted");
    l.trust(&bjid, &impostor_fp, "trusted");
    let rids = l.say_encrypted(&bjid, "is this private?");
    assert!(
        rids.contains(&true_id) && rids.contains(&impostor_id),
        "{rids:?}"
    );
    let reply = l.wait_for("not verified");
    assert_eq!(reply["encrypted"], true, "{reply}");
    assert_eq!(
        reply["sender_device"], true_id,
        "the true device answers: {reply}"
    );
    l.wait_for("distrust the other");

    // Typing the fingerprint into the chat proves nothing.
    l.say_encrypted(&bjid, &format!("your fingerprint is {}", &true_fp[..16]));
    l.wait_for("proves nothing");

    // The learner refuses the impostor: the next message is for the true device only.
    l.trust(&bjid, &impostor_fp, "distrusted");
    let rids = l.say_encrypted(&bjid, "now?");
    assert_eq!(rids, [true_id]);
    let done = l.wait_for("completed the exercise");
    assert_eq!(done["encrypted"], true);
    let code = code_in(done["text"].as_str().unwrap()).expect("a code");
    let later = l.drain_for(Duration::from_millis(500));
    assert!(
        later
            .iter()
            .all(|m| m["encrypted"] == true || code_in(m["text"].as_str().unwrap_or("")).is_none()),
        "the code never in plain text: {later:?}"
    );

    // The code on the page; the grade reaches the LMS.
    let p = b.submit("/code", &format!("code={code}"));
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(b.get("/done").body.contains("Well done"));
    let got = grade_arrives(&lms.log);
    assert_eq!(got.len(), 1, "one grade: {got:?}");
    assert_eq!(got[0]["ok"], true, "{got:?}");
    assert_eq!(got[0]["sourcedid"], "course-1:omemo:omemo-1");
}

#[test]
fn trusting_the_impostor_is_taught_and_earns_no_code() {
    let logdir = tempfile::tempdir().unwrap();
    let lms = lti_common::lms(0, lti_common::SECRET, &logdir.path().join("lms.log"));
    let port = free_port();
    let (bjid, bpw) = prosody::fresh_account("omemoteacher");
    let (ljid, lpw) = prosody::fresh_account("omemolearner");
    let _bot = lti_bot(port, &bjid, &bpw, tempfile::tempdir().unwrap());
    let mut l = Device::start(&ljid, &lpw, "laptop", "manual");
    let (_b, page_id, page_fp) = launch(port, lms.port, "omemo-2", &ljid);
    l.subscribe(&bjid);
    l.wait_for("Say hello");
    let ((true_id, _), (impostor_id, impostor_fp)) = bot_devices(&mut l, &bjid, page_id, &page_fp);

    // Only the impostor trusted: the bot cannot read it and says so (from its true device).
    l.trust(&bjid, &impostor_fp, "trusted");
    let rids = l.say_encrypted(&bjid, "hello impostor");
    assert_eq!(rids, [impostor_id]);
    let reply = l.wait_for("wrong fingerprint");
    assert_eq!(reply["sender_device"], true_id);

    let all = l.drain_for(Duration::from_secs(2));
    assert!(
        all.iter()
            .all(|m| code_in(m["text"].as_str().unwrap_or("")).is_none()),
        "no code for trusting the impostor: {all:?}"
    );
    assert!(lti_common::received(&lms.log).is_empty());
}

#[test]
fn a_learner_with_two_devices_is_answered_on_both() {
    let logdir = tempfile::tempdir().unwrap();
    let lms = lti_common::lms(0, lti_common::SECRET, &logdir.path().join("lms.log"));
    let port = free_port();
    let (bjid, bpw) = prosody::fresh_account("omemoteacher");
    let (ljid, lpw) = prosody::fresh_account("omemolearner");
    let _bot = lti_bot(port, &bjid, &bpw, tempfile::tempdir().unwrap());
    let mut phone = Device::start(&ljid, &lpw, "phone", "manual");
    let mut laptop = Device::start(&ljid, &lpw, "laptop", "manual");
    let (_b, page_id, page_fp) = launch(port, lms.port, "omemo-3", &ljid);
    phone.subscribe(&bjid);
    phone.wait_for("Say hello");
    let ((true_id, true_fp), _) = bot_devices(&mut phone, &bjid, page_id, &page_fp);
    for d in [&mut phone, &mut laptop] {
        d.trust(&bjid, &true_fp, "trusted");
    }

    // The phone writes for the true device only: the code, said to both devices, with the
    // teaching moment of several devices.
    let rids = phone.say_encrypted(&bjid, "hello from my phone");
    assert_eq!(rids, [true_id]);
    for d in [&mut phone, &mut laptop] {
        let several = d.wait_for("2 OMEMO devices");
        assert_eq!(several["encrypted"], true);
        let done = d.wait_for("completed the exercise");
        assert_eq!(done["sender_device"], true_id);
        assert!(code_in(done["text"].as_str().unwrap()).is_some());
    }
}

/// A client that befriends the way slixmpp does (its roster item pushed to the bot several
/// times as it settles, "both" in each) is greeted once, in the OTR lesson too (which has no
/// "greeted" mark of its own: the bot greets on the change to mutual only).
#[test]
fn the_greeting_comes_once_however_often_the_roster_item_is_pushed() {
    let logdir = tempfile::tempdir().unwrap();
    let lms = lti_common::lms(0, lti_common::SECRET, &logdir.path().join("lms.log"));
    let port = free_port();
    let (bjid, bpw) = prosody::fresh_account("otrteacher");
    let (ljid, lpw) = prosody::fresh_account("otrlearner");
    let _bot = lti_bot(port, &bjid, &bpw, tempfile::tempdir().unwrap());
    let mut l = Device::start(&ljid, &lpw, "phone", "manual");
    let mut params = lti_common::learner("greeted-1");
    params.insert("custom_protocol".into(), "otr".into());
    params.insert(
        "lis_outcome_service_url".into(),
        format!("http://127.0.0.1:{}/outcomes", lms.port),
    );
    let signed = lti_common::signed(&format!("http://127.0.0.1:{port}/launch"), &params);
    let mut b = lti_common::Browser::new(port);
    assert_eq!(b.request("POST", "/launch", Some(&signed)).status, 303);
    let p = b.submit("/jid", &format!("jid={}", ljid.replace('@', "%40")));
    assert_eq!(p.status, 303, "{}", p.body);
    l.subscribe(&bjid);
    l.wait_for("Say hello");
    let more = l.drain_for(Duration::from_secs(2));
    assert!(
        !more
            .iter()
            .any(|m| m["text"].as_str().is_some_and(|t| t.contains("Say hello"))),
        "greeted again: {more:?}"
    );
}

/// A learner adds a device mid-lesson: the learner's server pushes the new device list to the
/// bot (its presence announces `devicelist+notify` in its caps), and the bot's next reply is
/// encrypted for the new device too, without waiting for its cached list to go stale.
#[test]
fn a_device_added_mid_lesson_is_pushed_to_the_bot_and_answered() {
    let logdir = tempfile::tempdir().unwrap();
    let lms = lti_common::lms(0, lti_common::SECRET, &logdir.path().join("lms.log"));
    let port = free_port();
    let (bjid, bpw) = prosody::fresh_account("omemoteacher");
    let (ljid, lpw) = prosody::fresh_account("omemolearner");
    let bot_log = logdir.path().join("bot.log");
    let log = std::fs::File::create(&bot_log).unwrap();
    let _bot = lti_bot_logging(port, &bjid, &bpw, tempfile::tempdir().unwrap(), log.into());
    let mut phone = Device::start(&ljid, &lpw, "phone", "manual");
    let (_b, page_id, page_fp) = launch(port, lms.port, "omemo-5", &ljid);
    phone.subscribe(&bjid);
    phone.wait_for("Say hello");
    let ((_, true_fp), (_, impostor_fp)) = bot_devices(&mut phone, &bjid, page_id, &page_fp);
    phone.trust(&bjid, &true_fp, "trusted");
    phone.trust(&bjid, &impostor_fp, "trusted");
    phone.say_encrypted(&bjid, "hello from my phone");
    phone.wait_for("not verified");

    // The laptop comes: its client publishes the account's device list with both devices.
    let mut laptop = Device::start(&ljid, &lpw, "laptop", "manual");
    let until = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&bot_log)
        .unwrap_or_default()
        .lines()
        .any(|l| {
            l.contains("OMEMO device list taken") && l.contains(&ljid) && l.contains("devices=2")
        })
    {
        assert!(
            Instant::now() < until,
            "the learner's server pushes the two-device list"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    laptop.trust(&bjid, &true_fp, "trusted");
    phone.say_encrypted(&bjid, "and now?");
    let several = laptop.wait_for("2 OMEMO devices");
    assert_eq!(several["encrypted"], true, "{several}");
    phone.wait_for("2 OMEMO devices");
}

/// Two learners' clients fetched the bot's bundle at the same moment and picked the same
/// one-time prekey (a class starting at once makes this happen; the load bench saw 3 in 150).
/// The first wins; the bot refuses the prekey the second time (never used twice), starts a new
/// session with the second learner's device from its bundle, and asks in it for the message
/// again; the second learner writes again and completes. The race is forced with in-process
/// learners (an outside client cannot be made to pick a given prekey).
#[test]
fn two_clients_picking_the_same_prekey_the_second_is_asked_again_in_a_new_session() {
    use omemo::OsRandom;
    use support::omemo_inproc as learner;
    let logdir = tempfile::tempdir().unwrap();
    let lms = lti_common::lms(0, lti_common::SECRET, &logdir.path().join("lms.log"));
    let port = free_port();
    let (bjid, bpw) = prosody::fresh_account("omemoteacher");
    let (ajid, apw) = prosody::fresh_account("omemofirst");
    let (cjid, cpw) = prosody::fresh_account("omemosecond");
    let _bot = lti_bot(port, &bjid, &bpw, tempfile::tempdir().unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t = Duration::from_secs(30);
    let (mut a, _) = rt.block_on(prosody::chat_client(&ajid, &apw, t));
    let (mut c, _) = rt.block_on(prosody::chat_client(&cjid, &cpw, t));
    let (_ab, true_id, _) = launch(port, lms.port, "omemo-race-1", &ajid);
    let (_cb, _, _) = launch(port, lms.port, "omemo-race-2", &cjid);
    let bot: tokio_xmpp::jid::BareJid = bjid.parse().unwrap();
    fn within<T>(rt: &tokio::runtime::Runtime, f: impl std::future::Future<Output = T>) -> T {
        let t = Duration::from_secs(30);
        rt.block_on(async { tokio::time::timeout(t, f).await.expect("in time") })
    }

    let (mut a_dev, mut c_dev, bundle) = within(&rt, async {
        learner::befriend(&mut a).await?;
        learner::befriend(&mut c).await?;
        let a_dev = learner::new_device(&mut a).await?;
        let c_dev = learner::new_device(&mut c).await?;
        let mut bundle = learner::fetch_bundle(&mut a, &bot, true_id).await?;
        // Both clients pick the same one-time prekey of the bundle they fetched.
        bundle.pre_keys.truncate(1);
        Ok::<_, String>((a_dev, c_dev, bundle))
    })
    .unwrap();
    let mut a_session = a_dev.start_session(&bundle, &mut OsRandom).unwrap();
    let mut c_session = c_dev.start_session(&bundle, &mut OsRandom).unwrap();

    // The first learner's key exchange uses the prekey: the code.
    let (text, _) = within(&rt, async {
        learner::write(&mut a, &bot, &a_dev, (true_id, &mut a_session), "hello").await?;
        learner::read(&mut a, &mut a_dev, &mut a_session).await
    })
    .unwrap();
    assert!(text.contains("completed the exercise"), "{text}");

    // The second one's is refused (the prekey is gone): asked again, in a new session that
    // the bot started with the learner's device (a key exchange of its own).
    let (text, new_session) = within(&rt, async {
        learner::write(&mut c, &bot, &c_dev, (true_id, &mut c_session), "hello").await?;
        learner::read(&mut c, &mut c_dev, &mut c_session).await
    })
    .unwrap();
    assert!(
        text.contains("could not decrypt your last message"),
        "{text}"
    );
    assert!(new_session, "the bot's reply starts a new session");
    assert!(code_in(&text).is_none());

    // Written again in that session: read, and the code.
    let (text, new_session) = within(&rt, async {
        learner::write(
            &mut c,
            &bot,
            &c_dev,
            (true_id, &mut c_session),
            "hello again",
        )
        .await?;
        learner::read(&mut c, &mut c_dev, &mut c_session).await
    })
    .unwrap();
    assert!(text.contains("completed the exercise"), "{text}");
    assert!(!new_session, "the session the bot started carries on");
}

#[test]
fn the_bot_killed_mid_lesson_carries_on_and_never_reuses_a_key() {
    let logdir = tempfile::tempdir().unwrap();
    let lms = lti_common::lms(0, lti_common::SECRET, &logdir.path().join("lms.log"));
    let port = free_port();
    let (bjid, bpw) = prosody::fresh_account("omemoteacher");
    let (ljid, lpw) = prosody::fresh_account("omemolearner");
    let mut bot = lti_bot(port, &bjid, &bpw, tempfile::tempdir().unwrap());
    let mut l = Device::start(&ljid, &lpw, "phone", "manual");
    let (b, page_id, page_fp) = launch(port, lms.port, "omemo-4", &ljid);
    l.subscribe(&bjid);
    l.wait_for("Say hello");
    let ((true_id, true_fp), (impostor_id, impostor_fp)) =
        bot_devices(&mut l, &bjid, page_id, &page_fp);
    l.trust(&bjid, &true_fp, "trusted");
    l.trust(&bjid, &impostor_fp, "trusted");
    l.say_encrypted(&bjid, "first");
    l.wait_for("not verified");
    l.say_encrypted(&bjid, "second");
    l.wait_for("also for a device that is not mine");

    // SIGKILL, then the same data: the sessions carry on (what the bot sends after the
    // restart decrypts: no message key was used twice; python-omemo refuses a repeated one).
    // That a used one-time prekey stays used across a crash is shown on the store by
    // bot::omemo_device::tests.
    let _ = bot.child.kill();
    let _ = bot.child.wait();
    let keep = std::mem::replace(&mut bot.dir, tempfile::tempdir().unwrap());
    drop(bot);
    let _bot = lti_bot(port, &bjid, &bpw, keep);
    l.trust(&bjid, &impostor_fp, "distrusted");
    let until = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let rids = l.say_encrypted(&bjid, "after the crash");
        assert_eq!(rids, [true_id]);
        let got = l.drain_for(Duration::from_secs(3));
        for m in &got {
            assert!(m["error"].is_null(), "every reply decrypts: {m}");
            assert_eq!(m["sender_device"], true_id, "{m}");
        }
        if let Some(m) = got.into_iter().find(|m| {
            m["text"]
                .as_str()
                .is_some_and(|t| t.contains("completed the exercise"))
        }) {
            break m;
        }
        assert!(Instant::now() < until, "the restarted bot answers");
    };
    let code = code_in(done["text"].as_str().unwrap()).unwrap();
    // The restarted pages have a new cookie key (no ROCKET_SECRET_KEY here): the learner
    // opens the activity again, gives the same JID, and the page shows the same device.
    drop(b);
    let (mut b, id_again, fp_again) = launch(port, lms.port, "omemo-4", &ljid);
    assert_eq!((id_again, fp_again), (page_id, page_fp));
    let p = b.submit("/code", &format!("code={code}"));
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(grade_arrives(&lms.log).len(), 1);
    let _ = impostor_id;
}

/// Debian's Profanity in a tmux window of its own, as a learner types into it.
struct Profanity {
    session: String,
    _home: tempfile::TempDir,
}

impl Drop for Profanity {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

impl Profanity {
    fn start() -> Profanity {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().display();
        let session = format!("otrbot-omemo-{}", std::process::id());
        let ok = std::process::Command::new("tmux")
            .args(["new-session", "-d", "-s", &session, "-x", "250", "-y", "80"])
            .arg(format!(
                "env HOME={h} XDG_CONFIG_HOME={h}/.config XDG_DATA_HOME={h}/.local/share TERM=xterm-256color profanity"
            ))
            .status()
            .expect("tmux (scripts/test installs it)");
        assert!(ok.success(), "tmux could not start profanity");
        let p = Profanity {
            session,
            _home: home,
        };
        p.wait_for("/help", 15);
        p
    }

    fn screen(&self) -> String {
        let out = std::process::Command::new("tmux")
            .args(["capture-pane", "-p", "-J", "-S", "-", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn type_line(&self, line: &str) {
        for args in [vec!["-l", line], vec!["Enter"]] {
            let ok = std::process::Command::new("tmux")
                .args(["send-keys", "-t", &self.session])
                .args(args)
                .status()
                .unwrap();
            assert!(ok.success());
        }
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Waits until the window shows `part`; the screen then.
    fn wait_for(&self, part: &str, secs: u64) -> String {
        let until = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if s.contains(part) {
                return s;
            }
            assert!(
                Instant::now() < until,
                "Profanity did not show {part:?} within {secs} s:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Profanity's form of a fingerprint: 8 groups of 8 joined by `-`.
fn dashed(fp: &str) -> String {
    fp.as_bytes()
        .chunks(8)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("-")
}

#[test]
fn profanity_as_a_real_client_does_the_lesson() {
    let logdir = tempfile::tempdir().unwrap();
    let lms = lti_common::lms(0, lti_common::SECRET, &logdir.path().join("lms.log"));
    let port = free_port();
    let (bjid, bpw) = prosody::fresh_account("omemoteacher");
    let (ljid, lpw) = prosody::fresh_account("omemoprof");
    let _bot = lti_bot(port, &bjid, &bpw, tempfile::tempdir().unwrap());
    let (mut b, _page_id, page_fp) = launch(port, lms.port, "omemo-prof", &ljid);
    // The impostor's fingerprint as any client sees it (another device's list of the bot).
    let (pjid, ppw) = prosody::fresh_account("omemoprobe");
    let mut probe = Device::start(&pjid, &ppw, "probe", "manual");
    let impostor_fp = {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let devs = probe.devices(&bjid);
            if devs.len() == 2 {
                break devs.into_iter().find(|(_, fp)| *fp != page_fp).unwrap().1;
            }
            assert!(
                Instant::now() < until,
                "the bot lists two devices: {devs:?}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    drop(probe);

    let p = Profanity::start();
    let user = ljid.split('@').next().unwrap();
    for line in [
        format!("/account add {user}"),
        format!("/account set {user} jid {ljid}"),
        format!("/account set {user} server 127.0.0.1"),
        format!("/account set {user} port {}", prosody::port()),
        format!("/account set {user} password {lpw}"),
        // The loopback server's self-signed certificate.
        format!("/account set {user} tls trust"),
        format!("/account set {user} resource profanity"),
        format!("/connect {user}"),
    ] {
        p.type_line(&line);
    }
    p.wait_for("logged in", 20);
    // The bot asks to see the learner's presence: allowed, and asked back, as the page says.
    p.wait_for(&bjid, 20);
    p.type_line(&format!("/sub allow {bjid}"));
    p.type_line(&format!("/sub request {bjid}"));
    p.type_line("/omemo gen");
    p.wait_for("OMEMO crytographic materials generated", 30);
    p.type_line(&format!("/msg {bjid}"));
    p.wait_for("Say hello", 30);
    p.type_line("hello");
    p.wait_for("/omemo start", 30);

    // OMEMO on; trusting both devices first (the bot says it is not verified), then the page's.
    p.type_line("/omemo start");
    p.type_line("/omemo fingerprint");
    p.wait_for(&dashed(&page_fp), 20);
    p.type_line(&format!("/omemo trust {}", dashed(&page_fp)));
    p.type_line(&format!("/omemo trust {}", dashed(&impostor_fp)));
    p.type_line("is this private?");
    p.wait_for("not verified", 30);
    p.type_line(&format!("/omemo untrust {}", dashed(&impostor_fp)));
    p.type_line("and now?");
    let s = p.wait_for("completed the exercise", 30);
    let code = s
        .lines()
        .filter(|l| l.contains("completed the exercise"))
        .find_map(code_in)
        .unwrap_or_else(|| {
            // A long line may wrap in the window: look at the whole screen after it.
            let i = s.rfind("completed the exercise").unwrap();
            code_in(&s[i..]).expect("a code on the screen")
        });
    let p2 = b.submit("/code", &format!("code={code}"));
    assert_eq!(p2.status, 303, "{}", p2.body);
    assert_eq!(grade_arrives(&lms.log).len(), 1);
}
