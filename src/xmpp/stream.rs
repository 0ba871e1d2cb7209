//! The connection once logged in: tokio-xmpp's reconnecting stanza stream, used directly.
//!
//! Not `tokio_xmpp::Client`: in 6.0 its worker polls the stream through `try_lock` and returns
//! `Pending` without a waker whenever `send_stanza` holds the lock at that moment, after which
//! no incoming stanza is ever delivered again (seen with a handful of learners at once). One
//! owner of the `StanzaStream`, sending and receiving from the same task, has no such lock.

use core::pin::Pin;
use core::task::{Context, Poll};
use futures::Stream;
use tokio_xmpp::connect::ServerConnector;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::stream_features::StreamFeatures;
use tokio_xmpp::stanzastream::{Event as StreamItem, StanzaStream, StreamEvent};
use tokio_xmpp::{Event, Stanza};

/// How many stanzas may wait in each direction before the other side is pushed back.
const QUEUE_DEPTH: usize = 256;

/// A logged-in (and re-logging-in) XMPP connection: stanzas out, [`Event`]s in.
#[derive(Debug)]
pub struct Connection {
    stream: StanzaStream,
    online: Option<(Jid, StreamFeatures)>,
}

impl Connection {
    /// Starts connecting as `jid` through `connector`; reconnects with back-off for good.
    pub fn start<C: ServerConnector>(connector: C, jid: Jid, password: String) -> Connection {
        Connection {
            stream: StanzaStream::new_c2s(
                connector,
                jid,
                password,
                tokio_xmpp::xmlstream::Timeouts::default(),
                QUEUE_DEPTH,
            ),
            online: None,
        }
    }

    /// Queues `stanza` for sending (also while reconnecting).
    pub async fn send_stanza(&mut self, stanza: Stanza) -> Result<(), std::io::Error> {
        self.stream.send(Box::new(stanza)).await;
        Ok(())
    }

    /// Closes the stream cleanly.
    pub async fn send_end(self) -> Result<(), std::io::Error> {
        self.stream.close().await;
        Ok(())
    }
}

impl Stream for Connection {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        loop {
            let item = match Pin::new(&mut self.stream).poll_next(cx) {
                Poll::Ready(Some(item)) => item,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            };
            let ev = match item {
                StreamItem::Stanza(st) => Event::Stanza(st),
                StreamItem::Stream(StreamEvent::Reset {
                    bound_jid,
                    features,
                }) => {
                    self.online = Some((bound_jid.clone(), features.clone()));
                    Event::Online {
                        bound_jid,
                        features,
                        resumed: false,
                    }
                }
                StreamItem::Stream(StreamEvent::Resumed) => match &self.online {
                    Some((bound_jid, features)) => Event::Online {
                        bound_jid: bound_jid.clone(),
                        features: features.clone(),
                        resumed: true,
                    },
                    None => continue,
                },
                StreamItem::Stream(StreamEvent::Suspended) => {
                    Event::Disconnected(tokio_xmpp::Error::Disconnected)
                }
            };
            return Poll::Ready(Some(ev));
        }
    }
}
