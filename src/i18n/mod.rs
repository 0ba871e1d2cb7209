//! Gettext catalogues under `locales/<locale>/LC_MESSAGES/otrbot.mo` (msgids are English).
//!
//! Plural forms are evaluated by [`plural`], not by the gettext crate (see there why). Texts
//! are marked with `tr!`/`trn!` (defined by the `lesson` crate, which holds most of them,
//! and re-exported at this crate's root); [`speech`] renders the lesson's messages.

pub mod extract;
pub mod mo;
pub mod ops;
pub mod plural;
pub mod po;
pub mod speech;

use plural::PluralForms;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The gettext domain: catalogues are `otrbot.po` / `otrbot.mo`.
pub const DOMAIN: &str = "otrbot";

/// Why the catalogues could not be loaded.
#[derive(Debug, Error)]
pub enum I18nError {
    /// The locales directory or a catalogue could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A .mo file is malformed.
    #[error("{path}: not a valid .mo file: {reason}")]
    BadMo {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// A catalogue's Plural-Forms header cannot be used.
    #[error("{path}: {source}")]
    Plural {
        /// The file.
        path: PathBuf,
        /// What is wrong with the header.
        source: plural::PluralError,
    },
    /// A directory under `locales/` is not named like a locale.
    #[error("{0}: not a locale name (expected e.g. nl_NL)")]
    BadLocale(String),
}

struct Loaded {
    catalog: gettext::Catalog,
    plural: PluralForms,
}

/// Every locale's catalogue, loaded once at start.
pub struct Catalogs {
    by_locale: BTreeMap<String, Loaded>,
}

impl std::fmt::Debug for Catalogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalogs")
            .field("locales", &self.locales())
            .finish()
    }
}

