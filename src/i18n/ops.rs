//! The catalogue workflow behind `otrbot init`, `update` and `compile` (pure functions).

use super::po::{header_text, Catalog, Entry};

/// The `Plural-Forms` header for a locale's language (the germanic rule when unknown).
pub fn plural_forms_for(locale: &str) -> &'static str {
    let lang = locale.split(['_', '-', '.']).next().unwrap_or(locale);
    match lang {
        "fr" | "tr" => "nplurals=2; plural=(n > 1);",
        "ja" | "ko" | "zh" | "vi" | "th" | "id" => "nplurals=1; plural=0;",
        "ru" | "uk" | "be" | "sr" | "hr" | "bs" => {
            "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);"
        }
        "pl" => "nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
        "cs" | "sk" => "nplurals=3; plural=((n==1) ? 0 : (n>=2 && n<=4) ? 1 : 2);",
        _ => "nplurals=2; plural=(n != 1);",
    }
}

fn nplurals(cat: &Catalog) -> usize {
    cat.header_field("Plural-Forms")
        .and_then(|h| super::plural::PluralForms::parse(&h).ok())
        .map_or(2, |p| p.nplurals)
}

/// A new catalogue for `locale` from a template; English locales start translated.
pub fn init(pot: &Catalog, locale: &str, date: &str) -> Catalog {
    let mut cat = Catalog::default();
    let mut header = Entry::new("");
    header.comments = vec![format!("{locale} translation of otrbot.")];
    header.msgstr = vec![header_text(locale, plural_forms_for(locale), date)];
    cat.entries.push(header);
    let n = nplurals(&cat);
    let english = locale.starts_with("en");
    for e in pot.messages() {
        let mut e = e.clone();
        e.set_fuzzy(false);
        e.previous = None;
        e.msgstr = match (&e.msgid_plural, english) {
            (None, false) => vec![String::new()],
            (None, true) => vec![e.msgid.clone()],
            (Some(_), false) => vec![String::new(); n],
            (Some(p), true) => (0..n)
                .map(|i| if i == 0 { e.msgid.clone() } else { p.clone() })
                .collect(),
        };
        cat.entries.push(e);
    }
    cat
}

/// How alike two texts are, from 0 (nothing shared) to 1 (equal), by words.
fn similarity(a: &str, b: &str) -> f64 {
    let a: Vec<&str> = a.split_whitespace().collect();
    let b: Vec<&str> = b.split_whitespace().collect();
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    // Longest common subsequence of words.
    let mut row = vec![0usize; b.len() + 1];
    for wa in &a {
        let mut prev = 0;
        for (j, wb) in b.iter().enumerate() {
            let old = row[j + 1];
            row[j + 1] = if wa == wb {
                prev + 1
            } else {
                row[j + 1].max(row[j])
            };
            prev = old;
        }
    }
    2.0 * row[b.len()] as f64 / (a.len() + b.len()) as f64
}

