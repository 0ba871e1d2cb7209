//! Waiting for a started `otrbot` process to be ready.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Waits up to 20 s until `ready()` holds; panics if `child` exits first.
pub fn wait_ready(child: &mut Child, what: &str, ready: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(20);
    while !ready() {
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("the bot exited before {what}: {st}: {err}");
        }
        assert!(Instant::now() < until, "no {what} after 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether something listens on `127.0.0.1:port`.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Stops `bot` with SIGTERM, checks that it exits cleanly, and returns what it logged.
pub fn stop(bot: Child) -> String {
    let pid = bot.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = bot.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "bot exit {:?}: {log}", out.status);
    log
}
