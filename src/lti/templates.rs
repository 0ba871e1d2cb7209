//! Pages rendered from `templates/*.html.tera` with Tera, translated per locale: each loaded
//! locale gets its own Tera instance whose `t`/`tn` functions speak that locale.

use crate::i18n::{self, Catalogs};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tera::{Context, Tera, Value};

/// Why the templates could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
#[error("templates: {0}")]
pub struct TemplateError(String);

/// The templates, one Tera per locale.
pub struct Pages {
    by_locale: HashMap<String, Tera>,
    catalogs: Arc<Catalogs>,
    default_locale: String,
}

/// Every Tera argument but `msg`/`plural`/`n`, as `{name}` parameters for [`i18n::format`].
fn params(args: &HashMap<String, Value>) -> Vec<(String, String)> {
    args.iter()
        .filter(|(k, _)| !matches!(k.as_str(), "msg" | "plural" | "n"))
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect()
}

fn formatted(text: &str, p: &[(String, String)]) -> String {
    let refs: Vec<(&str, &str)> = p.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    i18n::format(text, &refs)
}

fn str_arg<'a>(args: &'a HashMap<String, Value>, name: &str) -> tera::Result<&'a str> {
    args.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| tera::Error::msg(format!("t/tn: `{name}` must be a string")))
}

/// A gettext locale (`nl_NL`, `sr_RS@latin`) as an HTML `lang` value (`nl-NL`, `sr-RS`).
pub fn html_lang(locale: &str) -> String {
    let base = locale.split(['.', '@']).next().unwrap_or(locale);
    let tag: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .map(|c| if c == '_' { '-' } else { c })
        .collect();
    if tag.is_empty() {
        "en".into()
    } else {
        tag
    }
}

impl Pages {
    /// Loads `dir/**/*.html.tera` and registers `t`/`tn` for every locale of `catalogs`.
    pub fn load(
        dir: &Path,
        catalogs: Arc<Catalogs>,
        default_locale: &str,
    ) -> Result<Pages, TemplateError> {
        let glob = format!("{}/**/*.html.tera", dir.display());
        let mut base = Tera::new(&glob).map_err(|e| TemplateError(format!("{glob}: {e:?}")))?;
        if base.get_template_names().next().is_none() {
            return Err(TemplateError(format!("no templates match {glob}")));
        }
        base.autoescape_on(vec![".html.tera", ".html"]);
        let mut locales = catalogs.locales();
        if !locales.iter().any(|l| l == default_locale) {
            locales.push(default_locale.to_owned());
        }
        let mut by_locale = HashMap::new();
        for locale in locales {
            let mut tera = base.clone();
            let (c, l) = (catalogs.clone(), locale.clone());
            tera.register_function("t", move |args: &HashMap<String, Value>| {
                let msg = str_arg(args, "msg")?;
                Ok(Value::String(formatted(&c.text(&l, msg), &params(args))))
            });
            let (c, l) = (catalogs.clone(), locale.clone());
            tera.register_function("tn", move |args: &HashMap<String, Value>| {
                let msg = str_arg(args, "msg")?;
                let plural = str_arg(args, "plural")?;
                let n = args.get("n").and_then(Value::as_u64).unwrap_or(0);
                let mut p = params(args);
                p.push(("n".into(), n.to_string()));
                Ok(Value::String(formatted(&c.ntext(&l, msg, plural, n), &p)))
            });
            by_locale.insert(locale, tera);
        }
        Ok(Pages {
            by_locale,
            catalogs,
            default_locale: default_locale.to_owned(),
        })
    }

    /// The loaded locale that best serves `requested` (an LTI locale such as `nl-NL`).
    pub fn locale_for(&self, requested: Option<&str>) -> String {
        match requested {
            Some(r) => self.catalogs.best_locale(r, &self.default_locale),
            None => self.default_locale.clone(),
        }
    }

    /// Translates one message (for texts built in Rust, such as form errors).
    pub fn text(&self, locale: &str, msgid: &str) -> String {
        self.catalogs.text(locale, msgid)
    }

    /// Translates a singular/plural pair for `n`, with `{n}` filled in.
    pub fn ntext(&self, locale: &str, msgid: &str, plural: &str, n: u64) -> String {
        let t = self.catalogs.ntext(locale, msgid, plural, n);
        crate::i18n::format(&t, &[("n", &n.to_string())])
    }

    /// Why a shared secret was refused, in `locale`.
    pub fn explain(&self, locale: &str, weakness: &lesson::secret::SecretWeakness) -> String {
        crate::i18n::speech::explain(&self.catalogs, locale, weakness)
    }

    /// Renders `name` in `locale`; the page's `lang` is that locale.
    pub fn render(&self, locale: &str, name: &str, ctx: &Context) -> Result<String, TemplateError> {
        let mut ctx = ctx.clone();
        ctx.insert("lang", &html_lang(locale));
        let tera = self
            .by_locale
            .get(locale)
            .or_else(|| self.by_locale.get(&self.default_locale))
            .ok_or_else(|| TemplateError(format!("no templates for {locale}")))?;
        tera.render(name, &ctx).map_err(|e| {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                src = s.source();
            }
            TemplateError(msg)
        })
    }
}
