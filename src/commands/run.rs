//! `run`: validate, wait, lock, create history, check, apply, re-check, unlock.

use std::cell::OnceCell;
use std::time::Instant;

use tracing::{debug, info, warn};

use super::{load_while, Output};
use crate::adoption;
use crate::config::Config;
use crate::db::apply::{self, DdlLocks, HistoryState, Outcome, Recorder};
use crate::db::lock::Lock;
use crate::db::{self, foreign, history, restore, Access, Session};
use crate::error::Error;
use crate::migration::{MigrationFile, MigrationSet, RepeatableFile, Version};
use crate::reconcile::{self, Target};
use crate::signal::Interrupt;

/// What a run did.
struct Done {
    applied: Vec<Version>,
    repeatables: Vec<String>,
    version: Option<Version>,
    /// Versions applied by a newer release than this image.
    future: Vec<Version>,
}

impl Done {
    fn from_report(report: &reconcile::Report, applied: Vec<Version>) -> Done {
        Done {
            applied,
            repeatables: Vec::new(),
            version: report.database_version.clone(),
            future: reconcile::future_versions(report),
        }
    }
}

impl Done {
    /// Nothing to do: the history is exactly the files ([`reconcile::at_head`]).
    fn at_head(set: &MigrationSet) -> Done {
        Done {
            applied: Vec::new(),
            repeatables: Vec::new(),
            version: set.files.iter().map(|f| &f.version).max().cloned(),
            future: Vec::new(),
        }
    }

    /// `1-4, R__views.sql`: versions abbreviated, repeatables by name.
    fn list(&self) -> String {
        let mut parts = Vec::new();
        if !self.applied.is_empty() {
            parts.push(reconcile::abbreviate(&self.applied));
        }
        parts.extend(self.repeatables.iter().cloned());
        parts.join(", ")
    }
}

pub async fn run(config: &Config, target: Option<Version>, interrupt: &Interrupt) -> Result<Output, Error> {
    let start = Instant::now();
    let expectations = super::schema_check::load(config)?;
    let target = target.map_or(Target::Head, Target::Version);
    // While the files are read and hashed, the server sums up the history.
    let connecting = async {
        let session = db::wait_for_db(config, Access::ReadWrite, interrupt).await?;
        let digest = match target {
            Target::Head => peek(&session, config).await,
            Target::Version(_) => None,
        };
        Ok((session, digest))
    };
    let (set, (session, digest)) = load_while(config, connecting).await?;
    let at_head = digest.as_ref().is_some_and(|d| reconcile::at_head(&set, d));
    if let Some(d) = &digest {
        match at_head {
            true => debug!(
                "history digest matches the files ({} rows): at head, rows not read",
                d.rows
            ),
            false => debug!("history digest differs from the files: reading the rows"),
        }
    }
    let (done, session) = match at_head {
        true => (Done::at_head(&set), session),
        false => {
            super::locks::gate(config, &set, &session, &target, interrupt).await?;
            resuming(session, &set, config, &target, interrupt).await?
        }
    };
    super::warn_future(&done.future, &set);
    // The process ends right after: freeing every file's text and name one
    // by one is work nobody waits for (about 5 % of a no-op run's CPU).
    std::mem::forget(set);
    let summary = summary(&done, start.elapsed().as_millis());
    // The expected schema describes head; a run that stops at --target is not there.
    let summary = match target {
        Target::Head => super::schema_check::after_run(&session, config, &expectations, interrupt, summary).await?,
        Target::Version(_) => summary,
    };
    Ok(Output { stdout: None, summary })
}

/// The history's digest, when the table is there in the current format. A
/// failure here is not reported: the full read that follows meets it again
/// and reports it (or reconnects, for a lost connection).
async fn peek(session: &Session, config: &Config) -> Option<reconcile::HistoryDigest> {
    match history::digest(session, &config.history_table).await {
        Ok(digest) => digest,
        Err(e) => {
            debug!("the history digest could not be read ({e}); reading the rows");
            None
        }
    }
}

/// How many times a run reconnects before it gives up on a server that
/// keeps going away.
const RECONNECTS: u32 = 20;

