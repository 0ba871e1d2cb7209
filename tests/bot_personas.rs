//! Learner personas against `otrbot run` over the loopback Prosody (the learner's OTR is real
//! libotr): plain text only, SMP aborted, OTR ended and restarted, idle until expired (with the
//! status text), chat states when typing is scheduled, the bot starting SMP, and the avatar.

mod support;

use futures::StreamExt;
use otrbot::store::{Store, WhitelistSource};
use otrbot::xmpp::stanza::{outgoing, Outgoing};
use std::process::Command;
use std::time::{Duration, Instant};
use support::avatar::{self, PNG};
use support::learner::{
    befriend, bot_settings, code_in, go_private, hello_in_plain_text, spawn_bot_logging, start_bot,
    start_bot_full, Heard, Learner, SECRET, T,
};
use support::prosody;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::avatar::{Data, Metadata};
use tokio_xmpp::parsers::chatstates::ChatState;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::parsers::pubsub::pubsub::Items;
use tokio_xmpp::parsers::pubsub::PubSub;
use tokio_xmpp::{Event, Stanza};

/// Whether libotr ever delivered a completion code to the learner.
fn got_a_code(l: &Learner) -> bool {
    l.said.iter().any(|s| code_in(s).is_some())
}

#[tokio::test]
async fn plain_text_only_gets_reminders_with_hints_and_no_code() {
    let (ljid, lpw) = prosody::fresh_account("plainonly");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    hello_in_plain_text(&mut l).await;
    assert!(l.heard("start an Off-the-Record (OTR) conversation"));
    for n in 1..=2 {
        let before = l.said.len();
        l.say("hello? anyone?").await;
        l.until("a reminder with client hints", |l| {
            l.heard_since(before, "still writing in plain text")
                && l.heard_since(before, "How to start OTR")
        })
        .await;
        let reminders = l
            .said
            .iter()
            .filter(|s| s.contains("still writing in plain text"))
            .count();
        assert_eq!(reminders, n, "one reminder per message: {:#?}", l.said);
    }
    assert!(l.heard("Pidgin") && l.heard("/otr start"), "{:#?}", l.said);
    // Whatever comes later, the learner never went private and never got a code.
    l.relay_for(Duration::from_millis(500)).await;
    assert!(!l.events.gone_secure(), "{:?}", l.events.events);
    assert!(!got_a_code(&l), "{:#?}", l.said);
    assert!(!l.heard("authenticate me"), "{:#?}", l.said);
}

#[tokio::test]
async fn smp_aborted_is_explained_and_a_new_smp_succeeds() {
    let (ljid, lpw) = prosody::fresh_account("aborter");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;
    // The learner starts SMP and cancels it at once (closes the dialog).
    let mut out = l.peer.smp_start(&l.contact(), SECRET.as_bytes(), None);
    out.extend(l.peer.smp_abort(&l.contact()));
    l.send_wire(&out.inject).await;
    l.until("the abort explanation", |l| {
        l.heard("cancelled before it finished")
    })
    .await;
    assert!(l.heard("Please start it again"), "{:#?}", l.said);
    assert!(!got_a_code(&l));
    // Let any SMP message still under way settle, then try again.
    l.relay_for(Duration::from_millis(700)).await;
    let out = l.peer.smp_start(&l.contact(), SECRET.as_bytes(), None);
    l.send_wire(&out.inject).await;
    l.until("the completion code", |l| l.heard("completion code is"))
        .await;
    assert!(l.events.has_smp("OTRL_SMPEVENT_SUCCESS"));
    assert!(code_in(l.last_said()).is_some());
}

