//! A TCP relay in front of the loopback Prosody that a test can cut, to drop the bot's
//! connection the way a broken network would.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A relay from a local port to `127.0.0.1:<target>`.
pub struct Relay {
    /// The port clients connect to.
    pub port: u16,
    /// Connections accepted so far.
    accepted: Arc<AtomicU32>,
    /// While false, new connections are closed at once.
    open: Arc<AtomicBool>,
    /// Bumped to drop every connection that is relayed now.
    cut: watch::Sender<u32>,
}

impl Relay {
    /// Starts relaying to `target` on the current tokio runtime.
    pub async fn start(target: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicU32::new(0));
        let open = Arc::new(AtomicBool::new(true));
        let (cut, _) = watch::channel(0u32);
        let (a, o, c) = (accepted.clone(), open.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !o.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection closed
                }
                a.fetch_add(1, Ordering::SeqCst);
                let mut cut = c.subscribe();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Relay {
            port,
            accepted,
            open,
            cut,
        }
    }

    /// How many connections have been relayed.
    pub fn accepted(&self) -> u32 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Drops every relayed connection and, while `refuse` is set, every new one.
    pub fn cut(&self, refuse: bool) {
        self.open.store(!refuse, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Accepts new connections again.
    pub fn reopen(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}
