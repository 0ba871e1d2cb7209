//! Client guides: pick your chat client, then its steps, each with a picture drawn here as SVG
//! (the menu path to click, or the commands to type), so learners see where to go rather than
//! read it. Menu names and commands are the clients' own (English, as the hints in the chat;
//! Psi+'s from its OTR plugin's chat-window menu, the OMEMO clients' from docs/omemo-clients.md);
//! the step texts are translated.

use crate::lesson::Protocol;

/// What a step's picture shows.
#[derive(Debug, Clone, Copy)]
enum Picture {
    /// A menu path: the menu bar's entry, then each entry of the menus that open.
    Menu(&'static [&'static str]),
    /// Commands typed in a terminal client; `{bot}` stands for the bot's JID.
    Terminal(&'static [&'static str]),
}

/// One client's guide: its name and steps (English step text, picture).
struct Guide {
    client: &'static str,
    steps: &'static [(&'static str, Picture)],
}

const ADD: &str = crate::tr!("Add the bot to your contacts and accept its request.");
const START_OTR: &str = crate::tr!("In the chat with the bot, start a private (OTR) conversation.");
const SMP: &str = crate::tr!("Authenticate the bot with the shared secret you chose here.");
const OMEMO_ON: &str = crate::tr!("In the chat with the bot, switch on OMEMO.");
const OMEMO_TRUST: &str = crate::tr!(
    "Trust only the device whose fingerprint matches this page; distrust the other one."
);

const OTR_GUIDES: &[Guide] = &[
    Guide {
        client: "Pidgin",
        steps: &[
            (ADD, Picture::Menu(&["Buddies", "Add Buddy…"])),
            (
                START_OTR,
                Picture::Menu(&["OTR", "Start private conversation"]),
            ),
            (
                SMP,
                Picture::Menu(&["OTR", "Authenticate buddy", "Shared secret"]),
            ),
        ],
    },
    Guide {
        client: "Psi+",
        steps: &[
            (ADD, Picture::Menu(&["Menu", "Add a contact"])),
            (
                START_OTR,
                Picture::Menu(&["OTR Messaging", "Start private conversation"]),
            ),
            (
                SMP,
                Picture::Menu(&["OTR Messaging", "Authenticate contact", "Shared secret"]),
            ),
        ],
    },
    Guide {
        client: "Profanity",
        steps: &[
            (
                ADD,
                Picture::Terminal(&["/roster add {bot}", "/sub request {bot}", "/msg {bot}"]),
            ),
            (START_OTR, Picture::Terminal(&["/otr start"])),
            (SMP, Picture::Terminal(&["/otr secret \"your secret\""])),
        ],
    },
    Guide {
        client: "mcabber",
        steps: &[
            (
                ADD,
                Picture::Terminal(&["/add {bot}", "/authorization allow {bot}"]),
            ),
            (START_OTR, Picture::Terminal(&["/otr start"])),
            (SMP, Picture::Terminal(&["/otr smpq . \"your secret\""])),
        ],
    },
];

const OMEMO_GUIDES: &[Guide] = &[
    Guide {
        client: "Conversations",
        steps: &[
            (ADD, Picture::Menu(&["+", "Add contact"])),
            (OMEMO_ON, Picture::Menu(&["🔒", "OMEMO"])),
            (
                OMEMO_TRUST,
                Picture::Menu(&["Contact details", "OMEMO fingerprints"]),
            ),
        ],
    },
    Guide {
        client: "Gajim",
        steps: &[
            (ADD, Picture::Menu(&["Gajim", "Add Contact…"])),
            (OMEMO_ON, Picture::Menu(&["🔒", "OMEMO"])),
            (
                OMEMO_TRUST,
                Picture::Menu(&[
                    "Contact details",
                    "Encryption (OMEMO)",
                    "Verified / Untrusted",
                ]),
            ),
        ],
    },
    Guide {
        client: "Dino",
        steps: &[
            (ADD, Picture::Menu(&["+", "Start Conversation"])),
            (OMEMO_ON, Picture::Menu(&["🔒", "OMEMO"])),
            (
                OMEMO_TRUST,
                Picture::Menu(&["Conversation details", "OMEMO Key Management", "Reject key"]),
            ),
        ],
    },
    Guide {
        client: "Monal",
        steps: &[
            (ADD, Picture::Menu(&["+", "Add Contact"])),
            (OMEMO_ON, Picture::Menu(&["🔒", "OMEMO"])),
            (
                OMEMO_TRUST,
                Picture::Menu(&["Contact details", "Encryption Keys"]),
            ),
        ],
    },
    Guide {
        client: "Profanity",
        steps: &[
            (
                ADD,
                Picture::Terminal(&["/roster add {bot}", "/sub request {bot}"]),
            ),
            (
                OMEMO_ON,
                Picture::Terminal(&["/omemo gen", "/omemo start {bot}"]),
            ),
            (
                OMEMO_TRUST,
                Picture::Terminal(&[
                    "/omemo fingerprint {bot}",
                    "/omemo trust {bot} <fingerprint>",
                ]),
            ),
        ],
    },
];

