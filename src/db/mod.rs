//! Database I/O only: connecting and waiting, the lock, the history table and
//! applying files. Every decision about what to do is made by the pure
//! modules (`history`, `migration`, `sqltext`) and by [`classify`] here.

pub mod apply;
pub mod foreign;
pub mod history;
pub mod lock;
pub mod schema;
pub mod tls;

use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio_postgres::{Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::{debug, info, warn};

use crate::config::conninfo::{ChannelBinding, ConnSpec, SslMode};
use crate::config::{quote_ident, Config, CreateDatabase};
use crate::error::Error;
use crate::signal::Interrupt;

/// A connected session and what is needed to cancel its running query.
pub struct Session {
    pub client: Client,
    tls: Option<MakeRustlsConnect>,
    pub target: String,
}

impl Session {
    /// Asks the server to cancel the statement running on this session (on
    /// SIGTERM). The server rolls the transaction back.
    pub async fn cancel(&self) {
        let token = self.client.cancel_token();
        let result = match &self.tls {
            None => token.cancel_query(NoTls).await,
            Some(tls) => token.cancel_query(tls.clone()).await,
        };
        if let Err(e) = result {
            warn!("could not cancel the running statement: {}", describe(&e));
        }
    }
}

/// Whether the session may write. `verify` and `status` are read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    ReadOnly,
}

/// tokio-postgres' `Display` omits the cause; operators need it.
pub fn describe(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// What a failed connection attempt was, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    Timeout,
    /// Refused, reset, DNS failure, socket missing: the server is not there yet.
    Io,
    /// The certificate did not verify, or the handshake failed.
    Tls,
    /// `sslmode=require` or stricter, but the server does not offer TLS.
    NoTlsOnServer,
    Db(String),
    Other,
}

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
        FailureKind::Timeout | FailureKind::Io => Verdict::Retry,
        // 57P03 cannot_connect_now (starting up / shutting down), 53300
        // too_many_connections, 57P01 admin_shutdown (a restart in progress).
        FailureKind::Db(code) if matches!(code.as_str(), "57P03" | "53300" | "57P01") => Verdict::Retry,
        FailureKind::Db(code) if code == "3D000" => Verdict::MissingDatabase,
        FailureKind::Db(_) | FailureKind::Tls | FailureKind::NoTlsOnServer | FailureKind::Other => Verdict::Fatal,
    }
}

fn kind_of(e: &tokio_postgres::Error) -> FailureKind {
    if let Some(code) = e.code() {
        return FailureKind::Db(code.code().to_string());
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            let is_tls = io.get_ref().is_some_and(|inner| inner.is::<rustls::Error>());
            return if is_tls { FailureKind::Tls } else { FailureKind::Io };
        }
        if s.is::<rustls::Error>() {
            return FailureKind::Tls;
        }
        if s.to_string().contains("does not support TLS") {
            return FailureKind::NoTlsOnServer;
        }
        source = s.source();
    }
    if e.is_closed() {
        FailureKind::Io
    } else {
        FailureKind::Other
    }
}

fn pg_config(spec: &ConnSpec, access: Access, connect_timeout: Duration) -> tokio_postgres::Config {
    let mut c = tokio_postgres::Config::new();
    if spec.host.starts_with('/') {
        c.host_path(&spec.host);
    } else {
        c.host(&spec.host);
    }
    c.port(spec.port).user(&spec.user).dbname(&spec.dbname);
    if let Some(p) = &spec.password {
        c.password(p.expose());
    }
    c.application_name(spec.application_name.as_deref().unwrap_or("schemagate"));
    if !connect_timeout.is_zero() {
        c.connect_timeout(connect_timeout);
    }
    // Keepalives let the server notice a vanished runner (node lost, network
    // cut) and free the advisory lock in well under a minute, not the kernel
    // default of two hours.
    c.keepalives(true)
        .keepalives_idle(Duration::from_secs(10))
        .keepalives_interval(Duration::from_secs(5))
        .keepalives_retries(3);
    c.ssl_mode(match spec.sslmode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
    });
    c.channel_binding(match spec.channel_binding {
        ChannelBinding::Disable => tokio_postgres::config::ChannelBinding::Disable,
        ChannelBinding::Prefer => tokio_postgres::config::ChannelBinding::Prefer,
        ChannelBinding::Require => tokio_postgres::config::ChannelBinding::Require,
    });
    let mut options = spec.options.clone().unwrap_or_default();
    if access == Access::ReadOnly {
        options.push_str(" -c default_transaction_read_only=on");
    }
    if !options.trim().is_empty() {
        c.options(options.trim());
    }
    c
}

/// One attempt, bounded by the connect timeout as a whole (a listener that
/// accepts and then never answers must not hang us).
async fn connect_once(
    spec: &ConnSpec,
    tls: &Option<MakeRustlsConnect>,
    access: Access,
    connect_timeout: Duration,
) -> Result<Client, (FailureKind, String)> {
    let config = pg_config(spec, access, connect_timeout);
    let attempt = async {
        match tls {
            None => config.connect(NoTls).await.map(|(client, conn)| {
                tokio::spawn(async move { drive(conn.await) });
                client
            }),
            Some(tls) => config.connect(tls.clone()).await.map(|(client, conn)| {
                tokio::spawn(async move { drive(conn.await) });
                client
            }),
        }
    };
    let result = if connect_timeout.is_zero() {
        attempt.await
    } else {
        match tokio::time::timeout(connect_timeout, attempt).await {
            Ok(r) => r,
            Err(_) => return Err((FailureKind::Timeout, format!("no answer within {connect_timeout:?}"))),
        }
    };
    result.map_err(|e| (kind_of(&e), describe(&e)))
}

fn drive(result: Result<(), tokio_postgres::Error>) {
    if let Err(e) = result {
        debug!("connection ended: {}", describe(&e));
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
    loop {
        let attempt = tokio::select! {
            r = connect_once(&config.db, &tls, access, config.connect_timeout) => r,
            sig = interrupt.recv() => return Err(Error::Interrupted(sig)),
        };
        let (kind, reason) = match attempt {
            Ok(client) => {
                debug!(target = %target, elapsed_ms = start.elapsed().as_millis() as u64, "connected");
                return Ok(Session { client, tls, target });
            }
            Err(failure) => failure,
        };
        match classify(&kind) {
            Verdict::Retry => {}
            Verdict::MissingDatabase if config.create_database == CreateDatabase::IfMissing => {
                create_database(config, &tls, interrupt).await?;
                continue;
            }
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
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            sig = interrupt.recv() => return Err(Error::Interrupted(sig)),
        }
    }
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
    .map_err(|(_, reason)| Error::ConnectFatal {
        target: target.clone(),
        reason: format!("cannot create the database: {reason}"),
    })?;
    let sql = format!("CREATE DATABASE {}", quote_ident(&config.db.dbname));
    match client.batch_execute(&sql).await {
        Ok(()) => info!("created database {}", config.db.dbname),
        Err(e) if e.code().is_some_and(|c| c.code() == "42P04") => {}
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
        for code in ["57P03", "53300", "57P01"] {
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

    #[test]
    fn read_only_sessions_say_so_at_startup() {
        let spec = crate::config::conninfo::parse("postgres://u@h/d").unwrap();
        let c = pg_config(&spec, Access::ReadOnly, Duration::from_secs(1));
        assert_eq!(c.get_options(), Some("-c default_transaction_read_only=on"));
        assert_eq!(c.get_application_name(), Some("schemagate"));
    }
}