/// The identity resolver: `ngettext` is given the form index we computed ourselves.
fn form_index_as_n(n: u64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

impl Catalogs {
    /// Catalogues with no locales: every text is the English msgid.
    pub fn empty() -> Self {
        Catalogs {
            by_locale: BTreeMap::new(),
        }
    }

    /// Loads `dir/<locale>/LC_MESSAGES/otrbot.mo` for every locale directory in `dir`.
    pub fn load(dir: &Path) -> Result<Catalogs, I18nError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| I18nError::Io { path, source }
        };
        let mut by_locale = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let mo = entry
                .path()
                .join("LC_MESSAGES")
                .join(format!("{DOMAIN}.mo"));
            if !entry.path().is_dir() || name.starts_with('.') {
                continue;
            }
            if !is_valid_locale(&name) {
                return Err(I18nError::BadLocale(name));
            }
            let bytes = std::fs::read(&mo).map_err(io(&mo))?;
            by_locale.insert(name, Self::parse_mo(&mo, &bytes)?);
        }
        Ok(Catalogs { by_locale })
    }

    /// Adds one locale from the bytes of its .mo file (`path` only names it in errors).
    pub fn insert_mo(&mut self, locale: &str, path: &Path, bytes: &[u8]) -> Result<(), I18nError> {
        if !is_valid_locale(locale) {
            return Err(I18nError::BadLocale(locale.into()));
        }
        self.by_locale
            .insert(locale.into(), Self::parse_mo(path, bytes)?);
        Ok(())
    }

    fn parse_mo(path: &Path, bytes: &[u8]) -> Result<Loaded, I18nError> {
        let catalog = gettext::ParseOptions::new()
            .force_plural(form_index_as_n)
            .parse(bytes)
            .map_err(|e| I18nError::BadMo {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        let header = catalog.gettext("");
        let plural = match header.lines().find_map(|l| l.strip_prefix("Plural-Forms:")) {
            Some(h) => PluralForms::parse(h.trim()).map_err(|source| I18nError::Plural {
                path: path.to_path_buf(),
                source,
            })?,
            None => PluralForms::germanic(),
        };
        Ok(Loaded { catalog, plural })
    }

    /// The loaded locales, sorted.
    pub fn locales(&self) -> Vec<String> {
        self.by_locale.keys().cloned().collect()
    }

    /// The catalogue for `locale`: itself, else its language (`nl` for `nl_BE`), else a
    /// sibling with the same language (`nl_NL` for `nl_BE`).
    fn lookup(&self, locale: &str) -> Option<&Loaded> {
        let lang = locale.split(['_', '-']).next().unwrap_or(locale);
        self.by_locale
            .get(locale)
            .or_else(|| self.by_locale.get(lang))
            .or_else(|| {
                self.by_locale
                    .iter()
                    .find(|(k, _)| k.split('_').next() == Some(lang))
                    .map(|(_, v)| v)
            })
    }

    /// The translation of `msgid` in `locale`, falling back to the language, then to English.
    pub fn text(&self, locale: &str, msgid: &str) -> String {
        match self.lookup(locale) {
            Some(l) if !msgid.is_empty() => l.catalog.gettext(msgid).to_owned(),
            _ => msgid.to_owned(),
        }
    }

    /// The plural translation of `msgid`/`plural` for the number `n`.
    pub fn ntext(&self, locale: &str, msgid: &str, plural: &str, n: u64) -> String {
        let english = if n == 1 { msgid } else { plural };
        let Some(l) = self.lookup(locale).filter(|_| !msgid.is_empty()) else {
            return english.to_owned();
        };
        let form = l.plural.index(n) as u64;
        let t = l.catalog.ngettext(msgid, plural, form);
        // The crate hands back our own arguments when it has no translation.
        if std::ptr::eq(t, msgid) || std::ptr::eq(t, plural) {
            english.to_owned()
        } else {
            t.to_owned()
        }
    }

    /// Maps a requested locale (an LTI `launch_presentation_locale` such as `nl-NL`, `de`,
    /// `en-US`) to a loaded locale, or `default` when none matches.
    pub fn best_locale(&self, requested: &str, default: &str) -> String {
        let req = requested.trim().replace('-', "_");
        let (lang, country) = match req.split_once('_') {
            Some((l, c)) => (l.to_ascii_lowercase(), c.to_ascii_uppercase()),
            None => (req.to_ascii_lowercase(), String::new()),
        };
        let exact = if country.is_empty() {
            lang.clone()
        } else {
            format!("{lang}_{country}")
        };
        if self.by_locale.contains_key(&exact) {
            return exact;
        }
        if lang.is_empty() {
            return default.to_owned();
        }
        // Prefer the language's "home" country (de_DE for de), then any sibling.
        let home = format!("{lang}_{}", lang.to_ascii_uppercase());
        if self.by_locale.contains_key(&home) {
            return home;
        }
        if self.by_locale.contains_key(&lang) {
            return lang;
        }
        self.by_locale
            .keys()
            .find(|k| k.split('_').next() == Some(lang.as_str()))
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }
}

/// Replaces `{name}` placeholders in an (already translated) text; unknown ones stay.
pub fn format(text: &str, params: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            params
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v, close))
        });
        match value {
            Some((v, close)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Checks a locale name such as `en_GB`, `nl_NL` or `de`.
pub fn is_valid_locale(s: &str) -> bool {
    let (lang, country) = match s.split_once('_') {
        Some((l, c)) => (l, Some(c)),
        None => (s, None),
    };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && country.is_none_or(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales() {
        for ok in ["en_GB", "nl_NL", "de", "fil_PH"] {
            assert!(is_valid_locale(ok), "{ok}");
        }
        for bad in ["", "EN", "en-GB", "en_gb", "english", "en_GBR", "../x"] {
            assert!(!is_valid_locale(bad), "{bad}");
        }
    }

    #[test]
    fn format_placeholders() {
        let p = [("name", "Ann"), ("code", "AB{x}D")];
        assert_eq!(format("Hi {name}, {code}!", &p), "Hi Ann, AB{x}D!");
        assert_eq!(format("{unknown} {name}", &p), "{unknown} Ann");
        assert_eq!(format("{ {name", &p), "{ {name");
        assert_eq!(format("", &p), "");
        assert_eq!(format("é{name}ß", &p), "éAnnß");
    }

    fn catalog_with(locale: &str, plural_forms: &str, entries: &[(&str, &[&str])]) -> Catalogs {
        let mut po = po::Catalog::new_header(locale, plural_forms);
        for (id, strs) in entries {
            let mut e = po::Entry::new(id);
            if strs.len() > 1 {
                e.msgid_plural = Some(format!("{id}s"));
            }
            e.msgstr = strs.iter().map(|s| s.to_string()).collect();
            po.entries.push(e);
        }
        let mut c = Catalogs::empty();
        c.insert_mo(locale, Path::new("test.mo"), &mo::compile(&po))
            .unwrap();
        c
    }

    #[test]
    fn text_falls_back_to_language_then_english() {
        let c = catalog_with(
            "nl_NL",
            "nplurals=2; plural=(n != 1);",
            &[("Hello", &["Hallo"])],
        );
        assert_eq!(c.text("nl_NL", "Hello"), "Hallo");
        assert_eq!(c.text("nl_BE", "Hello"), "Hallo");
        assert_eq!(c.text("fr_FR", "Hello"), "Hello");
        assert_eq!(c.text("nl_NL", "Bye"), "Bye");
        assert_eq!(c.text("nl_NL", ""), "");
    }

    #[test]
    fn plural_with_unparenthesised_and() {
        // Russian: the header gettext 0.4 gets wrong.
        let ru = "nplurals=3; plural=n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2;";
        let c = catalog_with(
            "ru_RU",
            ru,
            &[("{n} file", &["{n} файл", "{n} файла", "{n} файлов"])],
        );
        let got: Vec<_> = [1, 2, 5, 11, 21, 22, 25]
            .iter()
            .map(|&n| c.ntext("ru_RU", "{n} file", "{n} files", n))
            .collect();
        assert_eq!(
            got,
            [
                "{n} файл",
                "{n} файла",
                "{n} файлов",
                "{n} файлов",
                "{n} файл",
                "{n} файла",
                "{n} файлов"
            ]
        );
        // Untranslated plural: English rule.
        assert_eq!(c.ntext("ru_RU", "{n} dog", "{n} dogs", 1), "{n} dog");
        assert_eq!(c.ntext("ru_RU", "{n} dog", "{n} dogs", 2), "{n} dogs");
        assert_eq!(c.ntext("xx", "{n} dog", "{n} dogs", 0), "{n} dogs");
    }

    /// Why `plural` exists: gettext 0.4's own resolver reads this header as `n%10==1 && (…)`
    /// and gives form 0 for 2 and 5. When this fails, the crate got it right and
    /// `plural.rs` can go (see locales/README.md).
    #[test]
    fn the_gettext_crate_misreads_unparenthesised_and() {
        let ru = "nplurals=3; plural=n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2;";
        let mut po = po::Catalog::new_header("ru_RU", ru);
        let mut e = po::Entry::new("{n} file");
        e.msgid_plural = Some("{n} files".into());
        e.msgstr = vec!["{n} файл".into(), "{n} файла".into(), "{n} файлов".into()];
        po.entries.push(e);
        let crate_own = gettext::Catalog::parse(&mo::compile(&po)[..]).unwrap();
        let forms: Vec<_> = [1, 2, 5]
            .iter()
            .map(|&n| crate_own.ngettext("{n} file", "{n} files", n))
            .collect();
        assert_eq!(forms, ["{n} файл", "{n} файл", "{n} файл"]);
    }

    #[test]
    fn best_locale_maps_lti_locales() {
        let mut c = Catalogs::empty();
        for l in ["en_GB", "nl_NL", "de_DE"] {
            let po = po::Catalog::new_header(l, "nplurals=2; plural=(n != 1);");
            c.insert_mo(l, Path::new("t.mo"), &mo::compile(&po))
                .unwrap();
        }
        assert_eq!(c.locales(), ["de_DE", "en_GB", "nl_NL"]);
        for (req, want) in [
            ("nl-NL", "nl_NL"),
            ("nl_BE", "nl_NL"),
            ("de", "de_DE"),
            ("DE-at", "de_DE"),
            ("en-US", "en_GB"),
            ("en", "en_GB"),
            ("fr-FR", "en_GB"),
            ("", "en_GB"),
            ("../../etc", "en_GB"),
        ] {
            assert_eq!(c.best_locale(req, "en_GB"), want, "{req}");
        }
    }
}
