//! The clients' commands and menu items the bot teaches, in every locale, checked against each
//! client's own help as Debian ships it: mcabber's help files (packages mcabber), Profanity's
//! manual page (profanity) and pidgin-otr's menu texts and translations (pidgin-otr). A command
//! the client does not have, a wrong number of arguments, a secret without quotes or a menu
//! item that the learner's Pidgin does not show fails here.

use otrbot::i18n::speech::render;
use otrbot::i18n::{po, Catalogs};
use otrbot::lesson::Msg;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

const LOCALES: &[&str] = &["en_GB", "de_DE", "nl_NL"];
const TAUGHT: &[Msg] = &[Msg::OtrHints, Msg::AskSmp];

/// One usage line: required arguments, and whether each argument is optional, in order.
type Usage = BTreeMap<String, Vec<bool>>;

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e} (scripts/test installs the Debian package)"))
}

/// Usage lines like `/OTR smpq|smpr [jid] secret` (mcabber) or `/otr secret <secret>`
/// (Profanity): every subcommand, and per argument whether it is optional (`[...]`).
fn usage(lines: impl Iterator<Item = String>, prefix: &str) -> Usage {
    let mut u = Usage::new();
    for line in lines {
        let Some(rest) = line.trim().strip_prefix(prefix) else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let Some(subs) = words.next() else { continue };
        let mut args = Vec::new();
        let mut depth = 0usize;
        for w in words {
            if depth == 0 {
                args.push(w.starts_with('['));
            }
            depth += w.matches('[').count();
            depth -= w.matches(']').count().min(depth);
        }
        for sub in subs.split('|') {
            u.insert(sub.to_owned(), args.clone());
        }
    }
    u
}

fn mcabber(lang: &str) -> Usage {
    let text = read(&format!("/usr/share/mcabber/help/{lang}/hlp_otr.txt"));
    usage(text.lines().map(str::to_owned), "/OTR ")
}

