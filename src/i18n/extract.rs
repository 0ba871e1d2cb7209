//! `otrbot extract`: msgids from `tr!`/`trn!` markers in Rust sources and from
//! `t(msg="...")` / `tn(msg="...", plural="...")` calls in Tera templates.

use super::po::{Catalog, Entry};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A message found in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The English text.
    pub msgid: String,
    /// The English plural, for plural messages.
    pub plural: Option<String>,
    /// `path:line` where it was found.
    pub reference: String,
}

/// Why extraction failed.
#[derive(Debug, Error)]
pub enum ExtractError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A marker whose argument is not a plain string literal.
    #[error("{0}: the marker needs a plain string literal")]
    NotALiteral(String),
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at].bytes().filter(|&b| b == b'\n').count() + 1
}

/// Reads a Rust string literal at the start of `s`; returns the value and its length.
fn rust_literal(s: &str) -> Option<(String, usize)> {
    let mut chars = s.char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                '\'' => out.push('\''),
                '\n' => {
                    // Line continuation: skip the following whitespace.
                    let rest = chars.as_str();
                    let skip = rest.len() - rest.trim_start().len();
                    for _ in 0..rest[..skip].chars().count() {
                        chars.next();
                    }
                }
                'u' => {
                    let rest = chars.as_str();
                    let close = rest.find('}')?;
                    let hex = rest.get(1..close)?;
                    out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
                    for _ in 0..=close {
                        chars.next();
                    }
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None
}

/// Finds `tr!("...")` and `trn!("...", "...")` in Rust source text.
pub fn scan_rust(text: &str, path: &str) -> Result<Vec<Found>, ExtractError> {
    let mut found = Vec::new();
    for (marker, plural) in [(concat!("tr", "!("), false), (concat!("trn", "!("), true)] {
        let mut from = 0;
        while let Some(pos) = text[from..].find(marker).map(|p| p + from) {
            from = pos + marker.len();
            let before = text[..pos].chars().next_back();
            let line_start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
            let in_comment = text[line_start..pos].contains("//");
            if in_comment || before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let reference = format!("{path}:{}", line_of(text, pos));
            let rest = text[from..].trim_start();
            let (msgid, len) =
                rust_literal(rest).ok_or_else(|| ExtractError::NotALiteral(reference.clone()))?;
            let plural = if plural {
                let after = rest[len..].trim_start().strip_prefix(',').unwrap_or("");
                Some(
                    rust_literal(after.trim_start())
                        .ok_or_else(|| ExtractError::NotALiteral(reference.clone()))?
                        .0,
                )
            } else {
                None
            };
            found.push(Found {
                msgid,
                plural,
                reference,
            });
        }
    }
    found.sort_by_key(|f| line_number(&f.reference));
    Ok(found)
}

fn line_number(reference: &str) -> usize {
    reference
        .rsplit(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Reads a Tera string literal ("...", '...' or `...`) at the start of `s`.
fn tera_literal(s: &str) -> Option<(String, usize)> {
    let q = s.chars().next().filter(|c| matches!(c, '"' | '\'' | '`'))?;
    let end = s[1..].find(q)?;
    Some((s[1..1 + end].to_owned(), end + 2))
}

/// Where a call's arguments end: the first `)` outside a quoted string.
fn args_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'' | '`') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ')') => return Some(i),
            _ => {}
        }
    }
    None
}

/// Finds `t(msg="...")` and `tn(msg="...", plural="...")` in a Tera template.
pub fn scan_template(text: &str, path: &str) -> Result<Vec<Found>, ExtractError> {
    let mut found = Vec::new();
    for marker in ["t(", "tn("] {
        let mut from = 0;
        while let Some(pos) = text[from..].find(marker).map(|p| p + from) {
            from = pos + marker.len();
            let before = text[..pos].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let args = &text[from..];
            let Some(close) = args_end(args) else {
                continue;
            };
            let args = &args[..close];
            let arg = |name: &str| -> Option<String> {
                let mut rest = args;
                loop {
                    let i = rest.find(name)?;
                    let after = rest[i + name.len()..].trim_start();
                    if let Some(v) = after.strip_prefix('=') {
                        return tera_literal(v.trim_start()).map(|x| x.0);
                    }
                    rest = &rest[i + name.len()..];
                }
            };
            let Some(msgid) = arg("msg") else { continue };
            let plural = if marker == "tn(" { arg("plural") } else { None };
            found.push(Found {
                msgid,
                plural,
                reference: format!("{path}:{}", line_of(text, pos)),
            });
        }
    }
    found.sort_by_key(|f| line_number(&f.reference));
    Ok(found)
}

fn walk(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) -> Result<(), ExtractError> {
    let io = |source| ExtractError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            walk(&p, suffix, out)?;
        } else if p.to_string_lossy().ends_with(suffix) {
            out.push(p);
        }
    }
    Ok(())
}

