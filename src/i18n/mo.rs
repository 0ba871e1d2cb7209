//! Compiling a catalogue to the binary `.mo` format (as GNU msgfmt does, without a hash table).

use super::po::Catalog;

/// The `.mo` bytes of `cat`: translated, non-fuzzy, non-obsolete entries, sorted by msgid.
pub fn compile(cat: &Catalog) -> Vec<u8> {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = cat
        .entries
        .iter()
        .filter(|e| !e.obsolete && !e.is_fuzzy() && e.is_translated())
        .map(|e| {
            let mut key = Vec::new();
            if let Some(c) = &e.msgctxt {
                key.extend_from_slice(c.as_bytes());
                key.push(4);
            }
            key.extend_from_slice(e.msgid.as_bytes());
            if let Some(p) = &e.msgid_plural {
                key.push(0);
                key.extend_from_slice(p.as_bytes());
            }
            let value = e.msgstr.join("\0").into_bytes();
            (key, value)
        })
        .collect();
    pairs.sort();
    pairs.dedup_by(|a, b| a.0 == b.0);

    let n = pairs.len();
    let orig_table = 28;
    let trans_table = orig_table + 8 * n;
    let mut data_at = trans_table + 8 * n;
    let mut out = Vec::new();
    let push = |out: &mut Vec<u8>, v: usize| out.extend_from_slice(&(v as u32).to_le_bytes());
    for v in [0x9504_12de, 0, n, orig_table, trans_table, 0, data_at] {
        push(&mut out, v);
    }
    let mut blobs = Vec::new();
    for which in 0..2 {
        for (k, v) in &pairs {
            let s = if which == 0 { k } else { v };
            push(&mut out, s.len());
            push(&mut out, data_at);
            data_at += s.len() + 1;
            blobs.extend_from_slice(s);
            blobs.push(0);
        }
    }
    out.extend_from_slice(&blobs);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::po::{Catalog, Entry};

    #[test]
    fn leaves_out_fuzzy_and_untranslated() {
        let mut c = Catalog::new_header("nl_NL", "nplurals=2; plural=(n != 1);");
        let mut ok = Entry::new("Hello");
        ok.msgstr = vec!["Hallo".into()];
        let mut fuzzy = Entry::new("Bye");
        fuzzy.msgstr = vec!["Doei".into()];
        fuzzy.set_fuzzy(true);
        c.entries.extend([ok, fuzzy, Entry::new("Empty")]);
        let mo = compile(&c);
        assert_eq!(&mo[..4], &[0xde, 0x12, 0x04, 0x95]);
        assert_eq!(u32::from_le_bytes([mo[8], mo[9], mo[10], mo[11]]), 2);
        let cat = gettext::Catalog::parse(&mo[..]).unwrap();
        assert_eq!(cat.gettext("Hello"), "Hallo");
        assert_eq!(cat.gettext("Bye"), "Bye");
    }
}
