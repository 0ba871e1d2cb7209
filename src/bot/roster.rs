//! Keeping the XMPP roster in line with the whitelist: whitelisted JIDs are befriended,
//! everyone else is refused and, if on the roster, removed.

use crate::store::Store;
use crate::xmpp::link::{add_jid, answer_subscription, Command};
use crate::xmpp::stanza::{Incoming, Outgoing};
use std::collections::{BTreeSet, HashSet};
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::parsers::roster::Subscription;

/// Commands that make the roster match the whitelist.
pub fn reconcile(
    whitelist: &BTreeSet<BareJid>,
    roster: &[(BareJid, Subscription)],
) -> Vec<Command> {
    let mut cmds = Vec::new();
    for (jid, sub) in roster {
        if !whitelist.contains(jid) {
            cmds.push(Command::Send(Outgoing::RosterRemove(jid.clone())));
        } else if *sub != Subscription::Both {
            cmds.extend(add_jid(jid));
        }
    }
    let on_roster: BTreeSet<&BareJid> = roster.iter().map(|(j, _)| j).collect();
    for jid in whitelist.iter().filter(|j| !on_roster.contains(j)) {
        cmds.extend(add_jid(jid));
    }
    cmds
}

/// The whitelist as bare JIDs (entries that no longer parse are skipped with a warning).
pub fn whitelisted(store: &Store) -> BTreeSet<BareJid> {
    match store.whitelist() {
        Ok(list) => list
            .into_iter()
            .filter_map(|(jid, _)| match jid.parse() {
                Ok(j) => Some(j),
                Err(e) => {
                    tracing::warn!(%jid, error = %e, "whitelist entry is not a JID");
                    None
                }
            })
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the whitelist");
            BTreeSet::new()
        }
    }
}

/// Commands answering roster and subscription traffic; None when the event is not about them.
pub fn on_incoming(store: &Store, i: &Incoming) -> Option<Vec<Command>> {
    match i {
        Incoming::Roster { items } => Some(reconcile(&whitelisted(store), items)),
        Incoming::SubscribeRequest { from } => {
            let ok = matches!(store.whitelist_get(from.as_str()), Ok(Some(_)));
            if !ok {
                tracing::info!(jid = %from, "subscription refused: not whitelisted");
            }
            Some(answer_subscription(from, ok))
        }
        Incoming::Subscribed { .. }
        | Incoming::Unsubscribed { .. }
        | Incoming::RosterPush { .. } => Some(Vec::new()),
        _ => None,
    }
}

/// The roster items known to be mutual, so that a learner is greeted when the subscription
/// becomes mutual and not again for each later push that still says "both" (a server pushes
/// an item whenever any of its attributes changes: Prosody sent three for one befriending).
#[derive(Default)]
pub struct Mutual(HashSet<BareJid>);

/// The whitelisted learners whose subscription this roster push shows newly mutual ("both"):
/// they have just added the bot. An item no longer mutual is forgotten, so that adding the bot
/// again greets again.
pub fn now_mutual(store: &Store, i: &Incoming, known: &mut Mutual) -> Vec<BareJid> {
    let Incoming::RosterPush { items, .. } = i else {
        return Vec::new();
    };
    let mut newly = Vec::new();
    for (jid, sub) in items {
        if *sub != Subscription::Both {
            known.0.remove(jid);
        } else if matches!(store.whitelist_get(jid.as_str()), Ok(Some(_)))
            && known.0.insert(jid.clone())
        {
            newly.push(jid.clone());
        }
    }
    newly
}

/// Commands after the whitelist gained or lost a JID.
pub fn on_whitelist_change(jid: &str, added: bool) -> Vec<Command> {
    let Ok(jid) = jid.parse::<BareJid>() else {
        return Vec::new();
    };
    if added {
        add_jid(&jid)
    } else {
        vec![
            Command::Send(Outgoing::Unsubscribed(jid.clone())),
            Command::Send(Outgoing::RosterRemove(jid)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(s: &str) -> BareJid {
        s.parse().unwrap()
    }

    #[test]
    fn reconcile_adds_missing_and_removes_strangers() {
        let wl: BTreeSet<BareJid> = [j("a@x.org"), j("b@x.org")].into();
        let roster = vec![
            (j("a@x.org"), Subscription::Both),
            (j("c@x.org"), Subscription::Both),
        ];
        let cmds = reconcile(&wl, &roster);
        assert!(cmds.contains(&Command::Send(Outgoing::RosterRemove(j("c@x.org")))));
        assert!(cmds.contains(&Command::Send(Outgoing::Subscribe(j("b@x.org")))));
        assert!(!cmds
            .iter()
            .any(|c| matches!(c, Command::Send(Outgoing::Subscribe(x)) if *x == j("a@x.org"))));
    }

    #[test]
    fn half_subscribed_learner_is_asked_again() {
        let wl: BTreeSet<BareJid> = [j("a@x.org")].into();
        let cmds = reconcile(&wl, &[(j("a@x.org"), Subscription::From)]);
        assert!(cmds.contains(&Command::Send(Outgoing::Subscribe(j("a@x.org")))));
    }

    #[test]
    fn a_learner_is_newly_mutual_once_however_many_pushes_say_both() {
        use crate::store::{WhitelistEntry, WhitelistSource};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let entry = WhitelistEntry {
            locale: "en_GB".into(),
            source: WhitelistSource::Cli,
            added_at: 0,
        };
        store.whitelist_add("a@x.org", &entry).unwrap();
        let push = |sub| Incoming::RosterPush {
            id: "p".into(),
            items: vec![
                (j("a@x.org"), sub),
                (j("stranger@x.org"), Subscription::Both),
            ],
        };
        let mut known = Mutual::default();
        assert!(now_mutual(&store, &push(Subscription::To), &mut known).is_empty());
        assert_eq!(
            now_mutual(&store, &push(Subscription::Both), &mut known),
            [j("a@x.org")]
        );
        for _ in 0..3 {
            assert!(now_mutual(&store, &push(Subscription::Both), &mut known).is_empty());
        }
        // Removed and added again: greeted again.
        assert!(now_mutual(&store, &push(Subscription::Remove), &mut known).is_empty());
        assert_eq!(
            now_mutual(&store, &push(Subscription::Both), &mut known),
            [j("a@x.org")]
        );
    }
}