fn profanity() -> Usage {
    let out = Command::new("zcat")
        .arg("/usr/share/man/man1/profanity-otr.1.gz")
        .output()
        .expect("zcat");
    assert!(
        out.status.success(),
        "profanity's manual page (package profanity)"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let synopsis = text
        .split(".SH SYNOPSIS")
        .nth(1)
        .and_then(|s| s.split(".SH ").next())
        .expect("a SYNOPSIS section")
        .to_owned();
    usage(synopsis.lines().map(str::to_owned), "/otr ")
}

/// pidgin-otr's menu and dialog texts a learner sees in `lang` (and the English ones), with
/// the mnemonic underscores taken out.
fn pidgin_labels(lang: &str) -> BTreeSet<String> {
    // pidgin-otr ships no English catalogue: its msgids are the English texts.
    let file = if lang == "en" { "de" } else { lang };
    let mo = format!("/usr/share/locale/{file}/LC_MESSAGES/pidgin-otr.mo");
    let out = Command::new("msgunfmt")
        .arg(&mo)
        .output()
        .expect("msgunfmt");
    assert!(out.status.success(), "{mo} (package pidgin-otr)");
    let cat = po::Catalog::parse(&String::from_utf8_lossy(&out.stdout)).unwrap();
    let mut labels = BTreeSet::new();
    for e in cat.messages() {
        labels.insert(e.msgid.replace('_', ""));
        if lang != "en" {
            labels.extend(e.msgstr.iter().map(|s| s.replace('_', "")));
        }
    }
    labels
}

/// The arguments written after `/otr SUB` in a hint: quoted placeholders, `.` or JIDs, until
/// the first word of prose.
fn arguments(after: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut rest = after.trim_start();
    loop {
        if let Some(q) = rest.strip_prefix('"') {
            let Some(end) = q.find('"') else { break };
            args.push(format!("\"{}\"", &q[..end]));
            rest = q[end + 1..].trim_start();
        } else {
            let word: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
            if word == "." || (word.contains('@') && !word.contains('"')) {
                rest = rest[word.len()..].trim_start();
                args.push(word);
            } else {
                break;
            }
        }
    }
    args
}

/// What is wrong with the `/otr` commands of one client's hint line, if anything.
fn check_commands(line: &str, usage: &Usage) -> Vec<String> {
    let mut wrong = Vec::new();
    let parts: Vec<&str> = line.split("/otr ").skip(1).collect();
    if parts.is_empty() {
        wrong.push("no /otr command".to_owned());
    }
    for part in parts {
        let sub: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
        let Some(spec) = usage.get(&sub) else {
            wrong.push(format!("/otr {sub}: no such command"));
            continue;
        };
        let args = arguments(&part[sub.len()..]);
        let required = spec.iter().filter(|o| !**o).count();
        // An optional argument before a required one must be written out: the client reads
        // arguments by position, so a secret could be taken for a JID.
        let first_required = spec.iter().position(|o| !*o).unwrap_or(spec.len());
        let min = if spec[..first_required].iter().any(|o| *o) && required > 0 {
            spec.len()
        } else {
            required
        };
        if args.len() < min || args.len() > spec.len() {
            wrong.push(format!(
                "/otr {sub} {args:?}: takes {min} to {} arguments",
                spec.len()
            ));
        }
        for a in args.iter().filter(|a| a.starts_with('"')) {
            if a.trim_matches('"').trim().is_empty() {
                wrong.push(format!("/otr {sub}: empty placeholder {a}"));
            }
        }
        if required > 0 && !args.iter().any(|a| a.starts_with('"')) {
            wrong.push(format!("/otr {sub}: the secret must be in quotes"));
        }
    }
    wrong
}

fn check_pidgin(line: &str, labels: &BTreeSet<String>) -> Vec<String> {
    let quoted: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
    if quoted.is_empty() {
        return vec!["no menu item in quotes".to_owned()];
    }
    quoted
        .into_iter()
        .filter(|q| !labels.contains(*q))
        .map(|q| format!("{q:?} is no pidgin-otr text"))
        .collect()
}

/// Every problem of one rendered hint text in `locale`.
fn problems(text: &str, locale: &str) -> Vec<String> {
    let lang = locale.split('_').next().unwrap();
    let mut all = Vec::new();
    let mut seen = BTreeSet::new();
    for line in text.lines() {
        let Some((client, hint)) = line.strip_prefix("- ").and_then(|l| l.split_once(": ")) else {
            continue;
        };
        seen.insert(client);
        let found = match client {
            "mcabber" => check_commands(hint, &mcabber(lang)),
            "Profanity" => check_commands(hint, &profanity()),
            "Pidgin" => check_pidgin(hint, &pidgin_labels(lang)),
            other => vec![format!("a hint for {other}, which this test does not know")],
        };
        all.extend(found.into_iter().map(|p| format!("{client}: {p}")));
    }
    for client in ["Pidgin", "Profanity", "mcabber"] {
        if !seen.contains(client) {
            all.push(format!("no hint for {client}"));
        }
    }
    all
}

#[test]
fn every_hint_in_every_locale_is_a_command_or_menu_item_the_client_has() {
    let catalogs = Catalogs::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("locales")).unwrap();
    let mut wrong = Vec::new();
    for locale in LOCALES {
        for msg in TAUGHT {
            let text = render(&catalogs, locale, *msg, &[], &[]);
            for p in problems(&text, locale) {
                wrong.push(format!("{locale} {msg:?}: {p}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_checker_catches_the_mistakes_it_is_for() {
    let en = |line: &str| {
        problems(&format!("{line}\n- Pidgin: OTR > \"Shared secret\"\n- Profanity: type /otr start\n- mcabber: type /otr start"), "en_GB")
    };
    for bad in [
        "- mcabber: type /otr smpreq followed by the secret",
        "- mcabber: type /otr smpq \"your secret\"",
        "- Profanity: type /otr secret followed by the secret",
        "- Profanity: type /otr secret your secret",
        "- Profanity: type /otr secret \"a\" \"b\"",
        "- Pidgin: OTR > \"Authenticate friend\"",
    ] {
        assert!(!en(bad).is_empty(), "not caught: {bad}");
    }
    for good in [
        "- mcabber: type /otr smpq . \"your secret\"",
        "- Profanity: type /otr secret \"your secret\" (in quotes)",
        "- Pidgin: OTR > \"Authenticate buddy\"",
    ] {
        assert!(en(good).is_empty(), "{good}: {:?}", en(good));
    }
    let de = problems("- Pidgin: OTR > \"Privates Gespräch beginnen\"\n- Profanity: /otr start\n- mcabber: /otr start", "de_DE");
    assert_eq!(de.len(), 1, "{de:?}");
}

/// The `/omemo` subcommands in the Profanity line of `text`.
fn omemo_subcommands(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("- Profanity: "))
        .flat_map(|l| l.split("/omemo ").skip(1))
        .map(|p| {
            p.chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect()
        })
        .collect()
}

#[test]
fn the_omemo_hints_name_profanitys_own_commands_in_every_locale() {
    let out = Command::new("zcat")
        .arg("/usr/share/man/man1/profanity-omemo.1.gz")
        .output()
        .expect("zcat");
    assert!(
        out.status.success(),
        "profanity's /omemo manual page (package profanity)"
    );
    let manual = String::from_utf8(out.stdout).unwrap();
    let catalogs = Catalogs::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("locales")).unwrap();
    let mut wrong = Vec::new();
    for msg in [Msg::OmemoHints, Msg::OmemoVerifyHints] {
        let english = omemo_subcommands(&render(&catalogs, "en_GB", msg, &[], &[]));
        assert!(
            !english.is_empty(),
            "{msg:?} teaches Profanity's /omemo commands"
        );
        for locale in LOCALES {
            let subs = omemo_subcommands(&render(&catalogs, locale, msg, &[], &[]));
            if subs != english {
                wrong.push(format!("{locale} {msg:?}: {subs:?}, English {english:?}"));
            }
            for s in &subs {
                if !manual.contains(&format!("/omemo {s}")) {
                    wrong.push(format!(
                        "{locale} {msg:?}: /omemo {s} is no Profanity command"
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