#[tokio::test]
async fn otr_ended_mid_lesson_is_explained_and_restarted() {
    let (ljid, lpw) = prosody::fresh_account("ender");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;
    // The learner ends OTR: libotr sends the disconnect TLV.
    let out = l.peer.finish(&l.contact());
    assert!(!out.inject.is_empty(), "libotr sends a disconnect");
    l.send_wire(&out.inject).await;
    l.until("the OTR-ended explanation", |l| {
        l.heard("private conversation has ended")
    })
    .await;
    assert!(l.heard("start OTR again"), "{:#?}", l.said);
    // The learner starts OTR again; the bot asks for SMP again, and SMP gives the code.
    let before = l.said.len();
    let q = l.peer.query(&l.contact());
    l.send_wire(&q.inject).await;
    l.until("the SMP request after the restart", |l| {
        l.heard_since(before, "authenticate me")
    })
    .await;
    let out = l.peer.smp_start(&l.contact(), SECRET.as_bytes(), None);
    l.send_wire(&out.inject).await;
    l.until("the completion code", |l| l.heard("completion code is"))
        .await;
    assert!(l.peer.status(&l.contact()).trusted);
}

/// `otrbot sessions list --json` through the running bot's admin socket.
fn sessions_json(settings: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_otrbot"))
        .arg("--settings")
        .arg(settings)
        .args(["sessions", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "sessions list: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn idle_learner_is_warned_then_expired_and_removed() {
    let (ljid, lpw) = prosody::fresh_account("idler");
    let (bjid, bpw) = prosody::fresh_account("teacher");
    // The learner came through an LTI launch: expiry removes that whitelist entry too
    // (operators' entries from the settings or the CLI stay).
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(&dir.path().join("data")).unwrap();
        let (resp, _) =
            otrbot::bot::admin::whitelist_add(&store, &ljid, "en_GB", WhitelistSource::Lti, 0);
        assert!(format!("{resp:?}").contains("Ok"), "{resp:?}");
        store.flush().unwrap();
    }
    let text = bot_settings(&bjid, &bpw, dir.path(), "nobody@localhost", "", "");
    std::fs::write(dir.path().join("bot.toml"), text).unwrap();
    let log_path = dir.path().join("bot.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let bot = spawn_bot_logging(&bjid, dir, 0, log.into());
    let settings = bot.dir.path().join("bot.toml");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;
    assert!(sessions_json(&settings).contains(&ljid), "a session runs");
    // Silence: the warning after 4 s, the expiry after 8 s.
    let silent = Instant::now();
    l.until("the inactivity warning", |l| l.heard("Are you still there"))
        .await;
    assert!(
        silent.elapsed() >= Duration::from_secs(2),
        "warned too early"
    );
    assert!(!l.heard("session has ended"));
    let status_text = |p: &Presence| {
        p.statuses
            .values()
            .any(|s| s.starts_with("Session ended. To start again, open the exercise"))
    };
    l.until(
        "the expiry, the end of the subscription, the status text",
        |l| l.heard("session has ended") && l.unsubscribed && l.presences.iter().any(status_text),
    )
    .await;
    assert!(l.heard("To start again, open the exercise from your course"));
    // The session, its secrets and keys are gone, and so is the LTI whitelist entry.
    let list = sessions_json(&settings);
    assert!(!list.contains(&ljid), "the session is gone: {list}");
    // A later message gets no lesson reply (not even through OTR, which the bot ended).
    let heard = l.trail.len();
    l.client
        .send_stanza(outgoing(Outgoing::Chat {
            to: bot.jid.clone().into(),
            body: "hello, are you there?".into(),
        }))
        .await
        .unwrap();
    l.relay_for(Duration::from_secs(3)).await;
    let late: Vec<&Heard> = l.trail[heard..]
        .iter()
        .filter(|h| matches!(h, Heard::Message { .. }))
        .collect();
    assert!(late.is_empty(), "the bot answered after expiry: {late:?}");
    // The status text is the last the learner heard of the bot (the server's own unavailable
    // presences for the ended subscription came before it): the bot shows as offline with it.
    let last = l.presences.last().unwrap();
    assert!(
        last.type_ == PresenceType::Unavailable && status_text(last),
        "{:#?}",
        l.presences
    );
    // The expiry is an ordinary end, not a failed turn.
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("session expired"), "{log}");
    assert!(!log.contains("ERROR"), "the expiry logged an error: {log}");
}

#[tokio::test]
async fn operator_whitelisted_learner_stays_a_contact_and_can_start_again() {
    // Whitelisted in the settings (an operator's entry): expiry ends the session only.
    let (ljid, lpw) = prosody::fresh_account("regular");
    let bot = start_bot(&ljid, "");
    let settings = bot.dir.path().join("bot.toml");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;
    l.until("the expiry", |l| l.heard("session has ended"))
        .await;
    l.relay_for(Duration::from_secs(1)).await;
    assert!(
        !l.unsubscribed,
        "an operator's learner keeps the subscription"
    );
    let list = sessions_json(&settings);
    assert!(!list.contains(&ljid), "the session is gone: {list}");
    // Writing again (the learner's client has ended OTR too) starts a new session: the
    // lesson from the beginning.
    let before = l.said.len();
    let out = l.peer.finish(&l.contact());
    l.send_wire(&out.inject).await;
    l.say("hello again").await;
    l.until("a new lesson", |l| {
        l.said[before..].iter().any(|s| s.contains("plain text"))
    })
    .await;
    assert!(
        sessions_json(&settings).contains(&ljid),
        "a new session runs"
    );
}

/// The chat-state stanzas and the message states of the bot's replies, as a compact string:
/// `c` composing, `p` paused, `A` a reply (a message the learner read) with active.
fn states(trail: &[Heard]) -> String {
    trail
        .iter()
        .filter_map(|h| match h {
            Heard::State(ChatState::Composing) => Some('c'),
            Heard::State(ChatState::Paused) => Some('p'),
            Heard::State(other) => panic!("unexpected chat state {other:?}"),
            Heard::Message {
                state: Some(ChatState::Active),
                text: Some(_),
            } => Some('A'),
            Heard::Message { text: None, .. } => None,
            Heard::Message { state, text } => panic!("a reply without active: {state:?} {text:?}"),
        })
        .collect()
}

#[tokio::test]
async fn scheduled_replies_come_with_composing_paused_and_active() {
    let (ljid, lpw) = prosody::fresh_account("typist");
    let bot = start_bot(&ljid, "scheduled_say = true\ntype_speed = 400\n");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    befriend(&mut l).await;
    // The greeting, typed, in a turn of its own.
    l.until("the greeting", |l| l.heard("Say hello")).await;
    assert_eq!(states(&l.trail), "cA", "{:#?}", l.trail);
    // One turn, two replies (the explanation, then the client hints): the bot types the first,
    // sends it, starts on the second, pauses while the learner reads, and types on.
    l.say("hello").await;
    l.until("the client hints", |l| l.heard("How to start OTR"))
        .await;
    assert_eq!(states(&l.trail), "cAcAcpcA", "{:#?}", l.trail);
    // Going private: two more replies in one turn; protocol messages carry no typing.
    let q = l.peer.query(&l.contact());
    l.send_wire(&q.inject).await;
    l.until("the SMP request", |l| l.heard("authenticate me"))
        .await;
    assert_eq!(states(&l.trail), "cAcAcpcAcAcpcA", "{:#?}", l.trail);
    // A reply's protocol messages (the AKE) carry active too, never composing.
    assert!(l.trail.iter().all(|h| match h {
        Heard::Message { state, .. } => *state == Some(ChatState::Active),
        Heard::State(_) => true,
    }));
}

#[tokio::test]
async fn without_scheduled_say_there_are_no_typing_notifications() {
    let (ljid, lpw) = prosody::fresh_account("notypist");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    befriend(&mut l).await;
    l.until("the greeting", |l| l.heard("Say hello")).await;
    l.say("hello").await;
    l.until("the client hints", |l| l.heard("How to start OTR"))
        .await;
    assert_eq!(states(&l.trail), "AAA", "{:#?}", l.trail);
}

#[tokio::test]
async fn bot_starts_smp_itself_when_allowed() {
    let (ljid, lpw) = prosody::fresh_account("smpbybot");
    let bot = start_bot(&ljid, "may_start_smp = true\n");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    hello_in_plain_text(&mut l).await;
    let q = l.peer.query(&l.contact());
    l.send_wire(&q.inject).await;
    // The bot starts SMP: the learner's libotr asks its user for the secret.
    l.until("the bot's SMP request", |l| {
        l.events.has_smp("OTRL_SMPEVENT_ASK_FOR_SECRET")
    })
    .await;
    assert!(
        l.heard("I have started the authentication"),
        "{:#?}",
        l.said
    );
    assert!(!l.heard("authenticate me"), "{:#?}", l.said);
    let out = l.peer.smp_respond(&l.contact(), SECRET.as_bytes());
    l.send_wire(&out.inject).await;
    l.until("the completion code", |l| l.heard("completion code is"))
        .await;
    assert!(l.events.has_smp("OTRL_SMPEVENT_SUCCESS"));
    assert!(l.peer.status(&l.contact()).trusted);
}

/// Asks the bot's PEP service for the items of `node`; the first item's id and payload.
async fn pep_item(l: &mut Learner, node: &str, n: u32) -> Option<(String, Element)> {
    let id = format!("pep-{n}");
    let mut iq = Iq::from_get(id.clone(), PubSub::Items(Items::new(node)));
    if let Iq::Get { to, .. } = &mut iq {
        *to = Some(l.bot.clone().into());
    }
    l.client.send_stanza(iq.into()).await.unwrap();
    let deadline = Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = tokio::time::timeout(left, l.client.next())
            .await
            .expect("an answer from the bot's PEP service");
        let Some(Event::Stanza(Stanza::Iq(iq))) = ev else {
            continue;
        };
        match iq {
            Iq::Result {
                id: got,
                payload: Some(p),
                ..
            } if got == id => {
                let PubSub::Items(items) = PubSub::try_from(p).unwrap() else {
                    panic!("not an items answer");
                };
                let item = items.items.into_iter().next()?;
                return Some((item.id?.0, item.payload?));
            }
            Iq::Error { id: got, .. } if got == id => return None,
            _ => {}
        }
    }
}

