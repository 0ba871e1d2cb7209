//! Reading and writing gettext `.po` / `.pot` files (the subset otrbot uses).

use thiserror::Error;

/// A parse failure, with the 1-based line number.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("line {line}: {reason}")]
pub struct PoError {
    /// The line where parsing failed.
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

/// One message of a catalogue (the header is the entry whose msgid is empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// Translator comments (`# ...`).
    pub comments: Vec<String>,
    /// Extracted comments (`#. ...`).
    pub extracted: Vec<String>,
    /// Source references (`#: file:line`).
    pub references: Vec<String>,
    /// Flags (`#, fuzzy`).
    pub flags: Vec<String>,
    /// The previous msgid of a fuzzy entry (`#| msgid ...`).
    pub previous: Option<String>,
    /// Optional message context.
    pub msgctxt: Option<String>,
    /// The English source text.
    pub msgid: String,
    /// The English plural text, for plural entries.
    pub msgid_plural: Option<String>,
    /// The translations (one, or one per plural form).
    pub msgstr: Vec<String>,
    /// An obsolete entry, written as `#~` lines.
    pub obsolete: bool,
}

impl Entry {
    /// A new untranslated entry.
    pub fn new(msgid: &str) -> Self {
        Entry {
            msgid: msgid.into(),
            msgstr: vec![String::new()],
            ..Entry::default()
        }
    }

    /// Whether the entry is marked fuzzy.
    pub fn is_fuzzy(&self) -> bool {
        self.flags.iter().any(|f| f == "fuzzy")
    }

    /// Sets or clears the fuzzy flag.
    pub fn set_fuzzy(&mut self, on: bool) {
        self.flags.retain(|f| f != "fuzzy");
        if on {
            self.flags.insert(0, "fuzzy".into());
        }
    }

    /// Whether every msgstr is non-empty.
    pub fn is_translated(&self) -> bool {
        !self.msgstr.is_empty() && self.msgstr.iter().all(|s| !s.is_empty())
    }

    /// The key that identifies the message (context and msgid).
    pub fn key(&self) -> (Option<&str>, &str) {
        (self.msgctxt.as_deref(), &self.msgid)
    }
}

/// A whole catalogue: the header entry (if any) and the messages, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog {
    /// All entries, the header first when present.
    pub entries: Vec<Entry>,
}

impl Catalog {
    /// An empty catalogue for `locale` with a complete header (for tests and `init`).
    pub fn new_header(locale: &str, plural_forms: &str) -> Self {
        let mut header = Entry::new("");
        header.msgstr = vec![header_text(locale, plural_forms, "2026-01-01 00:00+0000")];
        Catalog {
            entries: vec![header],
        }
    }

    /// The header entry (msgid ""), if present.
    pub fn header(&self) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.msgid.is_empty() && e.msgctxt.is_none() && !e.obsolete)
    }

    /// A field of the header, such as `Plural-Forms`.
    pub fn header_field(&self, name: &str) -> Option<String> {
        let h = self.header()?.msgstr.first()?;
        h.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_owned())
        })
    }

    /// The messages that are neither the header nor obsolete.
    pub fn messages(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| !e.obsolete && (!e.msgid.is_empty() || e.msgctxt.is_some()))
    }

    /// Parses the text of a .po or .pot file.
    pub fn parse(text: &str) -> Result<Self, PoError> {
        Parser::default().run(text)
    }

    /// Writes the catalogue as .po text.
    pub fn write(&self) -> String {
        let mut out = String::new();
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            write_entry(&mut out, e);
        }
        out
    }
}

/// The header text of a catalogue for `locale`.
pub fn header_text(locale: &str, plural_forms: &str, date: &str) -> String {
    format!(
        "Project-Id-Version: otrbot\n\
         Report-Msgid-Bugs-To: \n\
         POT-Creation-Date: {date}\n\
         PO-Revision-Date: {date}\n\
         Last-Translator: otrbot translators <translators@otrbot.invalid>\n\
         Language-Team: {locale} <translators@otrbot.invalid>\n\
         Language: {locale}\n\
         MIME-Version: 1.0\n\
         Content-Type: text/plain; charset=UTF-8\n\
         Content-Transfer-Encoding: 8bit\n\
         Plural-Forms: {plural_forms}\n"
    )
}