/// One client's guide as the page shows it.
#[derive(Debug, serde::Serialize)]
pub struct ShownGuide {
    /// The client's name.
    pub client: String,
    /// Its steps: the translated text and the picture (SVG, escaped here).
    pub steps: Vec<ShownStep>,
}

/// One step as the page shows it.
#[derive(Debug, serde::Serialize)]
pub struct ShownStep {
    /// What to do, translated.
    pub text: String,
    /// The picture, an inline SVG.
    pub svg: String,
}

/// The guides of `protocol`'s lesson for the bot `bot_jid`, with `tr` translating step texts.
pub fn guides(protocol: Protocol, bot_jid: &str, tr: impl Fn(&str) -> String) -> Vec<ShownGuide> {
    let list = match protocol {
        Protocol::Otr => OTR_GUIDES,
        Protocol::Omemo => OMEMO_GUIDES,
    };
    list.iter()
        .map(|g| ShownGuide {
            client: g.client.to_owned(),
            steps: g
                .steps
                .iter()
                .map(|(text, pic)| ShownStep {
                    text: tr(text),
                    svg: svg(*pic, bot_jid),
                })
                .collect(),
        })
        .collect()
}

/// Text made safe inside SVG (XML) markup.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A width in pixels for `s` at the pictures' font size (a generous estimate).
fn width_of(s: &str) -> usize {
    s.chars().count() * 8 + 24
}

/// The picture as an SVG with a text alternative.
fn svg(pic: Picture, bot_jid: &str) -> String {
    match pic {
        Picture::Menu(path) => menu_svg(path),
        Picture::Terminal(lines) => {
            let lines: Vec<String> = lines.iter().map(|l| l.replace("{bot}", bot_jid)).collect();
            terminal_svg(&lines)
        }
    }
}

/// The menu bar with the first entry open, and each further entry highlighted in the menu
/// that opens from the one before (cascading to the right).
fn menu_svg(path: &[&str]) -> String {
    const ROW: usize = 26;
    let label = path.join(" → ");
    let mut body = String::new();
    let (mut x, mut y) = (8usize, 0usize);
    let mut right = 0usize;
    for (i, entry) in path.iter().enumerate() {
        let w = width_of(entry);
        if i == 0 {
            body.push_str(&format!(
                r##"<rect x="0" y="0" width="{{W}}" height="{ROW}" fill="#e9e9e9"/><rect x="{x}" y="2" width="{w}" height="{h}" rx="3" fill="#1f5f8b"/><text x="{tx}" y="18" fill="#fff">{t}</text>"##,
                h = ROW - 4,
                tx = x + 12,
                t = esc(entry)
            ));
            y = ROW;
        } else {
            // A menu of three rows: the entry to choose between two others.
            body.push_str(&format!(
                r##"<rect x="{x}" y="{y}" width="{w}" height="{mh}" fill="#fff" stroke="#767676"/><rect x="{px}" y="{r0}" width="{pw}" height="8" rx="2" fill="#d0d0d0"/><rect x="{x1}" y="{r1}" width="{w2}" height="{ROW}" fill="#1f5f8b"/><text x="{tx}" y="{ty}" fill="#fff">{t}</text><rect x="{px}" y="{r2}" width="{pw}" height="8" rx="2" fill="#d0d0d0"/>"##,
                w = w + 16,
                mh = ROW * 3,
                px = x + 12,
                pw = w / 2,
                r0 = y + 9,
                x1 = x + 1,
                w2 = w + 14,
                r1 = y + ROW,
                tx = x + 12,
                ty = y + ROW + 18,
                t = esc(entry),
                r2 = y + 2 * ROW + 9,
            ));
            right = right.max(x + w + 16);
            x += w;
            y += ROW;
        }
        right = right.max(x + w);
    }
    let (width, height) = (right + 8, y + 2 * ROW + 4);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="guide-pic" role="img" aria-label="{a}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" font-family="system-ui, sans-serif" font-size="13"><title>{a}</title>{b}</svg>"##,
        a = esc(&label),
        b = body.replace("{W}", &width.to_string()),
    )
}

