//! The whole lesson against the loopback Prosody: the bot (`otrbot run`) teaches a scripted
//! learner whose OTR is real libotr (tests/peer), not the project's own engine.

mod support;

use futures::StreamExt;
use otrbot::xmpp::stanza::{incoming, outgoing, Incoming, Outgoing};
use std::time::{Duration, Instant};
use support::learner::{befriend, code_in, go_private, start_bot, start_bot_as, Learner, SECRET};
use support::prosody;
use tokio_xmpp::Event;

#[tokio::test]
async fn learner_with_libotr_completes_the_lesson() {
    let (ljid, lpw) = prosody::fresh_account("learner");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    befriend(&mut l).await;

    // Plain text first: the bot explains that this is not private.
    l.say("hello").await;
    l.until("the plain-text explanation", |l| l.heard("plain text"))
        .await;

    // Plain text again: a reminder with client hints.
    l.say("hello again").await;
    l.until("the reminder", |l| l.heard("still writing in plain text"))
        .await;

    // The learner starts OTR: the bot explains "encrypted, not verified" and asks for SMP.
    let q = l.peer.query(&l.contact());
    l.send_wire(&q.inject).await;
    l.until("the secure explanation", |l| l.heard("now encrypted"))
        .await;
    assert!(
        l.events.gone_secure(),
        "libotr went secure: {:?}",
        l.events.events
    );
    l.until("the SMP request", |l| l.heard("authenticate me"))
        .await;

    // SMP with the shared secret: the bot answers with the same secret; a code follows.
    let out = l.peer.smp_start(&l.contact(), SECRET.as_bytes(), None);
    l.send_wire(&out.inject).await;
    l.until("the completion code", |l| l.heard("completion code is"))
        .await;
    assert!(
        l.events.has_smp("OTRL_SMPEVENT_SUCCESS"),
        "smp: {:?}",
        l.events.smp_events()
    );
    let code = code_in(l.last_said()).expect("a XXXX-XXXX code");
    assert_eq!(code.len(), 9);
    assert!(
        l.peer.status(&l.contact()).trusted,
        "libotr trusts the bot after SMP"
    );
}

#[tokio::test]
async fn wrong_secret_then_right_one() {
    let (ljid, lpw) = prosody::fresh_account("wrongsecret");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;
    let out = l
        .peer
        .smp_start(&l.contact(), b"Correct Horse Battery", None);
    l.send_wire(&out.inject).await;
    l.until("the failure explanation", |l| l.heard("case-sensitive"))
        .await;
    assert!(l.events.has_smp("OTRL_SMPEVENT_FAILURE"));
    let out = l.peer.smp_start(&l.contact(), SECRET.as_bytes(), None);
    l.send_wire(&out.inject).await;
    l.until("the completion code", |l| l.heard("completion code is"))
        .await;
}

#[tokio::test]
async fn smp_with_a_question_is_explained_and_answered() {
    let (ljid, lpw) = prosody::fresh_account("question");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;
    let out = l
        .peer
        .smp_start(&l.contact(), SECRET.as_bytes(), Some(b"What did we agree?"));
    l.send_wire(&out.inject).await;
    l.until("the completion code", |l| l.heard("completion code is"))
        .await;
    assert!(l.heard("A question is useful"), "{:#?}", l.said);
}

#[tokio::test]
async fn secret_typed_into_chat_is_voided() {
    let (ljid, lpw) = prosody::fresh_account("leaky");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;
    l.say(&format!("is it {SECRET}?")).await;
    l.until("the warning", |l| l.heard("never travel over"))
        .await;
    // The secret is gone: SMP with it is no longer answered with it.
    let out = l.peer.smp_start(&l.contact(), SECRET.as_bytes(), None);
    l.send_wire(&out.inject).await;
    l.until("the no-secret explanation", |l| {
        l.heard("not chosen a shared secret")
    })
    .await;
    assert!(!l.heard("completion code is"));
}

