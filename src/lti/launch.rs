//! The LTI 1.1 basic launch: OAuth check, nonce and timestamp, required parameters, roles.

use super::oauth;
use crate::lesson::Protocol;
use crate::store::{self, LtiBinding, Store};
use std::collections::BTreeMap;

/// The longest value kept from a launch parameter that goes into the session cookie.
pub const MAX_FIELD: usize = 1024;
/// The longest nonce accepted.
pub const MAX_NONCE: usize = 128;

/// Why a launch was refused (the page says which; details go to the log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    /// A required parameter is missing or empty.
    #[error("missing parameter {0}")]
    Missing(&'static str),
    /// A parameter has a value we do not accept.
    #[error("parameter {0} has an unsupported value")]
    Unsupported(&'static str),
    /// A parameter is too long.
    #[error("parameter {0} is too long")]
    TooLong(&'static str),
    /// The consumer key is not configured.
    #[error("unknown consumer key")]
    UnknownConsumer,
    /// The signature does not match.
    #[error("bad OAuth signature")]
    BadSignature,
    /// The timestamp is outside the window.
    #[error("timestamp outside the allowed window")]
    StaleTimestamp,
    /// The nonce was seen before within the window.
    #[error("replayed nonce")]
    Replayed,
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
}

/// A role as LTI names it, short (`Instructor`) or as a URN (`urn:lti:role:ims/lis/Instructor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Learner or student.
    Learner,
    /// A context role that teaches: instructor, teaching assistant, content developer, or
    /// the context's administrator. Only these see other learners' data.
    Staff,
    /// Anything else: mentors and observers (Canvas sends parents as `Mentor`), members,
    /// and every institution (`urn:lti:instrole:`) or system (`urn:lti:sysrole:`) role.
    Other,
}

/// Parses one role. Only context roles (short names, or `urn:lti:role:ims/lis/…`) can teach:
/// an institution or system role never makes a learner staff (Moodle appends the site
/// administrator's `urn:lti:sysrole:ims/lis/Administrator` to every launch of an admin).
pub fn role(s: &str) -> Role {
    let s = s.trim();
    if s.starts_with("urn:") && !s.starts_with("urn:lti:role:ims/lis/") {
        return Role::Other;
    }
    let name = s.strip_prefix("urn:lti:role:ims/lis/").unwrap_or(s);
    // Sub-roles such as "Instructor/TeachingAssistant" count as their main role.
    let main = name.split('/').next().unwrap_or(name);
    match main {
        "Learner" | "Student" => Role::Learner,
        "Instructor" | "TeachingAssistant" | "ContentDeveloper" | "Administrator" => Role::Staff,
        _ => Role::Other,
    }
}

/// Whether any of `roles` is a context role that teaches (instructor view, no grades).
pub fn is_staff(roles: &[String]) -> bool {
    roles.iter().any(|r| role(r) == Role::Staff)
}

/// A checked launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// What the session keeps of it.
    pub binding: LtiBinding,
    /// `launch_presentation_locale`, if sent.
    pub locale: Option<String>,
    /// Whether the launcher has a staff role.
    pub staff: bool,
    /// The lesson the activity chose (`custom_protocol`), if it chose one.
    pub protocol: Option<Protocol>,
    /// The launcher's name, for the instructor page ([`person_name`]).
    pub name: Option<String>,
}

/// The longest name kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// The launcher's name as LMSes send it: `lis_person_name_full`, else the given and family
/// names (Moodle and Canvas send all three, Brightspace some, Open edX none unless asked);
/// control characters dropped, whitespace folded, at most [`MAX_NAME_CHARS`].
pub fn person_name(params: &[(String, String)]) -> Option<String> {
    let full = one(params, "lis_person_name_full").map(str::to_owned);
    let parts = || {
        let given = one(params, "lis_person_name_given").unwrap_or("");
        let family = one(params, "lis_person_name_family").unwrap_or("");
        format!("{given} {family}")
    };
    let raw = full.filter(|f| !f.trim().is_empty()).unwrap_or_else(parts);
    let name: String = raw
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_NAME_CHARS)
        .collect();
    (!name.is_empty()).then_some(name)
}

