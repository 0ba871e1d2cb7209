//! The bot's connection drops once it is online (a relay in front of Prosody is cut and
//! refuses connections for a while): the bot reconnects with back-off and carries on teaching
//! the learner in the same OTR session, and announces its avatar again.

mod support;

use std::time::Duration;
use support::avatar::{self, PNG};
use support::learner::{bot_settings, go_private, spawn_bot, Learner, SECRET};
use support::prosody;
use support::proxy::Relay;
use tokio_xmpp::parsers::presence::Type as PresenceType;

#[tokio::test]
async fn connection_dropped_mid_lesson_reconnects_and_carries_on() {
    let relay = Relay::start(prosody::port()).await;
    let (ljid, lpw) = prosody::fresh_account("dropped");
    let (bjid, bpw) = prosody::fresh_account("teacher");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("avatar.png");
    std::fs::write(&file, PNG).unwrap();
    let account = format!("avatar = {file:?}\n");
    let text = bot_settings(&bjid, &bpw, dir.path(), &ljid, "", &account).replace(
        &format!("port = {}", prosody::port()),
        &format!("port = {}", relay.port),
    );
    assert!(text.contains(&format!("port = {}", relay.port)));
    std::fs::write(dir.path().join("bot.toml"), text).unwrap();
    let _bot = spawn_bot(&bjid, dir);

    // The learner talks to Prosody directly; the bot goes through the relay.
    let mut l = Learner::login(&ljid, &lpw, &bjid.parse().unwrap()).await;
    go_private(&mut l).await;
    l.until("the bot's presence", |l| l.online).await;
    let before = relay.accepted();
    assert!(before >= 1, "the bot connected through the relay");
    let sha1 = avatar::sha1_hex(&PNG);
    let hashes = |l: &Learner, from: usize| -> Vec<Option<String>> {
        l.presences[from..]
            .iter()
            .filter(|p| p.type_ == PresenceType::None)
            .map(avatar::photo_hash)
            .collect()
    };
    assert!(hashes(&l, 0).contains(&Some(sha1.clone())));

    // The network breaks: the server notices and tells the learner the bot is gone.
    relay.cut(true);
    l.until("the bot going offline", |l| !l.online).await;
    let offline_at = l.presences.len();
    // The network stays down a while (the bot retries and fails), then comes back.
    tokio::time::sleep(Duration::from_secs(2)).await;
    relay.reopen();
    l.until("the bot coming back online", |l| l.online).await;
    assert!(relay.accepted() > before, "the bot made a new connection");
    // The new connection's available presence announces the avatar again.
    let again = hashes(&l, offline_at);
    assert!(
        !again.is_empty() && again.iter().all(|h| h.as_ref() == Some(&sha1)),
        "{again:?}"
    );

    // The lesson carries on where it was: SMP in the same OTR session gives the code.
    l.smp_to_the_code(SECRET.as_bytes()).await;
}