/// Runs [`attempt`], and when the connection is lost (a restart, a crash, a
/// failover), reconnects within the wait timeout counted from the loss and
/// goes on: the lock is taken again and the history read again, so what
/// committed before the loss is not applied twice, and the migration that
/// was interrupted (rolled back by the server) is applied once, now. The
/// restore point is taken once per run: the resumed attempt records the
/// same one.
async fn resuming(
    mut session: Session,
    set: &MigrationSet,
    config: &Config,
    target: &Target,
    interrupt: &Interrupt,
) -> Result<(Done, Session), Error> {
    let mut reconnects = 0;
    let point = OnceCell::new();
    loop {
        match attempt(&session, set, config, target, &point, interrupt).await {
            Err(Error::ConnectionLost { context, message }) if reconnects < RECONNECTS => {
                reconnects += 1;
                warn!(
                    "lost the connection while {context}: {message}; reconnecting (for up to {:?}) to go on",
                    config.wait_timeout
                );
                if session.client.is_closed() {
                    session = db::wait_for_db(config, Access::ReadWrite, interrupt).await?;
                }
            }
            Ok(done) => return Ok((done, session)),
            Err(e) => return Err(e),
        }
    }
}

/// A database at head needs no lock: one read, and the run is over (the
/// no-op run is what every pod restart does). Anything else takes the lock,
/// reads the history again under it, and migrates.
async fn attempt(
    session: &Session,
    set: &MigrationSet,
    config: &Config,
    target: &Target,
    point: &OnceCell<Option<String>>,
    interrupt: &Interrupt,
) -> Result<Done, Error> {
    if let Some(done) = already_there(session, set, config, target).await? {
        return Ok(done);
    }
    let lock = Lock::acquire(config, interrupt).await?;
    let result = migrate(session, set, config, target, &lock, point, interrupt).await;
    lock.release().await;
    result
}

/// `Some` when there is nothing to do: the history table is there in the
/// current format and the plan is empty. Problems are not judged here (a
/// runner holding the lock may be in the middle of fixing them); they are
/// under the lock.
async fn already_there(
    session: &Session,
    set: &MigrationSet,
    config: &Config,
    target: &Target,
) -> Result<Option<Done>, Error> {
    let table = &config.history_table;
    let Some(recorded) = history::read(session, table).await? else {
        return Ok(None);
    };
    if recorded.older_format {
        return Ok(None);
    }
    let quoted = table.quoted();
    Ok(
        match reconcile::run_plan(set, &recorded, target, &config.rules(), &quoted) {
            Ok(plan) if plan.is_empty() && !recorded.is_empty() => Some(Done::from_report(&plan.report, Vec::new())),
            _ => None,
        },
    )
}

fn summary(done: &Done, ms: u128) -> String {
    let at = done
        .version
        .as_ref()
        .map_or_else(|| "no version (no migrations)".to_string(), |v| format!("version {v}"));
    if done.applied.is_empty() && done.repeatables.is_empty() {
        format!("nothing to apply; database at {at} ({ms} ms)")
    } else {
        format!(
            "applied {} migration(s) [{}] in {ms} ms; database at {at}",
            done.applied.len() + done.repeatables.len(),
            done.list()
        )
    }
}

/// What a run applies, decided under the lock.
struct Work<'a> {
    /// The version the database was at (`None` on an empty history).
    from: Option<Version>,
    files: Vec<&'a MigrationFile>,
    repeatables: Vec<&'a RepeatableFile>,
    history: HistoryState,
}

/// Everything that happens under the lock.
async fn migrate(
    session: &Session,
    set: &MigrationSet,
    config: &Config,
    target: &Target,
    lock: &Lock,
    point: &OnceCell<Option<String>>,
    interrupt: &Interrupt,
) -> Result<Done, Error> {
    let work = match work(session, set, config, target).await? {
        Ok(work) => work,
        Err(done) => return Ok(done),
    };
    let restore_point = restore_point(session, config, &work, point).await?;
    let recorder = Recorder {
        table: &config.history_table,
        applied_by: &config.applied_by,
        history: work.history,
        ddl: DdlLocks {
            timeout: config.ddl_lock_timeout,
            budget: config.lock_timeout,
        },
        lock: Some(lock),
        restore_point,
    };
    for file in &work.files {
        interrupted(interrupt)?;
        lock.check()?;
        let t = Instant::now();
        match apply::apply(session, file, &recorder, interrupt).await? {
            Outcome::Recorded => info!("applied {} in {} ms", file.file_name, t.elapsed().as_millis()),
            Outcome::NotRecorded => warn!("{} ran, but its history row was rolled back with it", file.file_name),
        }
    }
    for file in &work.repeatables {
        interrupted(interrupt)?;
        lock.check()?;
        if apply::apply_repeatable(session, file, &recorder, interrupt).await? == Outcome::Recorded {
            info!("applied repeatable {}", file.file_name);
        }
    }
    let applied: Vec<Version> = work.files.iter().map(|f| f.version.clone()).collect();
    let mut done = confirm(session, set, config, target, &applied).await?;
    done.repeatables = work.repeatables.iter().map(|r| r.file_name.clone()).collect();
    Ok(done)
}