fn write_entry(out: &mut String, e: &Entry) {
    for c in &e.comments {
        out.push_str(if c.is_empty() { "#" } else { "# " });
        out.push_str(c);
        out.push('\n');
    }
    for c in &e.extracted {
        out.push_str("#. ");
        out.push_str(c);
        out.push('\n');
    }
    for r in &e.references {
        out.push_str("#: ");
        out.push_str(r);
        out.push('\n');
    }
    if !e.flags.is_empty() {
        out.push_str("#, ");
        out.push_str(&e.flags.join(", "));
        out.push('\n');
    }
    let prefix = if e.obsolete { "#~ " } else { "" };
    if let Some(p) = &e.previous {
        write_field(out, "#| ", "msgid", p);
    }
    if let Some(c) = &e.msgctxt {
        write_field(out, prefix, "msgctxt", c);
    }
    write_field(out, prefix, "msgid", &e.msgid);
    if let Some(p) = &e.msgid_plural {
        write_field(out, prefix, "msgid_plural", p);
        for (i, s) in e.msgstr.iter().enumerate() {
            write_field(out, prefix, &format!("msgstr[{i}]"), s);
        }
    } else {
        let s = e.msgstr.first().map(String::as_str).unwrap_or("");
        write_field(out, prefix, "msgstr", s);
    }
}

fn write_field(out: &mut String, prefix: &str, keyword: &str, value: &str) {
    let lines: Vec<&str> = value.split_inclusive('\n').collect();
    if lines.len() <= 1 {
        out.push_str(&format!("{prefix}{keyword} \"{}\"\n", escape(value)));
    } else {
        out.push_str(&format!("{prefix}{keyword} \"\"\n"));
        for l in lines {
            out.push_str(&format!("{prefix}\"{}\"\n", escape(l)));
        }
    }
}

/// Escapes a string for a PO file.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(s: &str, line: usize) -> Result<String, PoError> {
    let err = |reason: &str| PoError {
        line,
        reason: reason.into(),
    };
    let inner = s
        .trim()
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(|| err("expected a quoted string"))?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                _ => return Err(err("unknown escape")),
            },
            '"' => return Err(err("unescaped quote")),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Ctxt,
    Id,
    Plural,
    Str(usize),
    Previous,
}

#[derive(Default)]
struct Parser {
    cat: Catalog,
    cur: Entry,
    field: Option<Field>,
    has_msgid: bool,
}

impl Parser {
    fn flush(&mut self) {
        if self.has_msgid {
            let e = std::mem::take(&mut self.cur);
            self.cat.entries.push(e);
        }
        self.cur = Entry::default();
        self.field = None;
        self.has_msgid = false;
    }

    fn append(&mut self, field: Field, s: &str) {
        let e = &mut self.cur;
        let target = match field {
            Field::Ctxt => e.msgctxt.get_or_insert_with(String::new),
            Field::Id => &mut e.msgid,
            Field::Plural => e.msgid_plural.get_or_insert_with(String::new),
            Field::Previous => e.previous.get_or_insert_with(String::new),
            Field::Str(i) => {
                if e.msgstr.len() <= i {
                    e.msgstr.resize(i + 1, String::new());
                }
                &mut e.msgstr[i]
            }
        };
        target.push_str(s);
    }

