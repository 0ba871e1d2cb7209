//! Import of libotr's s-expression private-key file (`otr.private_key`).

use super::error::{OtrError, Result};
use super::keys::PrivateKey;

/// Largest key file we read.
const MAX_FILE: usize = 1024 * 1024;
/// Deepest nesting we accept.
const MAX_DEPTH: usize = 16;

/// A node of a parsed s-expression.
#[derive(Debug, PartialEq, Eq)]
enum Sexp {
    Atom(Vec<u8>),
    List(Vec<Sexp>),
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self
            .s
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_whitespace())
        {
            self.pos += 1;
        }
    }

    fn until(&mut self, end: u8) -> Result<&[u8]> {
        let start = self.pos;
        let len = self.s[start..]
            .iter()
            .position(|&c| c == end)
            .ok_or(OtrError::KeyFile("unterminated atom"))?;
        self.pos = start + len + 1;
        Ok(&self.s[start..start + len])
    }

    fn node(&mut self, depth: usize) -> Result<Sexp> {
        if depth > MAX_DEPTH {
            return Err(OtrError::KeyFile("nested too deeply"));
        }
        self.skip_ws();
        let c = *self
            .s
            .get(self.pos)
            .ok_or(OtrError::KeyFile("unexpected end"))?;
        self.pos += 1;
        match c {
            b'(' => {
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    match self.s.get(self.pos) {
                        None => return Err(OtrError::KeyFile("unclosed list")),
                        Some(b')') => {
                            self.pos += 1;
                            return Ok(Sexp::List(items));
                        }
                        Some(_) => items.push(self.node(depth + 1)?),
                    }
                }
            }
            b')' => Err(OtrError::KeyFile("unexpected ')'")),
            b'#' => {
                let hex = self.until(b'#')?;
                let hex: Vec<u8> = hex
                    .iter()
                    .copied()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect();
                if hex.len() % 2 != 0 {
                    return Err(OtrError::KeyFile("odd hex length"));
                }
                let digit = |c: u8| (c as char).to_digit(16).ok_or(OtrError::KeyFile("bad hex"));
                let mut out = Vec::with_capacity(hex.len() / 2);
                for pair in hex.chunks(2) {
                    out.push((digit(pair[0])? * 16 + digit(pair[1])?) as u8);
                }
                Ok(Sexp::Atom(out))
            }
            b'|' => {
                let b64 = std::str::from_utf8(self.until(b'|')?)
                    .map_err(|_| OtrError::KeyFile("bad base64"))?;
                Ok(Sexp::Atom(
                    super::wire::base64_decode(b64).map_err(|_| OtrError::KeyFile("bad base64"))?,
                ))
            }
            b'"' => {
                let mut out = Vec::new();
                loop {
                    let c = *self
                        .s
                        .get(self.pos)
                        .ok_or(OtrError::KeyFile("unterminated string"))?;
                    self.pos += 1;
                    match c {
                        b'"' => return Ok(Sexp::Atom(out)),
                        b'\\' => {
                            let e = *self
                                .s
                                .get(self.pos)
                                .ok_or(OtrError::KeyFile("unterminated string"))?;
                            self.pos += 1;
                            out.push(match e {
                                b'n' => b'\n',
                                b't' => b'\t',
                                b'r' => b'\r',
                                other => other,
                            });
                        }
                        other => out.push(other),
                    }
                }
            }
            _ => {
                let start = self.pos - 1;
                while self
                    .s
                    .get(self.pos)
                    .is_some_and(|c| !c.is_ascii_whitespace() && !b"()\"#|".contains(c))
                {
                    self.pos += 1;
                }
                let token = &self.s[start..self.pos];
                // Canonical "len:bytes" atoms.
                if let Some(colon) = token.iter().position(|&c| c == b':') {
                    if colon > 0 && token[..colon].iter().all(u8::is_ascii_digit) {
                        let n: usize = std::str::from_utf8(&token[..colon])
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .ok_or(OtrError::KeyFile("length"))?;
                        let begin = start + colon + 1;
                        let end = begin
                            .checked_add(n)
                            .filter(|&e| e <= self.s.len())
                            .ok_or(OtrError::KeyFile("length"))?;
                        self.pos = end;
                        return Ok(Sexp::Atom(self.s[begin..end].to_vec()));
                    }
                }
                Ok(Sexp::Atom(token.to_vec()))
            }
        }
    }
}

