//! The restore point `run` takes before its first pending migration: the
//! server's facts, `pg_create_restore_point`, and the one log line (info, or
//! one warning) that says what happened. What to do is decided by
//! [`crate::restore`].

use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tracing::{info, warn};

use super::{db_error, Param, Session};
use crate::error::Error;
use crate::migration::Version;
use crate::restore::{self, Facts, Missing, RestorePointMode, Step};

const FACTS: &str = include_str!("sql/restore_facts.sql");
const CREATE: &str = include_str!("sql/create_restore_point.sql");

/// Takes the point as `mode` says, before anything is applied: `Ok(Some)`
/// with its name (to record in the history rows), `Ok(None)` when there is
/// none (off, or `auto` could not, after one warning), and
/// [`Error::NoRestorePoint`] when `require` cannot have one.
pub async fn before_migrating(
    session: &Session,
    mode: RestorePointMode,
    from: Option<&Version>,
    to: Option<&Version>,
) -> Result<Option<String>, Error> {
    if mode == RestorePointMode::Off {
        return Ok(None);
    }
    let (facts, stamp) = facts(session).await?;
    let name = restore::point_name(from, to, &stamp);
    let step = match restore::decide(mode, &facts) {
        Step::Create { warning } => match create(session, &name).await? {
            Ok(lsn) => {
                info!(
                    restore_point = name.as_str(),
                    lsn = lsn.as_str(),
                    "restore point {name} taken at {lsn}, before migrating"
                );
                if !warning.is_empty() {
                    warn!(
                        "restore point {name} may be of no use for recovery (SCHEMAGATE_RESTORE_POINT=auto): {}",
                        listed(&warning)
                    );
                }
                return Ok(Some(name));
            }
            Err(missing) => restore::after_failure(mode, missing, warning),
        },
        other => other,
    };
    match step {
        Step::Refuse(missing) => Err(Error::NoRestorePoint(missing)),
        Step::Warn(missing) => {
            warn!(
                "no restore point before migrating (SCHEMAGATE_RESTORE_POINT=auto; `require` would refuse): {}",
                listed(&missing)
            );
            Ok(None)
        }
        Step::Skip | Step::Create { .. } => Ok(None),
    }
}

fn listed(missing: &[Missing]) -> String {
    let each: Vec<String> = missing.iter().map(ToString::to_string).collect();
    each.join("; and ")
}

/// The facts [`restore::decide`] needs, and the server's UTC time for the name.
async fn facts(session: &Session) -> Result<(Facts, String), Error> {
    let row = session
        .client
        .query_typed_one(FACTS, &[])
        .await
        .map_err(db_error("reading the WAL archiving settings"))?;
    let facts = Facts {
        archive_mode: row.get("archive_mode"),
        wal_level: row.get("wal_level"),
        archiver_failing_since: row.get("archiver_failing_since"),
        may_create: row.get("may_create"),
    };
    Ok((facts, row.get("stamp")))
}

/// The point's LSN; `Ok(Err)` when the server would not create it for a
/// reason the setting decides about (no privilege, `wal_level = minimal`).
async fn create(session: &Session, name: &str) -> Result<Result<String, Missing>, Error> {
    let params: [Param; 1] = [(&name, Type::TEXT)];
    match session.client.query_typed_one(CREATE, &params).await {
        Ok(row) => Ok(Ok(row.get("lsn"))),
        Err(e) => match e.code() {
            Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => Ok(Err(Missing::Privilege)),
            // "WAL level not sufficient for creating a restore point"
            Some(c) if *c == SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE => Ok(Err(Missing::WalLevelMinimal)),
            _ => Err(db_error("creating a restore point")(e)),
        },
    }
}
