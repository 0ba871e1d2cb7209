//! LTI 1.1 tool provider (Rocket): launch, pages, grade passback.
//!
//! Routes (all under the path of `lti.public_url`): `POST /launch` (the LMS's launch),
//! `GET /` (where the learner is), `GET|POST /jid`, `GET /added`, `GET|POST /secret`,
//! `GET|POST /code`, `GET /done`, `GET /instructor`, `GET /is_up`. Everything but the launch
//! and `/is_up` needs the private cookie a valid launch sets. What the bot must act on or
//! decide goes to it through [`Course`], which the bot implements: `lti` does not use the bot.

pub mod course;
pub mod error;
pub mod launch;
pub mod oauth;
pub mod omemo_view;
pub mod outcome;
pub mod pages;
pub mod run;
pub mod templates;
pub mod visit;

use crate::settings::{Format, Lti};
use crate::store::{Store, Timeouts};
use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::shield::{Frame, Shield};
use std::sync::Arc;
use tokio::sync::Notify;

pub use course::{CodeVerdict, Course, SecretVerdict};
pub use templates::Pages;

/// Everything the pages need; managed by Rocket.
pub struct App {
    /// The store.
    pub store: Store,
    /// The bot, as the pages reach it.
    pub course: Arc<dyn Course>,
    /// Wakes the grade sender after a grade was queued.
    pub grade_wake: Arc<Notify>,
    /// The templates.
    pub pages: Pages,
    /// The `lti` settings.
    pub lti: Lti,
    /// The `format` settings.
    pub format: Format,
    /// The bot's bare JID.
    pub bot_jid: String,
    /// The inactivity timeouts.
    pub timeouts: Timeouts,
    /// How long a launch's cookie is honoured, in seconds.
    pub visit_max_age: u64,
    /// The path part of `lti.public_url` without a trailing `/` (e.g. `/otrbot` or ``).
    pub prefix: String,
}

/// The path of a public base URL, without a trailing `/`.
pub fn path_prefix(public_url: &str) -> String {
    let rest = public_url.split_once("://").map_or(public_url, |(_, r)| r);
    match rest.find('/') {
        Some(i) => rest[i..].trim_end_matches('/').to_owned(),
        None => String::new(),
    }
}

/// The OTR fingerprint (libotr's form) of a key made by the key pool, if it decodes.
pub fn fingerprint(key: &[u8]) -> Option<String> {
    let [p, q, g, y, _x] = crate::store::keypool::decode_dsa_key(key).ok()?;
    let public = crate::otr::keys::PublicKey::from_components(&p, &q, &g, &y).ok()?;
    Some(public.fingerprint().to_string())
}

impl App {
    /// What every page gets: stylesheet, names, the URL prefix.
    pub fn base_context(&self) -> tera::Context {
        let mut ctx = tera::Context::new();
        ctx.insert("css_url", &self.lti.css_url);
        ctx.insert("project_name", &self.format.project_name);
        ctx.insert("bot_alias", &self.format.bot_alias);
        ctx.insert("help_url", &self.format.help_url);
        ctx.insert("bot_jid", &self.bot_jid);
        ctx.insert("prefix", &self.prefix);
        ctx
    }
}

/// Rocket's settings, from otrbot's: the address and port of `[lti]`, small form limits,
/// Rocket's own signal handling off (the bot's shutdown stops it), no Rocket.toml. Of the
/// `ROCKET_*` variables only `ROCKET_PROFILE` and `ROCKET_SECRET_KEY` count: the secret key
/// for private cookies is required in the `release` profile, and in others a random one is
/// made for this run, with a warning.
pub fn figment(lti: &Lti) -> Result<Figment, String> {
    use rocket::figment::providers::{Env, Serialized};
    use rocket::figment::Profile;
    let profile = Profile::from_env_or("ROCKET_PROFILE", rocket::Config::DEFAULT_PROFILE);
    let mut fig = Figment::from(rocket::Config::default())
        .merge(Serialized::default("address", lti.address))
        .merge(Serialized::default("port", lti.port))
        // Form posts are small: a JID, a shared secret, a code. The launch reads at most
        // MAX_LAUNCH_BODY itself.
        .merge(Serialized::default("limits.form", "16 KiB"))
        .merge(Serialized::default("limits.string", "16 KiB"))
        .merge(("shutdown.ctrlc", false))
        .merge(("shutdown.signals", Vec::<String>::new()))
        .merge(("cli_colors", false))
        .merge(Env::prefixed("ROCKET_").only(&["secret_key"]).global())
        .select(profile);
    let configured = fig
        .extract_inner::<rocket::config::SecretKey>("secret_key")
        .is_ok_and(|k| !k.is_zero());
    if !configured {
        let profile = fig.profile().to_string();
        if profile == "release" {
            return Err(
                "ROCKET_SECRET_KEY is not set: the LTI pages need it in production \
                 (make one with `openssl rand -base64 32`)"
                    .into(),
            );
        }
        let mut key = [0u8; 64];
        getrandom::fill(&mut key).map_err(|e| format!("no randomness: {e}"))?;
        tracing::warn!(
            profile,
            "ROCKET_SECRET_KEY is not set: using a random key for this run; \
             learners' pages stop working when the bot restarts"
        );
        fig = fig.merge(("secret_key", key.to_vec()));
    }
    Ok(fig)
}

/// The Rocket app serving `app`.
pub fn rocket(app: App, fig: Figment) -> rocket::Rocket<rocket::Build> {
    // Only the LMS origins the operator named may show the pages in a frame.
    let csp = format!(
        "default-src 'none'; style-src * 'unsafe-inline'; img-src * data:; \
         form-action 'self'; base-uri 'none'; frame-ancestors {}",
        app.lti.frame_ancestors.join(" ")
    );
    rocket::custom(fig)
        .manage(app)
        .mount("/", pages::routes())
        .register("/", error::catchers())
        // Rocket's default shield sends `X-Frame-Options: SAMEORIGIN`, which would keep the
        // pages out of the LMS's iframe: everything but that.
        .attach(Shield::default().disable::<Frame>())
        .attach(AdHoc::on_response("security headers", move |_, res| {
            let csp = csp.clone();
            Box::pin(async move {
                res.set_raw_header("X-Content-Type-Options", "nosniff");
                res.set_raw_header("Referrer-Policy", "no-referrer");
                res.set_raw_header("Cache-Control", "no-store");
                res.set_raw_header("Content-Security-Policy", csp);
            })
        }))
}
