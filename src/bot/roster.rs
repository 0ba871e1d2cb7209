//! Keeping the XMPP roster in line with the whitelist: whitelisted JIDs are befriended,
//! everyone else is refused and, if on the roster, removed.

use crate::store::Store;
use crate::xmpp::link::{add_jid, answer_subscription, Command};
use crate::xmpp::stanza::{Incoming, Outgoing};
use std::collections::BTreeSet;
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

/// The whitelisted learners whose subscription this roster push shows mutual ("both"): they
/// have just added the bot (a push comes only when an item changes).
pub fn now_mutual(store: &Store, i: &Incoming) -> Vec<BareJid> {
    let Incoming::RosterPush { items, .. } = i else {
        return Vec::new();
    };
    items
        .iter()
        .filter(|(jid, sub)| {
            *sub == Subscription::Both && matches!(store.whitelist_get(jid.as_str()), Ok(Some(_)))
        })
        .map(|(jid, _)| jid.clone())
        .collect()
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
}