#[tokio::test]
async fn avatar_is_published_with_pep_and_announced_in_presence() {
    let (ljid, lpw) = prosody::fresh_account("looker");
    let (bjid, bpw) = prosody::fresh_account("teacher");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("avatar.png");
    std::fs::write(&file, PNG).unwrap();
    let sha1 = avatar::sha1_hex(&PNG);
    let account = format!("avatar = {file:?}\n");
    let bot = start_bot_full(&bjid, &bpw, dir, &ljid, "", &account);
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    befriend(&mut l).await;
    l.until("the bot's presence", |l| l.online).await;

    // XEP-0153: the presence carries the image's SHA-1.
    let photo = l
        .presences
        .iter()
        .find_map(avatar::photo_hash)
        .expect("an XEP-0153 photo hash in the bot's presence");
    assert_eq!(photo, sha1);

    // XEP-0084: the data node holds the file, under its SHA-1; the metadata describes it.
    let mut data = None;
    for n in 0..20 {
        data = pep_item(&mut l, "urn:xmpp:avatar:data", n).await;
        if data.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (id, payload) = data.expect("the bot's avatar data item");
    assert_eq!(id, sha1);
    assert_eq!(Data::try_from(payload).unwrap().data, PNG);
    let (id, payload) = pep_item(&mut l, "urn:xmpp:avatar:metadata", 99)
        .await
        .expect("the bot's avatar metadata item");
    assert_eq!(id, sha1);
    let meta = Metadata::try_from(payload).unwrap();
    let info = &meta.infos[0];
    assert_eq!(info.bytes as usize, PNG.len());
    assert_eq!(info.type_, "image/png");
    assert_eq!((info.width, info.height), (Some(2), Some(1)));
    assert_eq!(info.id.to_hex(), sha1);
}