/// A terminal with the commands typed at its prompt.
fn terminal_svg(lines: &[String]) -> String {
    const LINE: usize = 22;
    let width = lines.iter().map(|l| width_of(l) + 16).max().unwrap_or(100);
    let height = lines.len() * LINE + 16;
    let mut body = format!(r##"<rect width="{width}" height="{height}" rx="4" fill="#1e1e1e"/>"##);
    for (i, l) in lines.iter().enumerate() {
        body.push_str(&format!(
            r##"<text x="12" y="{y}" fill="#e8e8e8">&gt; {t}</text>"##,
            y = 24 + i * LINE,
            t = esc(l)
        ));
    }
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="guide-pic" role="img" aria-label="{a}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" font-family="ui-monospace, monospace" font-size="13"><title>{a}</title>{body}</svg>"##,
        a = esc(&lines.join("; ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lesson_has_its_clients_with_three_pictured_steps() {
        let otr = guides(Protocol::Otr, "bot@example.org", str::to_owned);
        let names: Vec<&str> = otr.iter().map(|g| g.client.as_str()).collect();
        assert_eq!(names, ["Pidgin", "Psi+", "Profanity", "mcabber"]);
        let omemo = guides(Protocol::Omemo, "bot@example.org", str::to_owned);
        let names: Vec<&str> = omemo.iter().map(|g| g.client.as_str()).collect();
        assert_eq!(
            names,
            ["Conversations", "Gajim", "Dino", "Monal", "Profanity"]
        );
        for g in otr.iter().chain(&omemo) {
            assert_eq!(g.steps.len(), 3, "{}", g.client);
            for s in &g.steps {
                assert!(s.svg.starts_with("<svg ") && s.svg.ends_with("</svg>"));
                assert!(s.svg.contains("role=\"img\" aria-label=\""), "{}", s.svg);
            }
        }
        assert!(otr[2].steps[0].svg.contains("/roster add bot@example.org"));
    }

    #[test]
    fn pictures_escape_what_they_draw() {
        let s = terminal_svg(&["/msg <b>&\"x\"".to_owned()]);
        assert!(s.contains("&gt; /msg &lt;b&gt;&amp;&quot;x&quot;"), "{s}");
        assert!(!s.contains("<b>"));
        let m = menu_svg(&["A<", "B&"]);
        assert!(
            m.contains("A&lt;")
                && m.contains("B&amp;")
                && m.contains("aria-label=\"A&lt; → B&amp;\"")
        );
    }

    #[test]
    fn a_menu_picture_is_wide_and_tall_enough_for_its_entries() {
        let m = menu_svg(&[
            "Contact details",
            "Encryption (OMEMO)",
            "Verified / Untrusted",
        ]);
        let width: usize = m
            .split("viewBox=\"0 0 ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|w| w.parse().ok())
            .unwrap();
        let last_text_x: usize = m
            .rsplit("<text x=\"")
            .next()
            .and_then(|r| r.split('"').next())
            .and_then(|x| x.parse().ok())
            .unwrap();
        assert!(
            width >= last_text_x + width_of("Verified / Untrusted") - 24,
            "{m}"
        );
    }
}
