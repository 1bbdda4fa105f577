//! The shadow database (`SCHEMAGATE_SHADOW_URL`), where pending migrations
//! are run to measure their locks: opening a given one (it must be empty and
//! not the target), or with `auto` creating one on the target's server and
//! dropping it again on every path, and dropping the ones killed runs left.
//!
//! The target itself is only read here (`target_sizes`); `auto`'s CREATE and
//! DROP DATABASE go through a session of their own and write nothing into the
//! target database, only the server's list of databases.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tracing::{debug, info, warn};

use super::{db_error, describe, wait_for_db, Access, Param, Session};
use crate::config::{quote_ident, Config, CreateDatabase, ShadowSpec};
use crate::error::Error;
use crate::locks::{live_rows, Size};
use crate::signal::Interrupt;

const IDENTITY: &str = include_str!("sql/shadow_identity.sql");
const CONTENTS: &str = include_str!("sql/shadow_contents.sql");
const STALE: &str = include_str!("sql/shadow_stale.sql");
const TARGET_SIZES: &str = include_str!("sql/target_sizes.sql");

/// `auto` databases are `schemagate_shadow_<server epoch seconds>_<random>`.
const PREFIX: &str = "schemagate_shadow_";

/// A stale shadow is one nobody is connected to and older than this. Its run
/// connects within milliseconds of creating it; the margin keeps a cleaner
/// from dropping a database between its creation and that first session.
const STALE_AFTER_SECS: i64 = 600;

/// How long dropping the shadow may take on the way out (after SIGTERM too:
/// the runner's grace period is short).
const DROP_WITHIN: Duration = Duration::from_secs(5);

/// An opened shadow database.
pub struct Shadow {
    /// The measuring session.
    pub session: Session,
    pub pid: i32,
    pub database: String,
    pub server: Identity,
    /// For `auto`: the session on the target's server that created the
    /// database and drops it.
    owner: Option<Session>,
    /// A second session, opened on first use, that watches statements run
    /// outside a transaction block.
    watcher: OnceCell<(Session, i32)>,
    config: Config,
}

/// Which server and database a session is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `pg_control_system().system_identifier`, unless the role may not read it.
    pub system: Option<i64>,
    pub database: i64,
    pub version_num: i32,
    pub version: String,
    pub track_counts: bool,
}

impl Identity {
    pub fn major(&self) -> i32 {
        self.version_num / 10000
    }
}

pub async fn identity(session: &Session) -> Result<Identity, Error> {
    let row = session
        .client
        .query_typed_one(IDENTITY, &[])
        .await
        .map_err(db_error(format!("reading the server identity of {}", session.target)))?;
    Ok(Identity {
        system: row.get("system"),
        database: row.get("database"),
        version_num: row.get("version_num"),
        version: row.get("version"),
        track_counts: row.get("track_counts"),
    })
}

/// The configuration for a session on `spec`, never creating its database.
fn config_for(config: &Config, spec: crate::config::conninfo::ConnSpec) -> Config {
    let mut c = config.clone();
    c.db = spec;
    c.create_database = CreateDatabase::No;
    c
}

/// Opens the shadow. With the target's identity (`None` under `--from`),
/// a given shadow that is the target, or runs another major release, is
/// refused before anything else is read from it.
pub async fn open(
    config: &Config,
    spec: &ShadowSpec,
    target: Option<&Identity>,
    interrupt: &Interrupt,
) -> Result<Shadow, Error> {
    match spec {
        ShadowSpec::Auto => open_auto(config, interrupt).await,
        ShadowSpec::Url(spec) => {
            let config = config_for(config, (**spec).clone());
            let session = wait_for_db(&config, Access::ReadWrite, interrupt).await?;
            let shadow = finish_open(session, None, config).await?;
            if let Some(target) = target {
                shadow.check_against(target)?;
            }
            refuse_if_not_empty(&shadow.session, &spec.dbname).await?;
            Ok(shadow)
        }
    }
}

async fn finish_open(session: Session, owner: Option<Session>, config: Config) -> Result<Shadow, Error> {
    let server = identity(&session).await?;
    if !server.track_counts {
        return Err(Error::config(
            "SCHEMAGATE_SHADOW_URL",
            "the shadow server runs with track_counts=off, so scans cannot be measured; turn it on (the default)",
        ));
    }
    let pid = backend_pid(&session).await?;
    Ok(Shadow {
        database: config.db.dbname.clone(),
        session,
        pid,
        server,
        owner,
        watcher: OnceCell::new(),
        config,
    })
}

async fn backend_pid(session: &Session) -> Result<i32, Error> {
    let row = session
        .client
        .query_typed_one("SELECT pg_catalog.pg_backend_pid()", &[])
        .await
        .map_err(db_error("reading the backend pid of a shadow session"))?;
    Ok(row.get(0))
}

