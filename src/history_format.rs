//! The history table's own format, and how schemagate migrates its own
//! table: pure decisions over what the catalog says about the table.
//!
//! The table carries a marker in its comment,
//! `schemagate history format=N compatible=M; ...`: N is the format that
//! wrote it, M the oldest format whose readers and writers still handle it
//! correctly (a nullable column added with a default keeps M; a change of
//! meaning raises it). A binary that knows format K:
//! - uses the table as it is when N = K, or when N > K but M <= K (a newer
//!   release added something it can ignore; an older image after a rollback
//!   keeps working);
//! - upgrades it in place when N < K and it may write (under the migration
//!   lock, all steps in one transaction), and reads it with that format's
//!   query when it may not (`verify`, `status`, `plan`);
//! - refuses, changing nothing, when M > K.
//!
//! Format 1 (schemagate 0.1) had no marker: a table with the format-1
//! columns and no marker is format 1. Its `version` column was a bigint;
//! format 2 holds versions as canonical text in `migration_version`, so a
//! 0.1 binary meeting a converted table stops at its first query
//! ('column "version" does not exist') and never writes to it.

use std::fmt;

/// The format this binary writes.
pub const CURRENT: u32 = 2;

/// The marker's text for the current format.
pub fn marker() -> String {
    format!(
        "schemagate history format={CURRENT} compatible={CURRENT}; the migrations applied to this database. \
         Upgraded in place by schemagate itself: do not edit its layout."
    )
}

/// What the catalog says about the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Missing,
    Present {
        comment: Option<String>,
        columns: Vec<String>,
    },
}

/// The table's format, as read from its marker (or its columns, for 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    pub format: u32,
    pub compatible: u32,
}

/// Whether the command may change the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    ReadOnly,
}

/// What to do with the table before reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// No table: nothing is applied. Writers create it (in the current format).
    Create,
    /// Read (and write) it with the current format's statements.
    Use,
    /// Read it with this older format's query; the table stays as it is.
    ReadAs(u32),
    /// Run the upgrade steps to these formats, in order, in one transaction.
    Upgrade(Vec<u32>),
    Refuse(Refusal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The name is taken by a table that is not a schemagate history.
    NotOurs { columns: Vec<String> },
    /// Written by a newer schemagate in a way this one cannot handle.
    TooNew(Format),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotOurs { columns } => write!(
                f,
                "exists but is not a schemagate history table (no format marker in its comment, and columns [{}]); \
                 set SCHEMAGATE_HISTORY_TABLE to another name",
                columns.join(", ")
            ),
            Refusal::TooNew(found) => write!(
                f,
                "has history format {} (readable from format {} on), written by a newer schemagate; this one \
                 knows format {CURRENT}. Nothing was changed: run a schemagate at least as new as the one that \
                 wrote it",
                found.format, found.compatible
            ),
        }
    }
}

/// The columns that make a marker-less table format 1.
const FORMAT_1_COLUMNS: &[&str] = &[
    "id",
    "version",
    "name",
    "checksum",
    "kind",
    "applied_at",
    "execution_ms",
    "success",
    "applied_by",
];

/// Reads the marker: `format=N compatible=M` after `schemagate history`.
pub fn parse_marker(comment: &str) -> Option<Format> {
    let rest = comment.strip_prefix("schemagate history ")?;
    let mut format = None;
    let mut compatible = None;
    for word in rest.split(|c: char| c.is_whitespace() || c == ';') {
        if let Some(n) = word.strip_prefix("format=") {
            format = n.parse().ok();
        } else if let Some(n) = word.strip_prefix("compatible=") {
            compatible = n.parse().ok();
        }
    }
    let format = format?;
    Some(Format {
        format,
        compatible: compatible.unwrap_or(format),
    })
}

/// The table's format, or why it is not a history table.
pub fn identify(comment: Option<&str>, columns: &[String]) -> Result<Format, Refusal> {
    if let Some(found) = comment.and_then(parse_marker) {
        return Ok(found);
    }
    if FORMAT_1_COLUMNS.iter().all(|c| columns.iter().any(|have| have == c)) {
        return Ok(Format {
            format: 1,
            compatible: 1,
        });
    }
    Err(Refusal::NotOurs {
        columns: columns.to_vec(),
    })
}

/// What to do, given what the catalog says and whether we may write.
pub fn decide(found: &Found, mode: Mode) -> Action {
    let (comment, columns) = match found {
        Found::Missing => return Action::Create,
        Found::Present { comment, columns } => (comment.as_deref(), columns),
    };
    let format = match identify(comment, columns) {
        Ok(f) => f,
        Err(refusal) => return Action::Refuse(refusal),
    };
    if format.compatible > CURRENT {
        return Action::Refuse(Refusal::TooNew(format));
    }
    match (format.format >= CURRENT, mode) {
        (true, _) => Action::Use,
        (false, Mode::Write) => Action::Upgrade((format.format + 1..=CURRENT).collect()),
        (false, Mode::ReadOnly) => Action::ReadAs(format.format),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn present(comment: Option<&str>, columns: &[&str]) -> Found {
        Found::Present {
            comment: comment.map(str::to_string),
            columns: columns.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn the_marker_round_trips() {
        assert_eq!(
            parse_marker(&marker()),
            Some(Format {
                format: CURRENT,
                compatible: CURRENT
            })
        );
        assert_eq!(
            parse_marker("schemagate history format=7; x"),
            Some(Format {
                format: 7,
                compatible: 7
            })
        );
        assert_eq!(parse_marker("the orders"), None);
    }

    #[test]
    fn a_format_1_table_is_upgraded_by_writers_and_read_as_is_by_readers() {
        let old = present(None, FORMAT_1_COLUMNS);
        assert_eq!(decide(&old, Mode::Write), Action::Upgrade(vec![2]));
        assert_eq!(decide(&old, Mode::ReadOnly), Action::ReadAs(1));
        assert_eq!(decide(&Found::Missing, Mode::ReadOnly), Action::Create);
        assert_eq!(decide(&present(Some(&marker()), &[]), Mode::Write), Action::Use);
    }

    #[test]
    fn newer_formats_are_used_when_compatible_and_refused_otherwise() {
        let compatible = present(Some("schemagate history format=9 compatible=2;"), &[]);
        assert_eq!(decide(&compatible, Mode::Write), Action::Use);
        let incompatible = present(Some("schemagate history format=9 compatible=9;"), &[]);
        let Action::Refuse(why) = decide(&incompatible, Mode::ReadOnly) else {
            panic!("not refused")
        };
        assert!(why.to_string().contains("has history format 9"), "{why}");
    }

    #[test]
    fn a_foreign_table_of_that_name_is_refused() {
        let Action::Refuse(why) = decide(&present(Some("orders"), &["id", "total"]), Mode::Write) else {
            panic!("not refused")
        };
        assert!(why.to_string().contains("[id, total]"), "{why}");
    }
}