#[tokio::test]
async fn stranger_gets_no_subscription_and_no_reply() {
    let (ljid, _) = prosody::fresh_account("pupil");
    let bot = start_bot(&ljid, "");
    let (sjid, spw) = prosody::fresh_account("stranger");
    let mut s = Learner::login(&sjid, &spw, &bot.jid).await;
    s.client
        .send_stanza(outgoing(Outgoing::Subscribe(bot.jid.clone())))
        .await
        .unwrap();
    s.say("hello").await;
    // Wait a while: only a refusal of the subscription may come, never a chat message.
    let until = Instant::now() + Duration::from_secs(4);
    let mut refused = false;
    while let Ok(Some(ev)) = tokio::time::timeout(
        until.saturating_duration_since(Instant::now()),
        s.client.next(),
    )
    .await
    {
        if let Event::Stanza(st) = ev {
            match incoming(st) {
                Incoming::Chat { from, body } if from.to_bare() == bot.jid => {
                    panic!("the bot answered a stranger: {body}")
                }
                Incoming::SubscribeRequest { from } if from == bot.jid => {
                    panic!("the bot asked a stranger to subscribe")
                }
                Incoming::Unsubscribed { from } if from == bot.jid => refused = true,
                _ => {}
            }
        }
    }
    assert!(refused, "the stranger's subscription request was refused");
}

#[tokio::test]
async fn bot_restart_mid_lesson_keeps_the_otr_session() {
    let (ljid, lpw) = prosody::fresh_account("restart");
    let (bjid, bpw) = prosody::fresh_account("teacher");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_owned();
    let mut bot = start_bot_as(&bjid, &bpw, dir, &ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;
    // Kill the bot hard and start it again on the same data.
    let _ = bot.child.kill();
    let _ = bot.child.wait();
    let keep = std::mem::replace(&mut bot.dir, tempfile::tempdir().unwrap());
    drop(bot);
    assert!(data.exists());
    l.until("the bot going offline", |l| !l.online).await;
    let _bot = start_bot_as(&bjid, &bpw, keep, &ljid, "");
    l.until("the bot coming back online", |l| l.online).await;
    // The learner carries on in the same OTR session: SMP completes.
    l.smp_to_the_code(SECRET.as_bytes()).await;
}

#[tokio::test]
async fn fragmented_messages_from_the_learner_are_reassembled_across_turns() {
    let (ljid, lpw) = prosody::fresh_account("fragments");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;
    // The learner's client now splits every OTR message into pieces of at most 80 bytes, each
    // its own stanza and so its own turn of the bot's: an SMP message arrives in dozens, all
    // at once (more than once outgrew the bot's inbox for one learner, and a lost piece is a
    // lost message).
    l.peer.max_size(80);
    let out = l.peer.smp_start(&l.contact(), SECRET.as_bytes(), None);
    eprintln!("fragments: {}", out.inject.len());
    assert!(
        out.inject.len() > 20,
        "libotr fragmented: {}",
        out.inject.len()
    );
    l.send_wire(&out.inject).await;
    l.until("the completion code", |l| l.heard("completion code is"))
        .await;
}

/// The operator ends a session in the middle of the lesson (`otrbot sessions kill` through the
/// running bot's admin socket): the learner hears why in the private conversation, which the
/// bot then ends, so their client does not go on writing into a session the bot no longer has.
#[tokio::test]
async fn a_session_the_operator_ends_is_told_and_its_otr_ended() {
    let (ljid, lpw) = prosody::fresh_account("killed");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;

    let jid = ljid.clone();
    let settings = support::flood::settings_file(&bot);
    let kill = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_otrbot"))
            .args(["sessions", "kill", &jid, "--settings"])
            .arg(settings)
            .output()
            .expect("run otrbot")
    });
    l.until("why the session ended", |l| {
        l.heard("ended by the people who run this bot")
    })
    .await;
    let out = kill.await.unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ended"),
        "{out:?}"
    );
    l.relay_for(Duration::from_millis(300)).await;
    let status = l.peer.status(&l.contact());
    assert_eq!(
        status.msgstate,
        support::libotr::MsgState::Finished,
        "the learner's client shows the private conversation ended: {status:?}"
    );
    let listed = support::flood::admin_json(&bot, &["sessions", "list", "--json"]);
    assert!(
        !listed.to_string().contains(&ljid),
        "the session is gone: {listed}"
    );
}