/// Exit 2 when a given shadow holds anything: the migrations are applied to
/// it from the first file.
async fn refuse_if_not_empty(session: &Session, name: &str) -> Result<(), Error> {
    let rows = session
        .client
        .query_typed(CONTENTS, &[])
        .await
        .map_err(db_error("listing what the shadow database holds"))?;
    if rows.is_empty() {
        return Ok(());
    }
    let found: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    Err(Error::config(
        "SCHEMAGATE_SHADOW_URL",
        format!(
            "the shadow database {name} is not empty ({}{}): schemagate applies every migration to it from the \
             first file; give it an empty database (recreate it, or use a fresh CI service container), or use auto",
            found.join(", "),
            if found.len() == 10 { ", …" } else { "" }
        ),
    ))
}

/// `auto`: drop what killed runs left, create a fresh database, connect.
async fn open_auto(config: &Config, interrupt: &Interrupt) -> Result<Shadow, Error> {
    let owner = wait_for_db(&config_for(config, config.db.clone()), Access::ReadWrite, interrupt).await?;
    let now = server_epoch(&owner).await?;
    drop_stale(&owner, now).await;
    let name = fresh_name(now);
    create(&owner, &name).await?;
    let mut spec = config.db.clone();
    spec.dbname = name.clone();
    let opened = match wait_for_db(&config_for(config, spec.clone()), Access::ReadWrite, interrupt).await {
        Ok(session) => finish_open(session, None, config_for(config, spec)).await,
        Err(e) => Err(e),
    };
    match opened {
        Ok(mut shadow) => {
            shadow.owner = Some(owner);
            Ok(shadow)
        }
        Err(e) => {
            drop_database(&owner, &name).await;
            Err(e)
        }
    }
}

async fn server_epoch(session: &Session) -> Result<i64, Error> {
    let row = session
        .client
        .query_typed_one(
            "SELECT pg_catalog.date_part('epoch', pg_catalog.now())::pg_catalog.int8",
            &[],
        )
        .await
        .map_err(db_error("reading the server's clock"))?;
    Ok(row.get(0))
}

/// `schemagate_shadow_<epoch>_<12 hex digits>`: the random part from the
/// standard library's per-process random hash keys.
fn fresh_name(now: i64) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!("{PREFIX}{now}_{:012x}", hasher.finish() & 0xffff_ffff_ffff)
}

/// Whether `name` is an `auto` shadow created more than
/// [`STALE_AFTER_SECS`] before `now`. Names that do not parse are not ours.
fn is_stale(name: &str, now: i64) -> bool {
    let Some((epoch, random)) = name.strip_prefix(PREFIX).and_then(|rest| rest.split_once('_')) else {
        return false;
    };
    let random_ok = !random.is_empty() && random.bytes().all(|b| b.is_ascii_hexdigit());
    random_ok
        && epoch
            .parse::<i64>()
            .is_ok_and(|created| now - created > STALE_AFTER_SECS)
}

/// Drops the shadows that killed runs (SIGKILL, a lost node) left behind.
/// Plain DROP DATABASE, without FORCE: it fails, and the database is kept,
/// if a session connected since the list was read. Failures are logged only:
/// another role's shadow, say, is its owner's to drop.
async fn drop_stale(owner: &Session, now: i64) {
    let names: Vec<String> = match owner.client.query_typed(STALE, &[]).await {
        Ok(rows) => rows.iter().map(|r| r.get(0)).collect(),
        Err(e) => return debug!("listing stale shadow databases: {}", describe(&e)),
    };
    for name in names.iter().filter(|n| is_stale(n, now)) {
        let sql = format!("DROP DATABASE IF EXISTS {}", quote_ident(name));
        match owner.client.batch_execute(&sql).await {
            Ok(()) => info!("dropped the stale shadow database {name}, left by a run that was killed"),
            Err(e) => warn!("could not drop the stale shadow database {name}: {}", describe(&e)),
        }
    }
}

async fn create(owner: &Session, name: &str) -> Result<(), Error> {
    // template0: nothing a site added to template1 can make the shadow differ
    // from what the migrations build.
    let sql = format!("CREATE DATABASE {} TEMPLATE template0", quote_ident(name));
    match owner.client.batch_execute(&sql).await {
        Ok(()) => {
            info!("created the shadow database {name}");
            Ok(())
        }
        Err(e) if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => Err(Error::Privilege {
            action: format!("creating the shadow database {name} (SCHEMAGATE_SHADOW_URL=auto)"),
            message: describe(&e),
            hint: "give the role CREATEDB (ALTER ROLE … CREATEDB), or set SCHEMAGATE_SHADOW_URL to an empty scratch \
                   database"
                .into(),
        }),
        Err(e) => Err(db_error(format!("creating the shadow database {name}"))(e)),
    }
}

