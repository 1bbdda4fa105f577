//! Waiting for the database: which failures are worth waiting out, the
//! backoff between attempts, and `SCHEMAGATE_CREATE_DATABASE`.

use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::{debug, info};

use super::connect::{connect_once, Access, FailureKind, Session};
use super::{describe, tls};
use crate::config::{quote_ident, Config, CreateDatabase};
use crate::error::Error;
use crate::signal::Interrupt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Retry,
    Fatal,
    MissingDatabase,
}

/// Which failures are worth waiting out. Everything not listed as transient
/// fails at once: retrying a wrong password for 60 s only delays the page.
pub fn classify(kind: &FailureKind) -> Verdict {
    match kind {
        FailureKind::Timeout | FailureKind::Io | FailureKind::Standby => Verdict::Retry,
        // 57P03 cannot_connect_now (starting up, shutting down, in recovery),
        // 53300 too_many_connections, 57P01 admin_shutdown and 57P02
        // crash_shutdown (a restart in progress).
        FailureKind::Db(code) if matches!(code.as_str(), "57P03" | "53300" | "57P01" | "57P02") => Verdict::Retry,
        FailureKind::Db(code) if code == "3D000" => Verdict::MissingDatabase,
        FailureKind::Db(_) | FailureKind::Tls | FailureKind::NoTlsOnServer | FailureKind::Other => Verdict::Fatal,
    }
}

/// The wait loop's delays, exponential with jitter, by what the last attempt
/// met. Nothing listening yet, or a server still starting up (57P03, which it
/// answers right up to the moment it is ready): poll briskly, 10 ms growing to
/// 50-100 ms, so `run` starts within tens of milliseconds of the server
/// accepting sessions (bench case c; a 250 ms cap cost 100+ ms there). A
/// server with no connection slots left (53300) is only hurt by more
/// attempts: 50 ms growing to 250-500 ms.
struct Delays<F, P> {
    fast: F,
    patient: P,
}

fn delays() -> Delays<impl Iterator<Item = Duration>, impl Iterator<Item = Duration>> {
    let build = |min: u64, max: u64| {
        ExponentialBuilder::new()
            .with_min_delay(Duration::from_millis(min))
            .with_max_delay(Duration::from_millis(max))
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
    };
    Delays {
        fast: build(10, 50),
        patient: build(50, 250),
    }
}

impl<F: Iterator<Item = Duration>, P: Iterator<Item = Duration>> Delays<F, P> {
    fn after(&mut self, kind: &FailureKind) -> Duration {
        let next = match kind {
            FailureKind::Db(code) if code == "53300" => self.patient.next(),
            _ => self.fast.next(),
        };
        next.unwrap_or(Duration::from_millis(100))
    }
}

const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Waits until the database accepts a session, or the wait timeout ends.
pub async fn wait_for_db(config: &Config, access: Access, interrupt: &Interrupt) -> Result<Session, Error> {
    let tls = tls::connector(&config.db)?;
    let target = config.db.target();
    let start = Instant::now();
    let mut delays = delays();
    let mut last_progress: Option<Instant> = None;
    let mut created = false;
    loop {
        let attempt = tokio::select! {
            r = connect_once(&config.db, &tls, access, config.connect_timeout) => r,
            sig = interrupt.recv() => return Err(Error::Interrupted(sig)),
        };
        let (kind, reason) = match attempt {
            Ok((client, server)) => {
                debug!(target = %target, server = %server, elapsed_ms = start.elapsed().as_millis() as u64, "connected");
                return Ok(Session {
                    client,
                    tls,
                    target,
                    server,
                });
            }
            Err(failure) => failure,
        };
        match classify(&kind) {
            Verdict::Retry => {}
            Verdict::MissingDatabase if config.create_database == CreateDatabase::IfMissing && !created => {
                create_database(config, &tls, interrupt).await?;
                created = true;
                continue;
            }
            // Created, yet still "does not exist": a pooler whose entry points
            // elsewhere, say. Creating again would spin with no sleep and no
            // end; wait it out like any other transient failure instead.
            Verdict::MissingDatabase if created => {}
            Verdict::MissingDatabase => {
                let reason = format!("{reason} (set SCHEMAGATE_CREATE_DATABASE=true to create it)");
                return Err(Error::ConnectFatal { target, reason });
            }
            Verdict::Fatal => return Err(Error::ConnectFatal { target, reason }),
        }
        let elapsed = start.elapsed();
        if elapsed >= config.wait_timeout {
            return Err(Error::Unreachable {
                target,
                waited: elapsed,
                last_error: reason,
            });
        }
        if last_progress.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
            let left = config.wait_timeout - elapsed;
            info!(
                "waiting for database {target}: {reason} ({:.1}s spent, {:.1}s left)",
                elapsed.as_secs_f64(),
                left.as_secs_f64()
            );
            last_progress = Some(Instant::now());
        }
        let delay = delays.after(&kind).min(config.wait_timeout - elapsed);
        interrupt.sleep(delay).await.map_err(Error::Interrupted)?;
    }
}

