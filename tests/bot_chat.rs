//! The chat side against `otrbot run` over the loopback Prosody, with a learner whose OTR is
//! real libotr: the greeting on subscription, a failed AKE recovered at once, no copies of
//! OTR messages to the learner's other clients, and no learner's words in the log.

mod support;

use futures::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::learner::{
    befriend, bot_settings, code_in, go_private, hello_in_plain_text, spawn_bot_logging, start_bot,
    Learner, SECRET,
};
use support::libotr::policy;
use support::otrwire::spoil_ake_mac;
use support::prosody;
use tokio_xmpp::parsers::carbons::Enable;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::{Event, Stanza};

#[tokio::test]
async fn a_learner_who_adds_the_bot_is_greeted_without_writing() {
    let (ljid, lpw) = prosody::fresh_account("greeted");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    befriend(&mut l).await;
    l.until("the greeting", |l| l.heard("Say hello to me to begin"))
        .await;
    assert_eq!(l.said.len(), 1, "only the greeting: {:?}", l.said);
}

/// The learner's client (libotr with its default policy, as Pidgin's "automatically initiate")
/// starts OTR on the bot's tagged greeting; its first Reveal Signature is spoiled on the way.
/// The bot says so (an OTR error, which makes libotr start again, and a teaching reply), and
/// the next AKE, started by the bot on libotr's query, succeeds at once.
#[tokio::test]
async fn a_failed_handshake_is_explained_and_the_next_one_succeeds_at_once() {
    for (name, versions) in [
        ("akev3", policy::ALLOW_V2 | policy::ALLOW_V3),
        ("akev2", policy::ALLOW_V2),
    ] {
        let (ljid, lpw) = prosody::fresh_account(name);
        let bot = start_bot(&ljid, "");
        let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
        l.peer.policy(policy::DEFAULT & !policy::MANUAL | versions);
        l.spoil_next = Some(spoil_ake_mac);
        befriend(&mut l).await;
        l.until("the explanation of the failed handshake", |l| {
            l.heard("handshake")
        })
        .await;
        assert!(
            l.spoil_next.is_none(),
            "{name}: a Reveal Signature was spoiled"
        );
        assert!(
            l.events.has(|e| matches!(
                e,
                support::libotr::Event::Message { kind, .. } if kind.contains("RCVDMSG_GENERAL_ERR")
            )),
            "{name}: libotr got an OTR error: {:?}",
            l.events.events
        );
        // No timer has to run out: the retry goes through within the test's patience. (Started
        // by the bot on libotr's query, or by libotr itself on the tag of the explanation.)
        l.until("the secure explanation", |l| {
            l.heard("is now encrypted") || l.heard("already started OTR")
        })
        .await;
        assert!(l.peer.status(&l.contact()).msgstate == support::libotr::MsgState::Encrypted);
        l.say("is this private?").await;
        l.until("the SMP request", |l| l.heard("authenticate me"))
            .await;
    }
}

/// A learner who starts OTR by hand: the bot commits, the learner's Signature is spoiled on
/// the way. The learner starts again at once (a new query, the same instance tag): the bot's
/// session for that instance must take up the new DH-Key instead of waiting out its timer.
#[tokio::test]
async fn a_learner_who_starts_again_after_a_failed_handshake_is_answered_at_once() {
    let (ljid, lpw) = prosody::fresh_account("akeagain");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    hello_in_plain_text(&mut l).await;
    l.spoil_next = Some(spoil_ake_mac);
    let q = l.peer.query(&l.contact());
    l.send_wire(&q.inject).await;
    // libotr has gone secure on its side: it shows the bot's plain-text explanation with a
    // warning that it was not encrypted.
    l.until("the explanation of the failed handshake", |l| {
        l.events.has(|e| {
            matches!(e, support::libotr::Event::Message { kind, message: Some(m), .. }
                if kind.ends_with("RCVDMSG_UNENCRYPTED")
                    && String::from_utf8_lossy(m).contains("handshake"))
        })
    })
    .await;
    assert!(l.spoil_next.is_none(), "the Signature was spoiled");
    let q = l.peer.query(&l.contact());
    l.send_wire(&q.inject).await;
    l.until("the secure explanation", |l| l.heard("is now encrypted"))
        .await;
}

/// Pidgin with "automatically initiate" (libotr's default policy) starts OTR on the whitespace
/// tag of the greeting: the bot says that the client did it, not "well done".
#[tokio::test]
async fn a_client_that_starts_otr_by_itself_is_told_so() {
    let (ljid, lpw) = prosody::fresh_account("auto");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    l.peer.policy(policy::DEFAULT);
    befriend(&mut l).await;
    l.until("the explanation", |l| l.heard("already started OTR"))
        .await;
    assert!(!l.heard("Well done"), "{:?}", l.said);
    l.until("the SMP request", |l| l.heard("authenticate me"))
        .await;
}