/// Drops an `auto` shadow, terminating its sessions (FORCE, PostgreSQL 13+):
/// ours may not have ended on the server yet. Bounded by [`DROP_WITHIN`];
/// what could not be dropped, a later `auto` run drops.
async fn drop_database(owner: &Session, name: &str) {
    let force = "SELECT pg_catalog.current_setting('server_version_num')::pg_catalog.int4 >= 130000";
    let drop = async {
        let with_force = owner.client.query_typed_one(force, &[]).await?.get::<_, bool>(0);
        let option = if with_force { " WITH (FORCE)" } else { "" };
        let sql = format!("DROP DATABASE IF EXISTS {}{option}", quote_ident(name));
        let mut attempt = 0;
        loop {
            match owner.client.batch_execute(&sql).await {
                Err(e) if e.code() == Some(&SqlState::OBJECT_IN_USE) && attempt < 20 => attempt += 1,
                other => return other,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    match tokio::time::timeout(DROP_WITHIN, drop).await {
        Ok(Ok(())) => info!("dropped the shadow database {name}"),
        Ok(Err(e)) => warn!(
            "could not drop the shadow database {name}: {}; a later run with SCHEMAGATE_SHADOW_URL=auto drops it",
            describe(&e)
        ),
        Err(_) => warn!(
            "dropping the shadow database {name} took over {DROP_WITHIN:?}; a later run with \
             SCHEMAGATE_SHADOW_URL=auto drops it"
        ),
    }
}

impl Shadow {
    /// Ends the sessions and, for `auto`, drops the database. Called on every
    /// path, SIGTERM included, so it waits for no signal.
    pub async fn close(self) {
        let Shadow {
            session,
            watcher,
            owner,
            database,
            ..
        } = self;
        drop(watcher);
        drop(session);
        if let Some(owner) = owner {
            drop_database(&owner, &database).await;
        }
    }

    pub fn is_auto(&self) -> bool {
        self.owner.is_some()
    }

    /// The watching session and its pid, connected on first use.
    pub async fn watcher(&self, interrupt: &Interrupt) -> Result<&(Session, i32), Error> {
        self.watcher
            .get_or_try_init(|| async {
                let session = wait_for_db(&self.config, Access::ReadWrite, interrupt).await?;
                let pid = backend_pid(&session).await?;
                Ok((session, pid))
            })
            .await
    }

    /// Exit 2 when a given shadow is the target under another name, or runs
    /// another major release than the target.
    fn check_against(&self, target: &Identity) -> Result<(), Error> {
        let same_system = self.server.system.is_some() && self.server.system == target.system;
        if same_system && self.server.database == target.database {
            return Err(Error::config(
                "SCHEMAGATE_SHADOW_URL",
                "connects to the target database itself; the shadow must be a scratch database (or auto)",
            ));
        }
        if self.server.major() != target.major() {
            return Err(Error::config(
                "SCHEMAGATE_SHADOW_URL",
                format!(
                    "the shadow server runs PostgreSQL {}, the target {}: lock levels differ between major \
                     releases, so measure on the target's",
                    self.server.version, target.version
                ),
            ));
        }
        Ok(())
    }
}

/// The target's live sizes of these relations (`schema.name`), read in a
/// read-only transaction whose lock timeout keeps `pg_total_relation_size`
/// from queueing behind a migration's ACCESS EXCLUSIVE. `None` when they
/// could not be read in time: the sizes are then unknown.
pub async fn target_sizes(target: &Session, names: &[String]) -> Result<Option<BTreeMap<String, Size>>, Error> {
    let c = &target.client;
    let context = "reading relation sizes on the target";
    c.batch_execute("BEGIN READ ONLY; SET LOCAL lock_timeout = '2s'")
        .await
        .map_err(db_error(context))?;
    let params: [Param; 1] = [(&names, Type::TEXT_ARRAY)];
    let rows = c.query_typed(TARGET_SIZES, &params).await;
    let _ = c.batch_execute("ROLLBACK").await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
            warn!("relation sizes on the target could not be read within 2s (a lock is held); they count as unknown");
            return Ok(None);
        }
        Err(e) => return Err(db_error(context)(e)),
    };
    let sizes = rows
        .iter()
        .map(|r| {
            let size = Size::OnTarget {
                rows: live_rows(r.get("reltuples"), r.get("heap_bytes")),
                bytes: r.get("total_bytes"),
            };
            (r.get::<_, String>("name"), size)
        })
        .collect();
    Ok(Some(sizes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_creation_time_and_only_old_ones_are_stale() {
        let name = fresh_name(1_700_000_000);
        assert!(name.starts_with("schemagate_shadow_1700000000_"), "{name}");
        assert_eq!(name.len(), PREFIX.len() + 10 + 1 + 12);
        assert!(!is_stale(&name, 1_700_000_000 + STALE_AFTER_SECS));
        assert!(is_stale(&name, 1_700_000_000 + STALE_AFTER_SECS + 1));
        for not_ours in [
            "schemagate_shadow_x_1",
            "schemagate_shadow_1",
            "schemagate_shadow_1_",
            "schemagate_shadow_1_zz",
            "app",
        ] {
            assert!(!is_stale(not_ours, i64::MAX), "{not_ours}");
        }
    }
}
