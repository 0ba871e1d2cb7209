//! `otrbot extract | init | update | compile`: the translation workflow.

use crate::exit::{ExitCode, Failure};
use crate::i18n::{extract, is_valid_locale, mo, ops, po::Catalog, DOMAIN};
use clap::Args;
use std::path::{Path, PathBuf};

/// `otrbot extract`.
#[derive(Debug, Args)]
pub struct ExtractCmd {
    /// Where to write the template.
    #[arg(short, long, default_value = "messages.pot")]
    pub output: PathBuf,
    /// The source tree (with src/, crates/*/src/ and templates/).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

/// `otrbot init POT LOCALE`.
#[derive(Debug, Args)]
pub struct InitCmd {
    /// The template made by `otrbot extract`.
    pub pot: PathBuf,
    /// The new locale, such as nl_NL.
    pub locale: String,
    /// The catalogue directory.
    #[arg(long, default_value = "locales")]
    pub dir: PathBuf,
    /// Replace an existing catalogue.
    #[arg(long)]
    pub force: bool,
}

/// `otrbot update POT LOCALE`.
#[derive(Debug, Args)]
pub struct UpdateCmd {
    /// The template made by `otrbot extract`.
    pub pot: PathBuf,
    /// The locale to update.
    pub locale: String,
    /// The catalogue directory.
    #[arg(long, default_value = "locales")]
    pub dir: PathBuf,
}

/// `otrbot compile [-l LOCALE]`.
#[derive(Debug, Args)]
pub struct CompileCmd {
    /// Only this locale (default: every locale in the directory).
    #[arg(short, long)]
    pub locale: Option<String>,
    /// The catalogue directory.
    #[arg(long, default_value = "locales")]
    pub dir: PathBuf,
}

fn invalid(msg: String) -> Failure {
    Failure::new(ExitCode::InvalidArgument, msg)
}

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure::new(ExitCode::Unknown, format!("{}: {e}", parent.display())))?;
    }
    std::fs::write(path, bytes)
        .map_err(|e| Failure::new(ExitCode::Unknown, format!("{}: {e}", path.display())))
}

fn parse(path: &Path) -> Result<Catalog, Failure> {
    Catalog::parse(&read(path)?).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

fn checked_locale(locale: &str) -> Result<(), Failure> {
    if is_valid_locale(locale) {
        Ok(())
    } else {
        Err(invalid(format!(
            "{locale}: not a locale name (expected e.g. nl_NL)"
        )))
    }
}

/// The .po file of a locale.
pub fn po_path(dir: &Path, locale: &str) -> PathBuf {
    dir.join(locale)
        .join("LC_MESSAGES")
        .join(format!("{DOMAIN}.po"))
}

/// The current UTC time as a PO header date (`2026-01-31 12:00+0000`).
fn now() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]+0000");
    // Formatting a date with these components into a String cannot fail; the fallback only
    // keeps a panic out of the path.
    time::OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_else(|_| "1970-01-01 00:00+0000".to_owned())
}

/// Writes the template of every msgid in the sources and templates.
pub fn extract(c: &ExtractCmd) -> Result<(), Failure> {
    let found = extract::extract_tree(&c.root).map_err(|e| invalid(e.to_string()))?;
    let pot = extract::to_pot(&found, &now());
    write(&c.output, pot.write().as_bytes())?;
    outln!(
        "{}: {} messages",
        c.output.display(),
        pot.messages().count()
    );
    Ok(())
}

/// Starts a catalogue for a new locale.
pub fn init(c: &InitCmd) -> Result<(), Failure> {
    checked_locale(&c.locale)?;
    let path = po_path(&c.dir, &c.locale);
    if path.exists() && !c.force {
        return Err(invalid(format!(
            "{} exists: use `otrbot update`, or --force to start over",
            path.display()
        )));
    }
    let po = ops::init(&parse(&c.pot)?, &c.locale, &now());
    write(&path, po.write().as_bytes())?;
    outln!("{}: {} messages", path.display(), po.messages().count());
    Ok(())
}

/// Merges a locale's catalogue with a new template.
pub fn update(c: &UpdateCmd) -> Result<(), Failure> {
    checked_locale(&c.locale)?;
    let path = po_path(&c.dir, &c.locale);
    let merged = ops::update(&parse(&path)?, &parse(&c.pot)?);
    write(&path, merged.write().as_bytes())?;
    let msgs: Vec<_> = merged.messages().collect();
    let fuzzy = msgs.iter().filter(|e| e.is_fuzzy()).count();
    let missing = msgs.iter().filter(|e| !e.is_translated()).count();
    outln!(
        "{}: {} messages, {fuzzy} fuzzy, {missing} untranslated",
        path.display(),
        msgs.len()
    );
    Ok(())
}

/// Compiles .po catalogues to .mo (fuzzy and untranslated entries left out).
pub fn compile(c: &CompileCmd) -> Result<(), Failure> {
    let locales = match &c.locale {
        Some(l) => {
            checked_locale(l)?;
            vec![l.clone()]
        }
        None => {
            let mut v: Vec<String> = std::fs::read_dir(&c.dir)
                .map_err(|e| invalid(format!("{}: {e}", c.dir.display())))?
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| is_valid_locale(n) && po_path(&c.dir, n).is_file())
                .collect();
            v.sort();
            v
        }
    };
    for l in locales {
        let po_file = po_path(&c.dir, &l);
        let cat = parse(&po_file)?;
        let mo_file = po_file.with_extension("mo");
        write(&mo_file, &mo::compile(&cat))?;
        outln!("{}", mo_file.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn date_format() {
        let d = super::now();
        assert_eq!(d.len(), "2026-01-31 12:00+0000".len());
        assert!(d.starts_with("20"));
    }
}
