//! The lesson's messages ([`Msg`]) and a refused secret's reason, rendered in a locale.

use super::{format, Catalogs};
use lesson::secret::SecretWeakness;
use lesson::{Msg, Param, Text};

fn as_refs<'a>(v: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    v.iter().map(|(k, s)| (*k, s.as_str())).collect()
}

/// Renders a message in `locale`: translation, plural form, then `{name}` placeholders from
/// `params` and the operator's format strings in `globals` (`project_name`, `bot_alias`, ...).
pub fn render(
    catalogs: &Catalogs,
    locale: &str,
    msg: Msg,
    params: &[(&'static str, Param)],
    globals: &[(&str, &str)],
) -> String {
    let count = params.iter().find_map(|(k, v)| match v {
        Param::Count(n) if *k == "n" => Some(*n),
        _ => None,
    });
    let text = match msg.text() {
        Text::One(id) => catalogs.text(locale, id),
        Text::Plural(one, many) => catalogs.ntext(locale, one, many, count.unwrap_or(0)),
    };
    let simple: Vec<(&str, String)> = params
        .iter()
        .filter_map(|(k, v)| match v {
            Param::Plain(s) => Some((*k, s.clone())),
            Param::Count(n) => Some((*k, n.to_string())),
            Param::Text(_) => None,
        })
        .collect();
    let mut all: Vec<(&str, String)> = simple.clone();
    all.extend(globals.iter().map(|(k, v)| (*k, (*v).to_owned())));
    for (k, v) in params {
        if let Param::Text(id) = v {
            let inner = format(&catalogs.text(locale, id), &as_refs(&all));
            all.push((k, inner));
        }
    }
    format(&text, &as_refs(&all))
}

/// Why a shared secret was refused, translated into `locale` with its placeholders filled in
/// (the course page; the admin CLI passes empty catalogues for English).
pub fn explain(catalogs: &Catalogs, locale: &str, weakness: &SecretWeakness) -> String {
    let params = weakness.params();
    format(&catalogs.text(locale, weakness.msgid()), &as_refs(&params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_in_english_with_nested_reason_and_plural() {
        let c = Catalogs::empty();
        let reason = lesson::secret::SecretWeakness::TooShort { min: 6 };
        let s = render(
            &c,
            "en_GB",
            Msg::SecretRefused,
            &[
                ("reason", Param::Text(reason.msgid().into())),
                ("min", Param::Plain("6".into())),
            ],
            &[],
        );
        assert_eq!(s, "The shared secret you chose on the course page was refused: This secret is too short: use at least 6 characters. Please choose another one.");
        let one = render(&c, "en_GB", Msg::Warning, &[("n", Param::Count(1))], &[]);
        let five = render(&c, "en_GB", Msg::Warning, &[("n", Param::Count(5))], &[]);
        assert!(one.contains("in 1 minute unless"), "{one}");
        assert!(five.contains("in 5 minutes unless"), "{five}");
        let g = render(
            &c,
            "en_GB",
            Msg::Greeting,
            &[],
            &[("bot_alias", "Otto"), ("project_name", "Privacy 101")],
        );
        assert_eq!(
            g,
            "Hello, I am Otto from Privacy 101. Say hello to me to begin the exercise."
        );
    }

    #[test]
    fn a_refused_secret_is_explained_with_its_limit() {
        let w = lesson::secret::SecretWeakness::TooLong { max: 64 };
        let en = explain(&Catalogs::empty(), "en_GB", &w);
        assert_eq!(en, "This secret is too long: use at most 64 characters.");
    }
}