/// Merges a translated catalogue with a new template: translations are kept, changed
/// messages get the nearest old translation marked fuzzy, messages gone become obsolete.
pub fn update(po: &Catalog, pot: &Catalog) -> Catalog {
    let mut out = Catalog::default();
    if let Some(h) = po.header() {
        out.entries.push(h.clone());
    }
    let n = nplurals(po);
    let old: Vec<&Entry> = po.messages().collect();
    let mut used = vec![false; old.len()];
    for t in pot.messages() {
        let mut e = t.clone();
        e.set_fuzzy(false);
        e.previous = None;
        let blank = if e.msgid_plural.is_some() { n } else { 1 };
        e.msgstr = vec![String::new(); blank];
        if let Some(i) = old.iter().position(|o| o.key() == t.key()) {
            used[i] = true;
            let o = old[i];
            e.comments = o.comments.clone();
            if o.msgid_plural == t.msgid_plural {
                e.msgstr = o.msgstr.clone();
                e.flags = o.flags.clone();
                e.previous = o.previous.clone();
            } else if o.is_translated() {
                e.msgstr = vec![o.msgstr[0].clone(); blank];
                e.set_fuzzy(true);
            }
        } else if let Some((i, _)) = old
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                o.is_translated() && o.msgid_plural.is_some() == t.msgid_plural.is_some()
            })
            .map(|(i, o)| (i, similarity(&o.msgid, &t.msgid)))
            .filter(|&(_, s)| s >= 0.6)
            .max_by(|a, b| a.1.total_cmp(&b.1))
        {
            let o = old[i];
            e.msgstr = o.msgstr.clone();
            e.msgstr.resize(blank, String::new());
            e.previous = Some(o.msgid.clone());
            e.set_fuzzy(true);
        }
        out.entries.push(e);
    }
    for (i, o) in old.iter().enumerate() {
        if !used[i] && o.is_translated() {
            let mut gone = (*o).clone();
            gone.obsolete = true;
            gone.references.clear();
            gone.extracted.clear();
            gone.previous = None;
            out.entries.push(gone);
        }
    }
    // Obsolete entries kept from before, unless they came back.
    for o in po.entries.iter().filter(|e| e.obsolete) {
        if !out.entries.iter().any(|e| e.key() == o.key()) {
            out.entries.push(o.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pot(ids: &[&str]) -> Catalog {
        let mut c = Catalog::default();
        for id in ids {
            let mut e = Entry::new(id);
            e.references = vec![format!("src/x.rs:{}", id.len())];
            c.entries.push(e);
        }
        c
    }

    #[test]
    fn init_and_update_keep_translations_and_mark_changes_fuzzy() {
        let p1 = pot(&[
            "Hello there, learner.",
            "Start a private conversation now.",
            "Gone soon",
        ]);
        let mut nl = init(&p1, "nl_NL", "2026-01-01 00:00+0000");
        assert_eq!(nl.header_field("Language").as_deref(), Some("nl_NL"));
        for (e, t) in nl.entries.iter_mut().skip(1).zip([
            "Hallo daar.",
            "Begin nu een privégesprek.",
            "Zo weg",
        ]) {
            e.msgstr = vec![t.into()];
        }
        let p2 = pot(&[
            "Hello there, learner.",
            "Start a private conversation now, please.",
            "Brand new",
        ]);
        let up = update(&nl, &p2);
        let by = |id: &str| up.entries.iter().find(|e| e.msgid == id).unwrap().clone();
        assert_eq!(by("Hello there, learner.").msgstr, ["Hallo daar."]);
        assert!(!by("Hello there, learner.").is_fuzzy());
        let changed = by("Start a private conversation now, please.");
        assert!(changed.is_fuzzy());
        assert_eq!(changed.msgstr, ["Begin nu een privégesprek."]);
        assert_eq!(
            changed.previous.as_deref(),
            Some("Start a private conversation now.")
        );
        assert!(!by("Brand new").is_translated());
        assert!(by("Gone soon").obsolete);
        assert_eq!(up.messages().count(), 3);
    }

    #[test]
    fn english_starts_translated_and_plurals_get_every_form() {
        let mut p = pot(&["One"]);
        let mut pl = Entry::new("{n} minute");
        pl.msgid_plural = Some("{n} minutes".into());
        p.entries.push(pl);
        let en = init(&p, "en_GB", "2026-01-01 00:00+0000");
        assert!(en.messages().all(Entry::is_translated));
        assert_eq!(en.entries[2].msgstr, ["{n} minute", "{n} minutes"]);
        let ru = init(&p, "ru_RU", "2026-01-01 00:00+0000");
        assert_eq!(ru.entries[2].msgstr.len(), 3);
    }

    #[test]
    fn similarity_is_by_words() {
        assert_eq!(similarity("a b c", "a b c"), 1.0);
        assert_eq!(similarity("", "a"), 0.0);
        assert!(similarity("a b c d", "a b c e") >= 0.6);
        assert!(similarity("a b", "c d") < 0.1);
    }
}