    fn run(mut self, text: &str) -> Result<Catalog, PoError> {
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let mut l = raw.trim();
            if l.is_empty() {
                continue;
            }
            let mut obsolete = false;
            if let Some(r) = l.strip_prefix("#~") {
                obsolete = true;
                l = r.trim_start();
            } else if let Some(r) = l.strip_prefix("#|") {
                let r = r.trim_start();
                if self.has_msgid {
                    self.flush();
                }
                if let Some(v) = r.strip_prefix("msgid ") {
                    self.cur.previous = Some(unescape(v, line)?);
                    self.field = Some(Field::Previous);
                } else if r.starts_with('"') && self.field == Some(Field::Previous) {
                    self.append(Field::Previous, &unescape(r, line)?);
                }
                continue;
            } else if let Some(r) = l.strip_prefix('#') {
                if self.has_msgid {
                    self.flush();
                }
                let (kind, body) = r.split_at(r.chars().next().map_or(0, char::len_utf8));
                let body = body.trim().to_owned();
                match kind {
                    "." => self.cur.extracted.push(body),
                    ":" => self
                        .cur
                        .references
                        .extend(body.split_whitespace().map(String::from)),
                    "," => self.cur.flags.extend(
                        body.split(',')
                            .map(|f| f.trim().to_owned())
                            .filter(|f| !f.is_empty()),
                    ),
                    _ => self.cur.comments.push(r.trim().to_owned()),
                }
                continue;
            }
            if l.starts_with('"') {
                let f = self.field.ok_or(PoError {
                    line,
                    reason: "string outside any field".into(),
                })?;
                self.append(f, &unescape(l, line)?);
                continue;
            }
            let (kw, rest) = l.split_once(' ').ok_or(PoError {
                line,
                reason: format!("cannot read {l:?}"),
            })?;
            let value = unescape(rest, line)?;
            let field = match kw {
                "msgctxt" => {
                    if self.has_msgid {
                        self.flush();
                    }
                    Field::Ctxt
                }
                "msgid" => {
                    if self.has_msgid {
                        self.flush();
                    }
                    self.has_msgid = true;
                    self.cur.msgstr.clear();
                    Field::Id
                }
                "msgid_plural" => Field::Plural,
                "msgstr" => Field::Str(0),
                _ => match kw
                    .strip_prefix("msgstr[")
                    .and_then(|r| r.strip_suffix(']'))
                    .and_then(|i| i.parse::<usize>().ok())
                    .filter(|&i| i < 16)
                {
                    Some(i) => Field::Str(i),
                    None => {
                        return Err(PoError {
                            line,
                            reason: format!("unknown keyword {kw}"),
                        })
                    }
                },
            };
            if !self.has_msgid && !matches!(field, Field::Ctxt) {
                return Err(PoError {
                    line,
                    reason: format!("{kw} before msgid"),
                });
            }
            self.cur.obsolete = obsolete;
            if let Field::Str(i) = field {
                if self.cur.msgstr.len() <= i {
                    self.cur.msgstr.resize(i + 1, String::new());
                }
            }
            self.field = Some(field);
            self.append(field, &value);
        }
        self.flush();
        Ok(self.cat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"# Dutch translation.
msgid ""
msgstr ""
"Language: nl_NL\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

#. a note
#: src/lesson/msg.rs:10 src/x.rs:2
#, fuzzy
#| msgid "Helo"
msgid "Hello \"you\"\n"
"second line"
msgstr "Hallo \"jij\"\n"
"tweede regel"

msgid "{n} file"
msgid_plural "{n} files"
msgstr[0] "{n} bestand"
msgstr[1] "{n} bestanden"

#~ msgid "Old"
#~ msgstr "Oud"
"#;

    #[test]
    fn parse_and_write_round_trip() {
        let c = Catalog::parse(SAMPLE).unwrap();
        assert_eq!(c.entries.len(), 4);
        assert_eq!(c.header_field("Language").as_deref(), Some("nl_NL"));
        let e = &c.entries[1];
        assert_eq!(e.msgid, "Hello \"you\"\nsecond line");
        assert_eq!(e.msgstr, ["Hallo \"jij\"\ntweede regel"]);
        assert!(e.is_fuzzy());
        assert_eq!(e.previous.as_deref(), Some("Helo"));
        assert_eq!(e.references, ["src/lesson/msg.rs:10", "src/x.rs:2"]);
        assert_eq!(e.extracted, ["a note"]);
        assert_eq!(c.entries[2].msgstr.len(), 2);
        assert!(c.entries[3].obsolete);
        assert_eq!(c.messages().count(), 2);
        let again = Catalog::parse(&c.write()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn errors_are_typed() {
        for bad in [
            "msgstr \"x\"",
            "msgid x",
            "\"dangling\"",
            "msgid \"a\\q\"",
            "msgfoo \"x\"",
            "msgid \"a\"\nmsgstr[99] \"\"",
        ] {
            assert!(Catalog::parse(bad).is_err(), "{bad}");
        }
    }
}