/// Everything `otrbot extract` finds under `root`: its `src/`, the workspace crates'
/// `crates/*/src/` (the lesson's messages) and `templates/`.
pub fn extract_tree(root: &Path) -> Result<Vec<Found>, ExtractError> {
    let mut found = Vec::new();
    let mut dirs = vec![("src".to_owned(), ".rs", true)];
    if let Ok(crates) = std::fs::read_dir(root.join("crates")) {
        let mut names: Vec<String> = crates
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        dirs.extend(
            names
                .into_iter()
                .map(|n| (format!("crates/{n}/src"), ".rs", true)),
        );
    }
    dirs.push(("templates".to_owned(), ".tera", false));
    for (sub, suffix, rust) in dirs {
        let dir = root.join(sub);
        if !dir.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        walk(&dir, suffix, &mut files)?;
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|source| ExtractError::Io {
                path: f.clone(),
                source,
            })?;
            let rel = f
                .strip_prefix(root)
                .unwrap_or(&f)
                .to_string_lossy()
                .replace('\\', "/");
            found.extend(if rust {
                scan_rust(&text, &rel)?
            } else {
                scan_template(&text, &rel)?
            });
        }
    }
    Ok(found)
}

/// A template catalogue (.pot) from found messages, merging duplicates' references.
pub fn to_pot(found: &[Found], date: &str) -> Catalog {
    let mut cat = Catalog::default();
    let mut header = Entry::new("");
    header.comments = vec!["Messages of otrbot (generated by `otrbot extract`).".into()];
    header.msgstr = vec![format!(
        "Project-Id-Version: otrbot\nReport-Msgid-Bugs-To: \nPOT-Creation-Date: {date}\n\
         MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\
         Content-Transfer-Encoding: 8bit\n"
    )];
    cat.entries.push(header);
    for f in found {
        if let Some(e) = cat.entries.iter_mut().skip(1).find(|e| e.msgid == f.msgid) {
            if !e.references.contains(&f.reference) {
                e.references.push(f.reference.clone());
            }
            if e.msgid_plural.is_none() {
                e.msgid_plural.clone_from(&f.plural);
            }
            continue;
        }
        let mut e = Entry::new(&f.msgid);
        e.msgid_plural.clone_from(&f.plural);
        if e.msgid_plural.is_some() {
            e.msgstr = vec![String::new(), String::new()];
        }
        e.references.push(f.reference.clone());
        cat.entries.push(e);
    }
    cat
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_markers() {
        let src = concat!(
            "let a = tr",
            "!(\"Hello \\\"you\\\"\\n\");\n",
            "let b = tr",
            "!(\n  \"Long \\\n   text \\u{e9}\");\n",
            "let c = trn",
            "!(\"{n} minute\", \"{n} minutes\");\n",
            "let d = xtr",
            "!(\"not me\");\n",
            "/// see `tr",
            "!(\"doc\")`\n",
        );
        let f = scan_rust(src, "src/a.rs").unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].msgid, "Hello \"you\"\n");
        assert_eq!(f[0].reference, "src/a.rs:1");
        assert_eq!(f[1].msgid, "Long text é");
        assert_eq!(f[2].plural.as_deref(), Some("{n} minutes"));
        assert_eq!(f[2].reference, "src/a.rs:5");
        assert!(scan_rust(concat!("tr", "!(x)"), "s").is_err());
    }

    #[test]
    fn template_markers() {
        let t = "<h1>{{ t(msg=\"Welcome\") }}</h1>\n{{ tn(msg='{n} try', plural='{n} tries', n=k) }}\n{{ x.t(msg=\"no\") }} {{ t( msg = \"Spaced\" ) }}\n{{ t(msg=\"Bracket (see below)\") }}";
        let f = scan_template(t, "templates/a.html.tera").unwrap();
        let ids: Vec<_> = f.iter().map(|f| f.msgid.as_str()).collect();
        assert_eq!(ids, ["Welcome", "{n} try", "Spaced", "Bracket (see below)"]);
        assert_eq!(f[1].plural.as_deref(), Some("{n} tries"));
        assert_eq!(f[2].reference, "templates/a.html.tera:3");
    }

    #[test]
    fn pot_merges_duplicates() {
        let f = |id: &str, r: &str| Found {
            msgid: id.into(),
            plural: None,
            reference: r.into(),
        };
        let pot = to_pot(
            &[f("A", "x:1"), f("B", "x:2"), f("A", "y:3")],
            "2026-01-01 00:00+0000",
        );
        assert_eq!(pot.messages().count(), 2);
        assert_eq!(pot.entries[1].references, ["x:1", "y:3"]);
    }
}