/// What a launch is checked against.
pub struct Verifier<'a> {
    /// Consumer key → secret.
    pub consumers: &'a BTreeMap<String, String>,
    /// The public base URL (scheme, host, optional path prefix).
    pub public_url: &'a str,
    /// Seconds the timestamp may differ from `now`.
    pub window: u64,
    /// Where nonces are kept.
    pub store: &'a Store,
}

fn one<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn required<'p>(
    params: &'p [(String, String)],
    name: &'static str,
) -> Result<&'p str, LaunchError> {
    match one(params, name).map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(LaunchError::Missing(name)),
    }
}

fn bounded(v: Option<&str>, name: &'static str) -> Result<Option<String>, LaunchError> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) if v.len() > MAX_FIELD => Err(LaunchError::TooLong(name)),
        Some(v) => Ok(Some(v.to_owned())),
        None => Ok(None),
    }
}

/// The most parameters a launch may carry (query, form body and header together).
pub const MAX_PARAMS: usize = 512;

/// All parameters of a launch: the query, the form body (when the request is a form) and
/// the `Authorization: OAuth` header; `None` when there are more than [`MAX_PARAMS`].
pub fn launch_params(
    query: Option<&str>,
    form: Option<&str>,
    authorization: Option<&str>,
) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    if let Some(q) = query {
        params.extend(oauth::parse_form(q));
    }
    if let Some(body) = form {
        params.extend(oauth::parse_form(body));
    }
    if let Some(h) = authorization.filter(|h| h.trim_start().len() > 6) {
        if let Some(p) = oauth::parse_authorization(h) {
            params.extend(p);
        }
    }
    (params.len() <= MAX_PARAMS).then_some(params)
}

/// The full URL whose base URI is signed: the public base URL plus the request path.
pub fn public_request_url(public_url: &str, path: &str) -> String {
    format!("{}{}", public_url.trim_end_matches('/'), path)
}

impl Verifier<'_> {
    /// Checks a launch POSTed to `path` with `params` (query, body and Authorization header
    /// parameters together) at `now`; records its nonce.
    pub fn check(
        &self,
        path: &str,
        params: &[(String, String)],
        now: u64,
    ) -> Result<Launch, LaunchError> {
        let key = required(params, "oauth_consumer_key")?;
        let sig = required(params, "oauth_signature")?;
        let nonce = required(params, "oauth_nonce")?;
        let ts = required(params, "oauth_timestamp")?;
        if required(params, "oauth_signature_method")? != "HMAC-SHA1" {
            return Err(LaunchError::Unsupported("oauth_signature_method"));
        }
        if one(params, "oauth_version").is_some_and(|v| v != "1.0") {
            return Err(LaunchError::Unsupported("oauth_version"));
        }
        if nonce.len() > MAX_NONCE {
            return Err(LaunchError::TooLong("oauth_nonce"));
        }
        let secret = self
            .consumers
            .get(key)
            .ok_or(LaunchError::UnknownConsumer)?;
        let url = public_request_url(self.public_url, path);
        let uri = oauth::base_uri(&url).map_err(|_| LaunchError::Unsupported("public_url"))?;
        if !oauth::verify(&oauth::base_string("POST", &uri, params), secret, sig) {
            return Err(LaunchError::BadSignature);
        }
        let ts: u64 = ts
            .parse()
            .map_err(|_| LaunchError::Unsupported("oauth_timestamp"))?;
        if ts.abs_diff(now) > self.window {
            return Err(LaunchError::StaleTimestamp);
        }
        // Keep the nonce for as long as a timestamp could still be accepted.
        let expires = ts.saturating_add(self.window).max(now).saturating_add(1);
        let fresh = self
            .store
            .nonce_check_and_store(key, nonce, expires, now)
            .map_err(|e: store::Error| LaunchError::Store(e.to_string()))?;
        if !fresh {
            return Err(LaunchError::Replayed);
        }
        lti_params(key, params)
    }
}