/// Reads the history under the lock and plans: `Ok(work)`, or `Err(done)`
/// when there is nothing to do.
async fn work<'a>(
    session: &Session,
    set: &'a MigrationSet,
    config: &Config,
    target: &Target,
) -> Result<Result<Work<'a>, Done>, Error> {
    let table = &config.history_table;
    let recorded = history::open(session, table).await?;
    if recorded.is_empty() && !set.files.is_empty() {
        refuse_unadopted(session, set, config).await?;
    }
    let work = if recorded.is_empty() {
        let (files, repeatables) = reconcile::fresh_plan(set, target);
        Work {
            from: None,
            files,
            repeatables,
            history: HistoryState::Empty,
        }
    } else {
        let plan = reconcile::run_plan(set, &recorded, target, &config.rules(), &table.quoted())
            .map_err(Error::Verification)?;
        if plan.is_empty() {
            return Ok(Err(Done::from_report(&plan.report, Vec::new())));
        }
        // The report (a copy of every version's name and checksum) is not
        // needed while applying: it is freed before the first file runs.
        Work {
            from: plan.report.database_version.clone(),
            files: plan.files,
            repeatables: plan.repeatables,
            history: HistoryState::NonEmpty,
        }
    };
    if work.files.is_empty() && work.repeatables.is_empty() {
        let done = Done {
            applied: Vec::new(),
            repeatables: Vec::new(),
            version: None,
            future: Vec::new(),
        };
        return Ok(Err(done));
    }
    Ok(Ok(work))
}

/// The run's restore point, taken under the lock, after the history check
/// and before the first file (`SCHEMAGATE_RESTORE_POINT`). Decided once: a
/// run resumed after a lost connection neither takes a second point nor
/// warns again, and records the first one.
async fn restore_point<'p>(
    session: &Session,
    config: &Config,
    work: &Work<'_>,
    point: &'p OnceCell<Option<String>>,
) -> Result<Option<&'p str>, Error> {
    if point.get().is_none() {
        let from = work.from.as_ref();
        let to = work.files.last().map(|f| &f.version).or(from);
        let taken = restore::before_migrating(session, config.restore_point, from, to).await?;
        let _ = point.set(taken);
    }
    Ok(point.get().and_then(Option::as_deref))
}

fn interrupted(interrupt: &Interrupt) -> Result<(), Error> {
    match interrupt.fired() {
        Some(sig) => Err(Error::Interrupted(sig)),
        None => Ok(()),
    }
}

/// Seed 002: tables exist but no version is recorded. Running the files would
/// fail on "relation already exists" at best; refuse, and say which baseline
/// would adopt the database.
async fn refuse_unadopted(session: &Session, set: &MigrationSet, config: &Config) -> Result<(), Error> {
    let tables = foreign::user_tables(session, &config.history_table).await?;
    if tables.is_empty() {
        return Ok(());
    }
    Err(Error::NotAdopted {
        advice: adoption::advice(&set.files, &tables),
        tables,
        history_table: config.history_table.quoted(),
    })
}

/// Step 7: read the history back. A migration whose transaction was rolled
/// back behind our back shows up here (exit 6) instead of exiting 0 and
/// looping on every restart (seed 000); the rule is [`reconcile::confirm`].
async fn confirm(
    session: &Session,
    set: &MigrationSet,
    config: &Config,
    target: &Target,
    applied: &[Version],
) -> Result<Done, Error> {
    let table = &config.history_table;
    // At head, the digest says so without the rows (10,000 rows read back
    // were half the peak memory of a fresh run of 10,000 files).
    if *target == Target::Head && peek(session, config).await.is_some_and(|d| reconcile::at_head(set, &d)) {
        return Ok(Done {
            applied: applied.to_vec(),
            ..Done::at_head(set)
        });
    }
    let recorded = history::read(session, table).await?.unwrap_or_default();
    let (report, done) = reconcile::confirm(set, &recorded, target, applied, &config.rules(), &table.quoted())
        .map_err(Error::Verification)?;
    Ok(Done::from_report(&report, done))
}
