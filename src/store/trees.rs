//! Every sled tree the store uses, named in one place, with its key and value layout.

/// `"schema_version"` → u32 big-endian. Checked at open.
pub const META: &str = "meta";
/// Bare JID → [`WhitelistEntry`](super::WhitelistEntry).
pub const WHITELIST: &str = "whitelist";
/// Bare JID → [`StoredSession`](super::StoredSession).
pub const SESSIONS: &str = "sessions";
/// Due time (u64 big-endian) || bare JID → [`DeadlineKind`](super::DeadlineKind).
pub const DEADLINES: &str = "deadlines";
/// Bare JID → the session's OTR private key (opaque [`SecretBytes`](super::SecretBytes)).
pub const OTR_KEYS: &str = "otr_keys";
/// Bare JID → the session's OTR channel state (opaque [`SecretBytes`](super::SecretBytes)).
pub const OTR_CHANNELS: &str = "otr_channels";
/// Bare JID → when the session's OTR channel next wants its timer (u64, Unix seconds).
pub const OTR_TIMERS: &str = "otr_timers";
/// Due time (u64 big-endian) || bare JID → `()`: the OTR timers by due time, for the scanner.
pub const OTR_TIMER_INDEX: &str = "otr_timer_index";
/// Bare JID → each lesson stage the session entered after its first, with when
/// (`Vec<(String, u64)>`, stage name and Unix seconds, in order), for the instructor page.
pub const STAGE_TIMES: &str = "stage_times";
/// Id (u64 big-endian) → a pre-generated private key (opaque [`SecretBytes`](super::SecretBytes)).
pub const KEY_POOL: &str = "key_pool";
/// u16 big-endian length || consumer key || nonce → expiry (u64, Unix seconds).
pub const LTI_NONCES: &str = "lti_nonces";
/// Expiry (u64 big-endian) || nonce key → `()`: which nonces to prune, by range scan.
pub const LTI_NONCE_EXPIRY: &str = "lti_nonce_expiry";
/// Id (u64 big-endian) → [`GradeRequest`](super::GradeRequest).
pub const GRADE_OUTBOX: &str = "grade_outbox";

/// Visit id (32 random bytes) → (expiry, the visit as the pages encode it).
pub const LTI_VISITS: &str = "lti_visits";
/// Expiry (u64 big-endian) || visit id → `()`: which visits to prune, by range scan.
pub const LTI_VISIT_EXPIRY: &str = "lti_visit_expiry";
/// LMS learner (consumer key, resource link, user id) → the JIDs they put through the bot,
/// each with when (`Vec<(String, u64)>`).
pub const LTI_CLAIMS: &str = "lti_claims";
/// LMS learner (as in [`LTI_CLAIMS`]) → their name as the LMS last sent it (`String`), for the
/// instructor page.
pub const LTI_NAMES: &str = "lti_names";

/// `"device"` → the bot's own (true) OMEMO device, `"impostor"` → the device the OMEMO lesson
/// lists beside it for learners to refuse (each opaque [`SecretBytes`](super::SecretBytes)).
pub const OMEMO: &str = "omemo";
/// The key of the bot's true device in [`OMEMO`].
pub const OMEMO_DEVICE_KEY: &[u8] = b"device";
/// The key of the impostor device in [`OMEMO`].
pub const OMEMO_IMPOSTOR_KEY: &[u8] = b"impostor";

/// The meta key holding the schema version.
pub const SCHEMA_KEY: &[u8] = b"schema_version";

/// Every data tree (all but [`META`]), to tell a fresh store from one without a version.
pub const DATA_TREES: [&str; 17] = [
    WHITELIST,
    SESSIONS,
    DEADLINES,
    OTR_KEYS,
    OTR_CHANNELS,
    OTR_TIMERS,
    OTR_TIMER_INDEX,
    STAGE_TIMES,
    KEY_POOL,
    LTI_NONCES,
    LTI_NONCE_EXPIRY,
    GRADE_OUTBOX,
    LTI_VISITS,
    LTI_VISIT_EXPIRY,
    LTI_CLAIMS,
    LTI_NAMES,
    OMEMO,
];

/// The open trees.
#[derive(Clone)]
pub(crate) struct Trees {
    pub meta: sled::Tree,
    pub whitelist: sled::Tree,
    pub sessions: sled::Tree,
    pub deadlines: sled::Tree,
    pub otr_keys: sled::Tree,
    pub otr_channels: sled::Tree,
    pub otr_timers: sled::Tree,
    pub otr_timer_index: sled::Tree,
    pub key_pool: sled::Tree,
    pub nonces: sled::Tree,
    pub nonce_expiry: sled::Tree,
    pub outbox: sled::Tree,
    pub visits: sled::Tree,
    pub visit_expiry: sled::Tree,
    pub claims: sled::Tree,
    pub names: sled::Tree,
    pub stage_times: sled::Tree,
    pub omemo: sled::Tree,
}

impl Trees {
    pub(crate) fn open(db: &sled::Db) -> sled::Result<Self> {
        Ok(Trees {
            meta: db.open_tree(META)?,
            whitelist: db.open_tree(WHITELIST)?,
            sessions: db.open_tree(SESSIONS)?,
            deadlines: db.open_tree(DEADLINES)?,
            otr_keys: db.open_tree(OTR_KEYS)?,
            otr_channels: db.open_tree(OTR_CHANNELS)?,
            otr_timers: db.open_tree(OTR_TIMERS)?,
            otr_timer_index: db.open_tree(OTR_TIMER_INDEX)?,
            key_pool: db.open_tree(KEY_POOL)?,
            nonces: db.open_tree(LTI_NONCES)?,
            nonce_expiry: db.open_tree(LTI_NONCE_EXPIRY)?,
            outbox: db.open_tree(GRADE_OUTBOX)?,
            visits: db.open_tree(LTI_VISITS)?,
            visit_expiry: db.open_tree(LTI_VISIT_EXPIRY)?,
            claims: db.open_tree(LTI_CLAIMS)?,
            names: db.open_tree(LTI_NAMES)?,
            stage_times: db.open_tree(STAGE_TIMES)?,
            omemo: db.open_tree(OMEMO)?,
        })
    }
}
