//! The bot's connection drops once it is online (a relay in front of Prosody is cut and
//! refuses connections for a while): the bot reconnects with back-off and carries on teaching
//! the learner in the same OTR session.

mod support;

use std::time::Duration;
use support::learner::{bot_settings, go_private, spawn_bot, Learner, SECRET};
use support::prosody;
use support::proxy::Relay;

#[tokio::test]
async fn connection_dropped_mid_lesson_reconnects_and_carries_on() {
    let relay = Relay::start(prosody::port()).await;
    let (ljid, lpw) = prosody::fresh_account("dropped");
    let (bjid, bpw) = prosody::fresh_account("teacher");
    let dir = tempfile::tempdir().unwrap();
    let text = bot_settings(&bjid, &bpw, dir.path(), &ljid, "", "").replace(
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

    // The network breaks: the server notices and tells the learner the bot is gone.
    relay.cut(true);
    l.until("the bot going offline", |l| !l.online).await;
    // The network stays down a while (the bot retries and fails), then comes back.
    tokio::time::sleep(Duration::from_secs(2)).await;
    relay.reopen();
    l.until("the bot coming back online", |l| l.online).await;
    assert!(relay.accepted() > before, "the bot made a new connection");

    // The lesson carries on where it was: SMP in the same OTR session gives the code.
    l.smp_to_the_code(SECRET.as_bytes()).await;
}
