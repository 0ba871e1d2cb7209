//! Where the files otrbot ships with are: the page templates and the compiled translations.
//! Set in `[paths]`, or found by themselves, so that `otrbot run` works from any directory.

use super::SettingError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where the shipped files are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Paths {
    /// The page templates (`*.html.tera`); found by themselves when not set.
    pub templates: Option<PathBuf>,
    /// The translations (`<locale>/LC_MESSAGES/otrbot.mo`); found by themselves when not set.
    pub locales: Option<PathBuf>,
}

impl Paths {
    /// The templates' directory (resolved when the settings were loaded).
    pub fn templates(&self) -> &Path {
        self.templates.as_deref().unwrap_or(Path::new("templates"))
    }

    /// The translations' directory (resolved when the settings were loaded).
    pub fn locales(&self) -> &Path {
        self.locales.as_deref().unwrap_or(Path::new("locales"))
    }
}

/// Where `name` (`templates`, `locales`) is looked for, in order: beside the settings (the
/// source tree when the file is under `settings/`), the install location beside the program
/// (`<prefix>/share/otrbot`, e.g. /usr/share/otrbot for /usr/bin/otrbot), /usr/share/otrbot,
/// the source tree the program was built from (if it is still there), and the working
/// directory.
fn candidates(name: &str, root: &Path) -> Vec<PathBuf> {
    let mut c = Vec::new();
    if !root.as_os_str().is_empty() {
        c.push(root.join(name));
    }
    if let Some(prefix) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
    {
        c.push(prefix.join("share/otrbot").join(name));
    }
    c.push(Path::new("/usr/share/otrbot").join(name));
    c.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(name));
    c.push(PathBuf::from(name));
    c.dedup();
    c
}

/// Sets each path that was not set to the first place it is found, relative ones from
/// `root`; a set path must exist. The error names the key and where it looked.
pub fn resolve(p: &mut Paths, root: &Path) -> Result<(), SettingError> {
    resolve_in(p, root, &candidates)
}

/// [`resolve`] with the places to look in given by `places`.
fn resolve_in(
    p: &mut Paths,
    root: &Path,
    places: &dyn Fn(&str, &Path) -> Vec<PathBuf>,
) -> Result<(), SettingError> {
    for (key, name, slot) in [
        ("paths.templates", "templates", &mut p.templates),
        ("paths.locales", "locales", &mut p.locales),
    ] {
        match slot {
            Some(set) => {
                if set.is_relative() && !root.as_os_str().is_empty() {
                    *set = root.join(&*set);
                }
                if !set.is_dir() {
                    return Err(SettingError {
                        key: key.into(),
                        problem: format!("{} is not a directory", set.display()),
                    });
                }
            }
            None => {
                let looked = places(name, root);
                match looked.iter().find(|d| d.is_dir()) {
                    Some(found) => *slot = Some(found.clone()),
                    None => {
                        let list: Vec<String> =
                            looked.iter().map(|d| d.display().to_string()).collect();
                        return Err(SettingError {
                            key: key.into(),
                            problem: format!(
                                "no {name}/ directory found (looked in {}); set it to where \
                                 otrbot's {name} are installed",
                                list.join(", ")
                            ),
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_beside_the_settings_or_named() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("templates")).unwrap();
        std::fs::create_dir(d.path().join("my-locales")).unwrap();
        let mut p = Paths {
            templates: None,
            locales: Some("my-locales".into()),
        };
        resolve(&mut p, d.path()).unwrap();
        assert_eq!(p.templates(), d.path().join("templates"));
        assert_eq!(p.locales(), d.path().join("my-locales"));
        let mut bad = Paths {
            templates: Some(d.path().join("nowhere")),
            locales: None,
        };
        let e = resolve(&mut bad, d.path()).unwrap_err();
        assert_eq!(e.key, "paths.templates");
        assert!(e.problem.contains("nowhere"), "{}", e.problem);
        // Found nowhere: the key and every place looked in are named.
        let mut unset = Paths::default();
        let nowhere = |name: &str, _: &Path| vec![d.path().join("a").join(name)];
        let e = resolve_in(&mut unset, d.path(), &nowhere).unwrap_err();
        assert_eq!(e.key, "paths.templates");
        assert!(e
            .problem
            .contains(&d.path().join("a/templates").display().to_string()));
    }
}
