//! Restore points before a run changes anything, as pure decisions: the
//! point's name, and what `SCHEMAGATE_RESTORE_POINT` makes of what the
//! server says about its WAL archiving (take the point, warn and go on, or
//! refuse). The round trips are in `db::restore`.
//!
//! A failed transactional migration rolls back by itself; a restore point is
//! for the migration that succeeds and is wrong (a `DROP COLUMN` with data).
//! Point-in-time recovery can stop at a named point only if the point is in
//! WAL that reaches an archive, hence the checks.

use std::fmt;

use crate::migration::Version;

/// `SCHEMAGATE_RESTORE_POINT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestorePointMode {
    /// Take the point where the server allows it; warn once where it cannot
    /// be taken or would not reach an archive, and go on.
    Auto,
    /// Refuse to migrate (exit 3, nothing applied) unless WAL archiving is
    /// on and healthy and the point was taken.
    Require,
    Off,
}

impl RestorePointMode {
    pub const WORDS: &'static [&'static str] = &["auto", "require", "off"];

    pub fn parse(text: &str) -> Result<RestorePointMode, String> {
        match text {
            "auto" => Ok(RestorePointMode::Auto),
            "require" => Ok(RestorePointMode::Require),
            "off" => Ok(RestorePointMode::Off),
            other => Err(format!("'{other}' is not auto, require or off")),
        }
    }
}

/// What the server said before the point is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// `archive_mode`: off, on or always.
    pub archive_mode: String,
    /// `wal_level`: minimal, replica or logical.
    pub wal_level: String,
    /// When the archiver last failed, if that is later than its last success
    /// (or it never succeeded): archiving is broken right now.
    pub archiver_failing_since: Option<String>,
    /// Whether the role may execute `pg_create_restore_point(text)`.
    pub may_create: bool,
}

/// Why a point would be missing, or would never reach an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// The role may not execute `pg_create_restore_point` (SQLSTATE 42501).
    Privilege,
    /// `wal_level = minimal`: the server refuses to create restore points.
    WalLevelMinimal,
    /// `archive_mode` is off: the point is written to WAL that no archive keeps.
    ArchiveModeOff,
    /// `pg_stat_archiver` shows a failure newer than its last success.
    ArchiverFailing { since: String },
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Privilege => write!(
                f,
                "the role may not execute pg_create_restore_point (it needs superuser or \
                 GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO <the role>)"
            ),
            Missing::WalLevelMinimal => write!(
                f,
                "wal_level is minimal, where the server creates no restore points (set wal_level = replica)"
            ),
            Missing::ArchiveModeOff => write!(
                f,
                "archive_mode is off, so the point would never reach a WAL archive to recover from"
            ),
            Missing::ArchiverFailing { since } => write!(
                f,
                "WAL archiving is failing (pg_stat_archiver: last failure at {since}, after the last success)"
            ),
        }
    }
}

/// What to do before the first pending migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Skip,
    /// Take the point; then warn about `warning` (auto), when not empty.
    Create {
        warning: Vec<Missing>,
    },
    /// Go on without a point, warning once.
    Warn(Vec<Missing>),
    /// Apply nothing (exit 3).
    Refuse(Vec<Missing>),
}

/// The decision, from the setting and the server's facts. Taking a point
/// the archive will never see still costs nothing and names a position in
/// the WAL (a `pg_receivewal` stream keeps it), so `auto` takes it and warns.
pub fn decide(mode: RestorePointMode, facts: &Facts) -> Step {
    let mut blocking = Vec::new();
    if !facts.may_create {
        blocking.push(Missing::Privilege);
    }
    if facts.wal_level == "minimal" {
        blocking.push(Missing::WalLevelMinimal);
    }
    let mut unarchived = Vec::new();
    if !matches!(facts.archive_mode.as_str(), "on" | "always") {
        unarchived.push(Missing::ArchiveModeOff);
    } else if let Some(since) = &facts.archiver_failing_since {
        unarchived.push(Missing::ArchiverFailing { since: since.clone() });
    }
    match mode {
        RestorePointMode::Off => Step::Skip,
        RestorePointMode::Require if !blocking.is_empty() || !unarchived.is_empty() => {
            Step::Refuse(blocking.into_iter().chain(unarchived).collect())
        }
        RestorePointMode::Auto if !blocking.is_empty() => Step::Warn(blocking.into_iter().chain(unarchived).collect()),
        RestorePointMode::Require | RestorePointMode::Auto => Step::Create { warning: unarchived },
    }
}

/// When `pg_create_restore_point` itself failed for want of `missing`
/// (`warning`: what [`decide`] already found lacking), so that the one
/// warning or refusal names all of it.
pub fn after_failure(mode: RestorePointMode, missing: Missing, warning: Vec<Missing>) -> Step {
    let all = std::iter::once(missing).chain(warning).collect();
    match mode {
        RestorePointMode::Require => Step::Refuse(all),
        RestorePointMode::Auto | RestorePointMode::Off => Step::Warn(all),
    }
}

/// Restore point names are at most 63 bytes (the server's MAXFNAMELEN less
/// its terminator).
pub const MAX_NAME: usize = 63;
const PREFIX: &str = "schemagate-";