/// `wait`'s last step: the session answers a query, not only a handshake.
pub async fn select_one(session: &Session) -> Result<(), Error> {
    session
        .client
        .query_typed_one("SELECT 1", &[])
        .await
        .map(drop)
        .map_err(super::db_error(format!("SELECT 1 on {}", session.target)))
}

/// `SCHEMAGATE_CREATE_DATABASE=true`: create the target from the `postgres`
/// maintenance database. Another replica creating it first is fine.
async fn create_database(config: &Config, tls: &Option<MakeRustlsConnect>, interrupt: &Interrupt) -> Result<(), Error> {
    let mut maintenance = config.db.clone();
    maintenance.dbname = "postgres".into();
    let target = config.db.target();
    let client = tokio::select! {
        r = connect_once(&maintenance, tls, Access::ReadWrite, config.connect_timeout) => r,
        sig = interrupt.recv() => return Err(Error::Interrupted(sig)),
    }
    .map(|(client, _)| client)
    .map_err(|(_, reason)| Error::ConnectFatal {
        target: target.clone(),
        reason: format!("cannot create the database: {reason}"),
    })?;
    let sql = format!("CREATE DATABASE {}", quote_ident(&config.db.dbname));
    match client.batch_execute(&sql).await {
        Ok(()) => info!("created database {}", config.db.dbname),
        Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => {}
        Err(e) => {
            return Err(Error::ConnectFatal {
                target,
                reason: format!("cannot create the database: {}", describe(&e)),
            })
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_failures_are_retried_and_the_rest_fail_fast() {
        assert_eq!(classify(&FailureKind::Standby), Verdict::Retry);
        for code in ["57P03", "53300", "57P01", "57P02"] {
            assert_eq!(classify(&FailureKind::Db(code.into())), Verdict::Retry, "{code}");
        }
        for code in ["28P01", "28000", "42501"] {
            assert_eq!(classify(&FailureKind::Db(code.into())), Verdict::Fatal, "{code}");
        }
        assert_eq!(classify(&FailureKind::Db("3D000".into())), Verdict::MissingDatabase);
        assert_eq!(classify(&FailureKind::Io), Verdict::Retry);
        assert_eq!(classify(&FailureKind::Timeout), Verdict::Retry);
        assert_eq!(classify(&FailureKind::Tls), Verdict::Fatal);
        assert_eq!(classify(&FailureKind::NoTlsOnServer), Verdict::Fatal);
    }

    #[test]
    fn delays_are_brisk_until_ready_and_patient_with_a_full_server() {
        let mut d = delays();
        let refused: Vec<Duration> = (0..12).map(|_| d.after(&FailureKind::Io)).collect();
        assert!(refused[0] >= Duration::from_millis(10) && refused[0] < Duration::from_millis(20));
        assert!(refused.iter().all(|x| *x < Duration::from_millis(100)), "{refused:?}");
        let starting = d.after(&FailureKind::Db("57P03".into()));
        assert!(starting < Duration::from_millis(100), "{starting:?}");
        let full: Vec<Duration> = (0..12).map(|_| d.after(&FailureKind::Db("53300".into()))).collect();
        assert!(full[0] >= Duration::from_millis(50));
        assert!(
            full[11] >= Duration::from_millis(250) && full[11] < Duration::from_millis(500),
            "{full:?}"
        );
    }
}