impl Sexp {
    fn name(&self) -> Option<&[u8]> {
        match self {
            Sexp::List(items) => match items.first() {
                Some(Sexp::Atom(a)) => Some(a),
                _ => None,
            },
            Sexp::Atom(_) => None,
        }
    }

    fn find(&self, name: &[u8]) -> Option<&Sexp> {
        match self {
            Sexp::List(items) => items.iter().find(|i| i.name() == Some(name)),
            Sexp::Atom(_) => None,
        }
    }

    fn value(&self, name: &[u8]) -> Result<&[u8]> {
        match self.find(name) {
            Some(Sexp::List(items)) => match items.get(1) {
                Some(Sexp::Atom(a)) => Ok(a),
                _ => Err(OtrError::KeyFile("missing value")),
            },
            _ => Err(OtrError::KeyFile("missing field")),
        }
    }
}

/// One account entry of a libotr private-key file.
#[derive(Debug)]
pub struct ImportedKey {
    /// The account name (e.g. "alice@example.org").
    pub account: String,
    /// The protocol id (e.g. "prpl-jabber" or "xmpp").
    pub protocol: String,
    /// The DSA key.
    pub key: PrivateKey,
}

/// Reads every account of a libotr `(privkeys (account ...) ...)` file.
pub fn import_libotr(text: &[u8]) -> Result<Vec<ImportedKey>> {
    if text.len() > MAX_FILE {
        return Err(OtrError::KeyFile("file too large"));
    }
    let mut parser = Parser { s: text, pos: 0 };
    let root = parser.node(0)?;
    if root.name() != Some(b"privkeys") {
        return Err(OtrError::KeyFile("not a privkeys file"));
    }
    let Sexp::List(items) = &root else {
        return Err(OtrError::KeyFile("not a list"));
    };
    let mut out = Vec::new();
    for acct in items.iter().filter(|i| i.name() == Some(b"account")) {
        let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        let dsa = acct
            .find(b"private-key")
            .and_then(|k| k.find(b"dsa"))
            .ok_or(OtrError::KeyFile("no DSA private key"))?;
        let key = PrivateKey::from_components(
            dsa.value(b"p")?,
            dsa.value(b"q")?,
            dsa.value(b"g")?,
            dsa.value(b"y")?,
            dsa.value(b"x")?,
        )?;
        out.push(ImportedKey {
            account: text(acct.value(b"name")?),
            protocol: text(acct.value(b"protocol")?),
            key,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hexs(v: &[u8]) -> String {
        v.iter().map(|b| format!("{b:02X}")).collect()
    }

    #[test]
    fn imports_generated_key_in_libotr_layout() {
        let key = crate::keys::tests::test_key();
        let c = key.components();
        let file = format!(
            "(privkeys\n (account\n(name \"alice@test\")\n(protocol prpl-jabber)\n(private-key \n (dsa \n  (p #00{}#)\n  (q #00{}#)\n  (g #{}#)\n  (y #{}#)\n  (x #{}#)\n  )\n )\n )\n)\n",
            hexs(&c.p), hexs(&c.q), hexs(&c.g), hexs(&c.y), hexs(&c.x)
        );
        let keys = import_libotr(file.as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].account, "alice@test");
        assert_eq!(keys[0].protocol, "prpl-jabber");
        assert_eq!(keys[0].key.fingerprint(), key.fingerprint());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "",
            "(",
            ")",
            "(privkeys",
            "(privkeys (account (name #0#)))",
            "(x)",
            "(privkeys (account))",
            "#zz#",
            "(privkeys 99:a)",
            "\"abc",
        ] {
            assert!(import_libotr(bad.as_bytes()).is_err(), "{bad}");
        }
        let deep = "(".repeat(100);
        assert!(import_libotr(deep.as_bytes()).is_err());
        assert!(import_libotr(b"(privkeys)").unwrap().is_empty());
    }
}
