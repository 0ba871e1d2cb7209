//! The whitelist: who may talk to the bot, in which locale.

use super::error::{from_tx, Error, Result};
use super::model::{WhitelistEntry, WhitelistSource};
use super::trees::WHITELIST;
use super::{codec, dec, enc, Store};
use std::collections::BTreeMap;

impl Store {
    /// Adds or replaces the entry for `jid`; true if it was not there before.
    pub fn whitelist_add(&self, jid: &str, entry: &WhitelistEntry) -> Result<bool> {
        let value = codec::encode(entry)?;
        let old = self.t.whitelist.insert(jid.as_bytes(), value.as_slice())?;
        if self.opts.flush_every_write {
            self.t.whitelist.flush()?;
        }
        Ok(old.is_none())
    }

    /// Removes `jid`; true if it was there.
    pub fn whitelist_remove(&self, jid: &str) -> Result<bool> {
        let old = self.t.whitelist.remove(jid.as_bytes())?;
        if self.opts.flush_every_write {
            self.t.whitelist.flush()?;
        }
        Ok(old.is_some())
    }

    /// The entry for `jid`, if it is whitelisted.
    pub fn whitelist_get(&self, jid: &str) -> Result<Option<WhitelistEntry>> {
        self.t
            .whitelist
            .get(jid.as_bytes())?
            .map(|v| codec::decode(WHITELIST, &v))
            .transpose()
    }

    /// Every entry, in JID order.
    pub fn whitelist(&self) -> Result<Vec<(String, WhitelistEntry)>> {
        self.t
            .whitelist
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                let jid = String::from_utf8(k.to_vec()).map_err(|_| Error::Decode {
                    tree: WHITELIST,
                    reason: "JID is not UTF-8".into(),
                })?;
                Ok((jid, codec::decode(WHITELIST, &v)?))
            })
            .collect()
    }

    /// Makes the settings-sourced entries match `settings` (JID → locale) in one transaction:
    /// adds new ones, updates locales, removes those no longer listed. Entries from the CLI
    /// or LTI are left alone, unless the settings list the same JID (settings win).
    /// Returns (added or changed, removed).
    pub fn seed_whitelist(
        &self,
        settings: &BTreeMap<String, String>,
        now: u64,
    ) -> Result<(usize, usize)> {
        let stale: Vec<String> = self
            .whitelist()?
            .into_iter()
            .filter(|(jid, e)| e.source == WhitelistSource::Settings && !settings.contains_key(jid))
            .map(|(jid, _)| jid)
            .collect();
        self.t
            .whitelist
            .transaction(|wl| {
                let mut changed = 0;
                for (jid, locale) in settings {
                    let old: Option<WhitelistEntry> = wl
                        .get(jid.as_bytes())?
                        .map(|v| dec(WHITELIST, &v))
                        .transpose()?;
                    if old.as_ref().is_some_and(|o| {
                        o.source == WhitelistSource::Settings && &o.locale == locale
                    }) {
                        continue;
                    }
                    let entry = WhitelistEntry {
                        locale: locale.clone(),
                        source: WhitelistSource::Settings,
                        added_at: old.map_or(now, |o| o.added_at),
                    };
                    wl.insert(jid.as_bytes(), enc(&entry)?.as_slice())?;
                    changed += 1;
                }
                let mut removed = 0;
                for jid in &stale {
                    let Some(v) = wl.get(jid.as_bytes())? else {
                        continue;
                    };
                    let e: WhitelistEntry = dec(WHITELIST, &v)?;
                    if e.source == WhitelistSource::Settings {
                        wl.remove(jid.as_bytes())?;
                        removed += 1;
                    }
                }
                self.durable(wl);
                Ok((changed, removed))
            })
            .map_err(from_tx)
    }
}