/// `schemagate-<from>-to-<to>-<timestamp>`: `from` is the database's version
/// before the run (`none` when empty), `to` the version the run is going to,
/// `timestamp` the server's UTC time (`20260102T030405Z`). Anything outside
/// `[A-Za-z0-9._-]` becomes `_`, so the name is safe to paste into a
/// recovery configuration or a shell. Over 63 bytes, the versions are cut
/// (their ends kept, where versions differ); the timestamp is always kept.
pub fn point_name(from: Option<&Version>, to: Option<&Version>, timestamp: &str) -> String {
    let text = |v: Option<&Version>| safe(&v.map_or_else(|| "none".to_string(), Version::to_string));
    let (from, to, stamp) = (text(from), text(to), safe(timestamp));
    let fixed = PREFIX.len() + "-to-".len() + 1 + stamp.len();
    let room = MAX_NAME.saturating_sub(fixed);
    let (from, to) = if from.len() + to.len() <= room {
        (from, to)
    } else {
        let half = room / 2;
        let to_room = room - half.min(from.len());
        let to = tail(&to, to_room);
        (tail(&from, room - to.len()), to)
    };
    let name = format!("{PREFIX}{from}-to-{to}-{stamp}");
    name[..name.len().min(MAX_NAME)].to_string()
}

fn safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The last `n` bytes (the text is ASCII by then).
fn tail(text: &str, n: usize) -> String {
    text[text.len().saturating_sub(n)..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(archive_mode: &str, may_create: bool) -> Facts {
        Facts {
            archive_mode: archive_mode.into(),
            wal_level: "replica".into(),
            archiver_failing_since: None,
            may_create,
        }
    }

    fn v(text: &str) -> Version {
        text.parse().unwrap()
    }

    #[test]
    fn names_say_from_where_to_where_and_when() {
        let name = point_name(Some(&v("3")), Some(&v("5")), "20260102T030405Z");
        assert_eq!(name, "schemagate-3-to-5-20260102T030405Z");
        let first = point_name(None, Some(&v("1.1")), "20260102T030405Z");
        assert_eq!(first, "schemagate-none-to-1.1-20260102T030405Z");
    }

    #[test]
    fn long_names_keep_the_timestamp_and_fit_63_bytes() {
        let from = v("20240101120000.1.2.3.4.5.6.7.8.9");
        let to = v("20250101120000.1.2.3.4.5.6.7.8.9.10.11.12");
        let name = point_name(Some(&from), Some(&to), "20260102T030405Z");
        assert!(name.len() <= MAX_NAME, "{name} is {} bytes", name.len());
        assert!(
            name.starts_with("schemagate-") && name.ends_with("-20260102T030405Z"),
            "{name}"
        );
        assert!(name.contains("-to-") && name.contains(".10.11.12-"), "{name}");
    }

    #[test]
    fn names_hold_only_safe_characters() {
        let name = point_name(Some(&v("1")), Some(&v("2")), "2026-01-02 03:04:05+00'; --");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)),
            "{name}"
        );
        assert!(name.len() <= MAX_NAME);
    }

    #[test]
    fn auto_takes_the_point_and_warns_when_no_archive_would_keep_it() {
        assert_eq!(
            decide(RestorePointMode::Auto, &facts("on", true)),
            Step::Create { warning: vec![] }
        );
        assert_eq!(
            decide(RestorePointMode::Auto, &facts("off", true)),
            Step::Create {
                warning: vec![Missing::ArchiveModeOff]
            }
        );
        assert_eq!(
            decide(RestorePointMode::Auto, &facts("off", false)),
            Step::Warn(vec![Missing::Privilege, Missing::ArchiveModeOff])
        );
        let minimal = Facts {
            wal_level: "minimal".into(),
            ..facts("off", true)
        };
        assert_eq!(
            decide(RestorePointMode::Auto, &minimal),
            Step::Warn(vec![Missing::WalLevelMinimal, Missing::ArchiveModeOff])
        );
    }

    #[test]
    fn require_refuses_unless_archiving_is_on_and_healthy() {
        assert_eq!(
            decide(RestorePointMode::Require, &facts("always", true)),
            Step::Create { warning: vec![] }
        );
        assert_eq!(
            decide(RestorePointMode::Require, &facts("off", true)),
            Step::Refuse(vec![Missing::ArchiveModeOff])
        );
        assert_eq!(
            decide(RestorePointMode::Require, &facts("on", false)),
            Step::Refuse(vec![Missing::Privilege])
        );
        let failing = Facts {
            archiver_failing_since: Some("2026-01-02T03:04:05Z".into()),
            ..facts("on", true)
        };
        let Step::Refuse(missing) = decide(RestorePointMode::Require, &failing) else {
            panic!("a failing archiver is not refused");
        };
        assert!(missing[0].to_string().contains("2026-01-02T03:04:05Z"));
    }

    #[test]
    fn off_skips_and_a_failed_creation_follows_the_mode() {
        assert_eq!(decide(RestorePointMode::Off, &facts("off", false)), Step::Skip);
        assert_eq!(
            after_failure(RestorePointMode::Require, Missing::Privilege, vec![]),
            Step::Refuse(vec![Missing::Privilege])
        );
        assert_eq!(
            after_failure(
                RestorePointMode::Auto,
                Missing::Privilege,
                vec![Missing::ArchiveModeOff]
            ),
            Step::Warn(vec![Missing::Privilege, Missing::ArchiveModeOff])
        );
        assert_eq!(RestorePointMode::parse("require"), Ok(RestorePointMode::Require));
        assert!(RestorePointMode::parse("on").is_err());
    }
}
