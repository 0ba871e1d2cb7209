//! Asking learners' PEP services for their OMEMO device lists and bundles: one iq get per
//! question over the running connection, its answer matched by id, bounded in number and in
//! time, so that a learner's server that never answers holds up only that learner's turn.

use super::teach::ports::{Fetched, Pep};
use crate::xmpp::link::Command;
use crate::xmpp::omemo as elements;
use crate::xmpp::stanza::Outgoing;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::minidom::Element;

/// Questions waiting for an answer at once; more are refused at once.
pub const MAX_PENDING: usize = 1024;
/// How long an answer is waited for.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

type Answer = Result<Vec<Element>, String>;

/// The running bot's PEP questions.
pub struct PepQueries {
    out: mpsc::Sender<Command>,
    pending: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    next: AtomicU64,
}

impl PepQueries {
    /// Questions sent through `out`, the connection's command channel.
    pub fn new(out: mpsc::Sender<Command>) -> PepQueries {
        PepQueries {
            out,
            pending: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Answer>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The payloads of `node`'s items on `to`'s PEP service.
    async fn items(&self, to: &BareJid, node: &str) -> Fetched<Vec<Element>> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}{n}", elements::QUERY_ID_PREFIX);
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.pending();
            if pending.len() >= MAX_PENDING {
                return Err("too many PEP questions waiting".into());
            }
            pending.insert(id.clone(), tx);
        }
        let get = Command::Send(Outgoing::PepGet {
            id: id.clone(),
            to: to.clone(),
            node: node.to_owned(),
        });
        let answer = if self.out.send(get).await.is_err() {
            Err("the connection has stopped".to_owned())
        } else {
            match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
                Ok(Ok(a)) => a,
                Ok(Err(_)) => Err("the question was dropped".to_owned()),
                Err(_) => Err(format!("no answer within {ANSWER_TIMEOUT:?}")),
            }
        };
        self.pending().remove(&id);
        answer
    }
}

impl Pep for PepQueries {
    fn device_list<'a>(&'a self, jid: &'a BareJid) -> BoxFuture<'a, Fetched<Vec<u32>>> {
        Box::pin(async move {
            let items = self.items(jid, elements::DEVICE_LIST_NODE).await?;
            match items.into_iter().next() {
                Some(list) => elements::device_list_ids(list).map_err(|e| e.to_string()),
                None => Ok(Vec::new()),
            }
        })
    }

    fn bundle<'a>(
        &'a self,
        jid: &'a BareJid,
        device: u32,
    ) -> BoxFuture<'a, Fetched<omemo::Bundle>> {
        Box::pin(async move {
            let items = self.items(jid, &elements::bundle_node(device)).await?;
            let first = items.into_iter().next().ok_or("no bundle published")?;
            elements::bundle_from(first).map_err(|e| e.to_string())
        })
    }

    fn answer(&self, id: &str, answer: Result<Vec<Element>, String>) {
        if let Some(tx) = self.pending().remove(id) {
            let _ = tx.send(answer);
        }
    }
}