/// The learner refreshes the private conversation and starts SMP at once: the bot says the
/// conversation is still private, and the authentication goes through.
#[tokio::test]
async fn a_refresh_is_explained_and_smp_right_after_it_succeeds() {
    let (ljid, lpw) = prosody::fresh_account("refresh");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;
    let q = l.peer.query(&l.contact());
    l.send_wire(&q.inject).await;
    l.until("the refresh explained", |l| l.heard("still encrypted"))
        .await;
    let code = l.smp_to_the_code(SECRET.as_bytes()).await;
    assert!(code_in(&code).is_some(), "{code}");
}

#[tokio::test]
async fn otr_messages_are_not_copied_to_the_learners_other_clients() {
    let (ljid, lpw) = prosody::fresh_account("carbons");
    let bot = start_bot(&ljid, "");
    // A second client of the learner, with carbons on: it sees copies of the chat.
    let (mut other, _) = prosody::chat_client(&ljid, &lpw, support::learner::T).await;
    let enable = Iq::from_set("carbons-on", Enable);
    other.send_stanza(Stanza::Iq(enable)).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    let (enabled_tx, enabled) = tokio::sync::oneshot::channel();
    let watcher = tokio::spawn(async move {
        let mut enabled_tx = Some(enabled_tx);
        while let Some(ev) = other.next().await {
            match ev {
                Event::Stanza(Stanza::Iq(iq)) if iq.id() == "carbons-on" => {
                    if let Some(tx) = enabled_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Event::Stanza(Stanza::Message(m)) => {
                    let el: tokio_xmpp::minidom::Element = m.into();
                    log.lock().unwrap().push(String::from(&el));
                }
                _ => {}
            }
        }
    });
    // The server has switched carbons on before the learner's main client logs in.
    tokio::time::timeout(support::learner::T, enabled)
        .await
        .expect("the server answers the carbons request")
        .unwrap();
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;
    let before = l.said.len();
    l.say("a private hello").await;
    l.until("a reply in private", |l| l.said.len() > before)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    watcher.abort();
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .any(|s| s.contains("urn:xmpp:carbons:2") && s.contains("plain text")),
        "carbons work: the plain-text explanation was copied: {seen:#?}"
    );
    let otr: Vec<&String> = seen.iter().filter(|s| s.contains("?OTR")).collect();
    assert!(otr.is_empty(), "copies of OTR messages: {otr:#?}");
}

#[tokio::test]
async fn a_lesson_logged_at_trace_carries_no_words_secret_code_or_password() {
    let (ljid, lpw) = prosody::fresh_account("quiet");
    let (bjid, bpw) = prosody::fresh_account("quietbot");
    let dir = tempfile::tempdir().unwrap();
    let text = bot_settings(&bjid, &bpw, dir.path(), &ljid, "", "")
        .replace("level = \"info\"", "level = \"trace\"");
    assert!(text.contains("level = \"trace\"") && !text.contains("log_user_msgs"));
    std::fs::write(dir.path().join("bot.toml"), text).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let log_path = logs.path().join("bot.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let bot = spawn_bot_logging(&bjid, dir, 0, log.into());
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    befriend(&mut l).await;
    l.say("hello plaintextwordzebra").await;
    go_private(&mut l).await;
    l.say("my encryptedwordquokka").await;
    let code = l.smp_to_the_code(SECRET.as_bytes()).await;
    assert!(code_in(&code).is_some());
    l.say(&format!("the code was {code} and the secret {SECRET}"))
        .await;
    l.until("the warning about the secret", |l| {
        l.heard("typed our shared secret")
    })
    .await;
    drop(bot);
    let log = String::from_utf8_lossy(&std::fs::read(&log_path).unwrap()).into_owned();
    assert!(
        log.contains("TRACE") && log.contains("bytes hidden"),
        "a trace log of the lesson: {} bytes",
        log.len()
    );
    for word in [
        "plaintextwordzebra",
        "encryptedwordquokka",
        SECRET,
        "correct horse",
        &code,
        &bpw,
    ] {
        assert!(!log.contains(word), "{word:?} is in the log");
    }
}

/// A learner whitelisted by the operator types the secret into the chat: it is voided. The
/// operator gives a new one with `otrbot secret set` (standard input) while the bot runs; the
/// bot says so in chat and the learner verifies it with the new secret.
#[tokio::test]
async fn a_voided_secret_is_replaced_by_the_operator_while_the_bot_runs() {
    use std::io::Write;
    const NEW: &str = "Seven violet kites fly";
    let (ljid, lpw) = prosody::fresh_account("voided");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;
    l.say(&format!("is it {SECRET}?")).await;
    l.until("the warning", |l| l.heard("thrown that secret away"))
        .await;
    let settings = bot.dir.path().join("bot.toml");
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_otrbot"))
        .arg("--settings")
        .arg(&settings)
        .args(["secret", "set", &ljid])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run otrbot secret set");
    cli.stdin
        .take()
        .unwrap()
        .write_all(format!("{NEW}\n").as_bytes())
        .unwrap();
    let out = cli.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    l.until("the new secret's arrival", |l| {
        l.heard("received the shared secret")
    })
    .await;
    let code = l.smp_to_the_code(NEW.as_bytes()).await;
    assert!(code_in(&code).is_some(), "{code}");
}
