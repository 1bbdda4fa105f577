//! `verify`: read-only; exit 0 only when the database is exactly at head.
//! With `--wait` it is the app-side gate for Pods whose migrations run in a
//! separate Job: it polls the history instead of the Kubernetes API, so the
//! Pod needs no RBAC (unlike k8s-wait-for).

use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::{load_and_connect, schema_check, Output};
use crate::cli::Format;
use crate::config::Config;
use crate::db::{self, history, Access};
use crate::error::Error;
use crate::reconcile::{self, Target};
use crate::signal::Interrupt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Once,
    PollUntilWaitTimeout,
}

const POLL_EVERY: Duration = Duration::from_millis(500);
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

pub async fn verify(config: &Config, mode: Mode, format: Format, interrupt: &Interrupt) -> Result<Output, Error> {
    let expectations = schema_check::load(config)?;
    let start = Instant::now();
    let (set, mut session) = load_and_connect(config, Access::ReadOnly, interrupt).await?;
    let table = &config.history_table;
    let mut last_progress = Instant::now();
    loop {
        // A missing history table means nothing is applied; verify never creates it.
        let recorded = match history::read(&session, table).await {
            // The gate of an app Pod outlives a database restart or failover:
            // reconnect within the wait timeout, counted from the loss.
            Err(Error::ConnectionLost { context, message }) if mode == Mode::PollUntilWaitTimeout => {
                warn!("lost the connection while {context}: {message}; reconnecting");
                session = db::wait_for_db(config, Access::ReadOnly, interrupt).await?;
                continue;
            }
            other => other?.unwrap_or_default(),
        };
        let (report, problems) =
            reconcile::problems_at(&set, &recorded, &Target::Head, &config.rules(), &table.quoted());
        if problems.is_empty() {
            super::warn_future(&reconcile::future_versions(&report), &set);
            let at = report
                .database_version
                .map_or_else(|| "no version (no migrations)".into(), |v| format!("version {v}"));
            let findings = schema_check::check(&session, config, &expectations, interrupt).await?;
            return schema_check::conclude_verify(&findings, format, format!("database is at head: {at}"));
        }
        let elapsed = start.elapsed();
        if mode == Mode::Once || elapsed >= config.wait_timeout {
            return Err(schema_check::history_failure(problems, format));
        }
        if last_progress.elapsed() >= PROGRESS_EVERY {
            info!(
                "waiting for the database to reach head: {} problem(s), first: {} ({:.1}s left)",
                problems.len(),
                problems[0],
                (config.wait_timeout - elapsed).as_secs_f64()
            );
            last_progress = Instant::now();
        }
        let delay = POLL_EVERY.min(config.wait_timeout - elapsed);
        interrupt.sleep(delay).await.map_err(Error::Interrupted)?;
    }
}