/// Checks the LTI parameters of an (authenticated) launch.
pub fn lti_params(consumer_key: &str, params: &[(String, String)]) -> Result<Launch, LaunchError> {
    if required(params, "lti_message_type")? != "basic-lti-launch-request" {
        return Err(LaunchError::Unsupported("lti_message_type"));
    }
    if !matches!(
        required(params, "lti_version")?,
        "LTI-1p0" | "LTI-1p1" | "LTI-1p2"
    ) {
        return Err(LaunchError::Unsupported("lti_version"));
    }
    let resource_link_id = required(params, "resource_link_id")?;
    if resource_link_id.len() > 255 {
        return Err(LaunchError::TooLong("resource_link_id"));
    }
    let roles: Vec<String> = one(params, "roles")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .take(32)
        .collect();
    if roles.iter().any(|r| r.len() > 255) {
        return Err(LaunchError::TooLong("roles"));
    }
    let staff = is_staff(&roles);
    let user_id = bounded(one(params, "user_id"), "user_id")?.unwrap_or_default();
    if user_id.len() > 255 {
        return Err(LaunchError::TooLong("user_id"));
    }
    let outcome_service_url = bounded(
        one(params, "lis_outcome_service_url"),
        "lis_outcome_service_url",
    )?
    .filter(|u| oauth::base_uri(u).is_ok());
    let binding = LtiBinding {
        consumer_key: consumer_key.to_owned(),
        resource_link_id: resource_link_id.to_owned(),
        context_id: bounded(one(params, "context_id"), "context_id")?,
        user_id,
        outcome_service_url,
        result_sourcedid: bounded(one(params, "lis_result_sourcedid"), "lis_result_sourcedid")?,
        return_url: bounded(
            one(params, "launch_presentation_return_url"),
            "launch_presentation_return_url",
        )?
        .filter(|u| oauth::base_uri(u).is_ok()),
        roles,
    };
    let locale = bounded(
        one(params, "launch_presentation_locale"),
        "launch_presentation_locale",
    )?
    .filter(|l| l.len() <= 35);
    // The custom parameter `protocol` as the LMS sends it (LTI 1.1 prefixes `custom_`; the
    // name is lower-cased and non-alphanumerics become `_`, so `Protocol` arrives like this).
    let protocol = match one(params, "custom_protocol").map(str::trim) {
        None | Some("") => None,
        Some(v) => Some(Protocol::parse(v).ok_or(LaunchError::Unsupported("custom_protocol"))?),
    };
    Ok(Launch {
        binding,
        locale,
        staff,
        protocol,
        name: person_name(params),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_lmses_send_them() {
        let name =
            |ps: &[(&str, &str)]| person_name(&ps.iter().map(|(n, v)| p(n, v)).collect::<Vec<_>>());
        assert_eq!(
            name(&[("lis_person_name_full", " Ada  Lovelace ")]).as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            name(&[
                ("lis_person_name_full", ""),
                ("lis_person_name_given", "Grace"),
                ("lis_person_name_family", "Hopper")
            ])
            .as_deref(),
            Some("Grace Hopper")
        );
        assert_eq!(
            name(&[("lis_person_name_given", "Alan\u{0}\n")]).as_deref(),
            Some("Alan")
        );
        assert_eq!(name(&[("lis_person_name_family", " ")]), None);
        assert_eq!(name(&[]), None);
        let long = "x".repeat(5000);
        assert_eq!(
            name(&[("lis_person_name_full", &long)])
                .unwrap()
                .chars()
                .count(),
            MAX_NAME_CHARS
        );
    }

    fn p(n: &str, v: &str) -> (String, String) {
        (n.to_owned(), v.to_owned())
    }

    #[test]
    fn roles_in_both_forms() {
        assert_eq!(role("Instructor"), Role::Staff);
        assert_eq!(role("urn:lti:role:ims/lis/Instructor"), Role::Staff);
        assert_eq!(role("urn:lti:role:ims/lis/TeachingAssistant"), Role::Staff);
        assert_eq!(role("urn:lti:role:ims/lis/ContentDeveloper"), Role::Staff);
        assert_eq!(role("urn:lti:role:ims/lis/Administrator"), Role::Staff);
        assert_eq!(
            role("urn:lti:role:ims/lis/Instructor/TeachingAssistant"),
            Role::Staff
        );
        assert_eq!(role("Learner"), Role::Learner);
        assert_eq!(
            role("urn:lti:role:ims/lis/Learner/NonCreditLearner"),
            Role::Learner
        );
        assert_eq!(role(" Student "), Role::Learner);
        assert_eq!(role("urn:lti:role:ims/lis/Observer"), Role::Other);
        assert!(is_staff(&["Learner".into(), "Instructor".into()]));
        assert!(!is_staff(&["Learner".into()]));
    }

    #[test]
    fn only_context_roles_that_teach_are_staff() {
        // Canvas's observers (parents) and mentors see no one else's progress.
        for r in [
            "Mentor",
            "urn:lti:role:ims/lis/Mentor",
            "urn:lti:role:ims/lis/Mentor/Advisor",
            "Member",
            "urn:lti:role:ims/lis/Member",
        ] {
            assert_eq!(role(r), Role::Other, "{r}");
        }
        // Institution and system roles never make a learner staff.
        for r in [
            "urn:lti:instrole:ims/lis/Administrator",
            "urn:lti:instrole:ims/lis/Faculty",
            "urn:lti:instrole:ims/lis/Instructor",
            "urn:lti:sysrole:ims/lis/Administrator",
            "urn:lti:sysrole:ims/lis/SysAdmin",
        ] {
            assert_eq!(role(r), Role::Other, "{r}");
        }
        // What Moodle sends for a site administrator enrolled as a student.
        let moodle_admin: Vec<String> = [
            "Learner",
            "urn:lti:sysrole:ims/lis/Administrator",
            "urn:lti:instrole:ims/lis/Administrator",
        ]
        .map(String::from)
        .to_vec();
        assert!(!is_staff(&moodle_admin));
        assert!(is_staff(&[
            "Instructor".into(),
            "urn:lti:sysrole:ims/lis/Administrator".into()
        ]));
    }

    #[test]
    fn the_activity_chooses_the_lesson_and_a_bad_choice_is_named() {
        let base = vec![
            p("lti_message_type", "basic-lti-launch-request"),
            p("lti_version", "LTI-1p0"),
            p("resource_link_id", "r1"),
        ];
        assert_eq!(lti_params("k", &base).unwrap().protocol, None);
        for (v, want) in [("omemo", Protocol::Omemo), (" OTR ", Protocol::Otr)] {
            let mut l = base.clone();
            l.push(p("custom_protocol", v));
            assert_eq!(lti_params("k", &l).unwrap().protocol, Some(want));
        }
        let mut bad = base;
        bad.push(p("custom_protocol", "pgp"));
        assert_eq!(
            lti_params("k", &bad),
            Err(LaunchError::Unsupported("custom_protocol"))
        );
    }

    #[test]
    fn lti_parameters_checked() {
        let good = vec![
            p("lti_message_type", "basic-lti-launch-request"),
            p("lti_version", "LTI-1p0"),
            p("resource_link_id", "r1"),
            p("roles", "Learner,urn:lti:role:ims/lis/Learner"),
            p("lis_outcome_service_url", "javascript:alert(1)"),
            p(
                "launch_presentation_return_url",
                "https://lms.example.org/back",
            ),
        ];
        let l = lti_params("k", &good).unwrap();
        assert!(!l.staff);
        assert_eq!(l.binding.outcome_service_url, None);
        assert_eq!(
            l.binding.return_url.as_deref(),
            Some("https://lms.example.org/back")
        );
        for (i, name) in ["lti_message_type", "lti_version", "resource_link_id"]
            .iter()
            .enumerate()
        {
            let mut bad = good.clone();
            bad.remove(i);
            assert_eq!(lti_params("k", &bad), Err(LaunchError::Missing(name)));
        }
        let mut bad = good.clone();
        bad[0].1 = "ContentItemSelectionRequest".into();
        assert_eq!(
            lti_params("k", &bad),
            Err(LaunchError::Unsupported("lti_message_type"))
        );
        let mut long = good;
        long.push(p("context_id", &"x".repeat(MAX_FIELD + 1)));
        assert_eq!(
            lti_params("k", &long),
            Err(LaunchError::TooLong("context_id"))
        );
    }
}
