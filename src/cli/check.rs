//! `otrbot check-config`: validate the settings and, unless offline, log in to the XMPP server
//! and reach the LTI public URL.

use crate::exit::{ExitCode, Failure};
use crate::settings::Settings;
use crate::xmpp::login::Login;
use clap::Args;
use std::path::Path;
use std::time::Duration;

/// Options of `check-config`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only validate the file; contact neither the XMPP server nor the LTI URL.
    #[arg(long)]
    pub offline: bool,
    /// Seconds to wait for the XMPP login.
    #[arg(long, default_value_t = 20, value_name = "SECONDS")]
    pub timeout: u64,
}

/// Prints a summary of valid settings and, unless offline, logs in once to the XMPP server
/// and asks the LTI public URL for `/is_up`.
pub fn check_config(path: &Path, s: &Settings, args: &CheckArgs) -> Result<(), Failure> {
    let acct = s.account();
    outln!("{}: valid", path.display());
    outln!("  account   {} ({})", acct.jid, s.xmpp.default_account);
    outln!(
        "  server    {}:{}",
        acct.host.as_deref().unwrap_or("(from DNS)"),
        acct.port
    );
    let tls = if s.tls.enabled {
        format!("on, at least TLS {}", s.tls.min_version)
    } else {
        "OFF (loopback test server)".into()
    };
    outln!("  tls       {tls}");
    outln!("  data      {}", s.store.data_dir.display());
    outln!(
        "  lti       {} ({} consumers)",
        s.lti.public_url,
        s.lti.consumers.len()
    );
    if args.offline {
        return Ok(());
    }
    // A new learner takes a fresh key: once the ready ones are gone, the key threads set the pace.
    let threads = s.store.key_threads();
    let rate =
        crate::store::keypool::measure_rate(threads, s.store.key_nice, Duration::from_secs(2));
    println!(
        "  keys      {rate:.1} new OTR keys per second with {threads} thread(s): after the {} \
         ready keys, about {rate:.0} new learners per second",
        s.store.key_pool_size
    );
    let login = Login::from_settings(s)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(ExitCode::Unknown, format!("cannot start the runtime: {e}")))?;
    let info = rt.block_on(login.probe(Duration::from_secs(args.timeout)))?;
    let how = info.negotiated.map_or("plain text".to_string(), |n| {
        format!("{} {}", n.version, n.suite)
    });
    outln!("  xmpp      logged in as {} ({how})", login.jid());
    let url = format!("{}/is_up", s.lti.public_url.trim_end_matches('/'));
    let tls = crate::xmpp::tls::client_config(&s.tls)
        .map_err(|e| Failure::new(ExitCode::BadSetting, e.to_string()))?;
    let answer = rt.block_on(crate::lti::outcome::request(
        hyper::Method::GET,
        &url,
        &[],
        String::new(),
        Some(&tls),
        Duration::from_secs(args.timeout),
    ));
    match answer {
        // Any HTTP answer means the public URL (nginx, or Rocket itself) is reachable.
        Ok((status, _)) if (200..300).contains(&status) => {
            outln!("  lti url   {url}: HTTP {status}")
        }
        Ok((status, _)) => {
            outln!("  lti url   {url}: HTTP {status} (reachable; is otrbot running behind it?)")
        }
        Err(e) => {
            return Err(Failure::new(
                ExitCode::Unreachable,
                format!("setting `lti.public_url`: cannot reach {url}: {e}"),
            ))
        }
    }
    Ok(())
}
