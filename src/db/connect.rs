//! One connection attempt: the session's settings (keepalives, TLS,
//! read-only), the attempt bounded by the connect timeout, and what a failed
//! attempt was, as data for the wait loop to judge.

use std::time::Duration;

use tokio_postgres::{Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::warn;

use super::describe;
use crate::config::conninfo::{ChannelBinding, ConnSpec, Endpoint, SessionAttrs, SslMode};

/// A connected session and what is needed to cancel its running query.
pub struct Session {
    pub client: Client,
    pub(super) tls: Option<MakeRustlsConnect>,
    pub target: String,
    /// The server of the list this session is on.
    pub server: Endpoint,
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
    /// The server is a standby in recovery, or read-only, where the session
    /// needs a primary: not ready yet (a failover may be in progress).
    Standby,
    Db(String),
    Other,
}

pub(super) fn kind_of(e: &tokio_postgres::Error) -> FailureKind {
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

fn pg_config(spec: &ConnSpec, server: &Endpoint, connect_timeout: Duration) -> tokio_postgres::Config {
    let mut c = tokio_postgres::Config::new();
    if server.host.starts_with('/') {
        c.host_path(&server.host);
    } else {
        c.host(&server.host);
    }
    c.port(server.port).user(&spec.user).dbname(&spec.dbname);
    if let Some(p) = &spec.password {
        c.password(p.expose());
    }
    c.application_name(spec.application_name.as_deref().unwrap_or("schemagate"));
    if !connect_timeout.is_zero() {
        c.connect_timeout(connect_timeout);
    }
    // Keepalives let the server notice a vanished runner (node lost, network
    // cut) and free the migration lock in well under a minute, not the
    // kernel default of two hours.
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
    // No startup `options` of our own: PgBouncer refuses the parameter
    // ("unsupported startup parameter: options"), and a session setting
    // would leak into other clients' server connections under transaction
    // pooling. Read-only commands rely on read-only transactions instead.
    if let Some(options) = spec.options.as_deref().filter(|o| !o.trim().is_empty()) {
        c.options(options);
    }
    c
}

/// What the server must be for this session: `run` and the other writers
/// need a primary that accepts writes (a standby is "not ready yet", which
/// covers a failover in progress); `target_session_attrs` can ask more of a
/// reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Anything,
    Writable,
    NotInRecovery,
}

fn need(spec: &ConnSpec, access: Access) -> Need {
    match (access, spec.target_session_attrs) {
        (Access::ReadWrite, _) => Need::Writable,
        (Access::ReadOnly, SessionAttrs::Any) => Need::Anything,
        (Access::ReadOnly, SessionAttrs::ReadWrite) => Need::Writable,
        (Access::ReadOnly, SessionAttrs::Primary) => Need::NotInRecovery,
    }
}

const SESSION_START: &str = include_str!("sql/session_start.sql");

/// Whether the connected server is what the session needs.
async fn fits(client: &Client, need: Need) -> Result<(), (FailureKind, String)> {
    if need == Need::Anything {
        return Ok(());
    }
    let (role, settings) = tokio::join!(
        biased;
        client.query_typed_one(SESSION_START, &[]),
        client.batch_execute(super::SESSION_SETTINGS)
    );
    let row = role
        .and_then(|row| settings.map(|()| row))
        .map_err(|e| (kind_of(&e), describe(&e)))?;
    let (in_recovery, read_only): (bool, bool) = (row.get(0), row.get(1));
    match (need, in_recovery, read_only) {
        (_, true, _) => Err((FailureKind::Standby, "a read-only standby (in recovery)".into())),
        (Need::Writable, false, true) => Err((
            FailureKind::Standby,
            "read-only (default_transaction_read_only is on)".into(),
        )),
        _ => Ok(()),
    }
}

/// One attempt: each server in turn, as libpq tries a multi-host list, until
/// one accepts a session and is what the session needs. Each server's attempt
/// is bounded by the connect timeout as a whole (a listener that accepts and
/// then never answers must not hang us).
pub(super) async fn connect_once(
    spec: &ConnSpec,
    tls: &Option<MakeRustlsConnect>,
    access: Access,
    connect_timeout: Duration,
) -> Result<(Client, Endpoint), (FailureKind, String)> {
    let servers = spec.endpoints().map_err(|e| (FailureKind::Other, e))?;
    let many = servers.len() > 1;
    let mut failures = Vec::new();
    for server in servers {
        let attempt = async {
            let client = connect_to(spec, &server, tls, connect_timeout).await?;
            fits(&client, need(spec, access)).await.map(|()| client)
        };
        match attempt.await {
            Ok(client) => return Ok((client, server)),
            Err((kind, reason)) if many => failures.push((kind, format!("{server}: {reason}"))),
            Err(failure) => return Err(failure),
        }
    }
    Err(worst(failures))
}

/// Of every server's failure, the one to act on: a fatal one (a wrong
/// password, say) wins over one worth waiting out.
fn worst(failures: Vec<(FailureKind, String)>) -> (FailureKind, String) {
    let kind = failures
        .iter()
        .map(|(k, _)| k.clone())
        .find(|k| super::wait::classify(k) != super::wait::Verdict::Retry)
        .unwrap_or_else(|| failures.last().map_or(FailureKind::Other, |(k, _)| k.clone()));
    let reason = failures.into_iter().map(|(_, r)| r).collect::<Vec<_>>().join("; ");
    (kind, reason)
}

async fn connect_to(
    spec: &ConnSpec,
    server: &Endpoint,
    tls: &Option<MakeRustlsConnect>,
    connect_timeout: Duration,
) -> Result<Client, (FailureKind, String)> {
    let config = pg_config(spec, server, connect_timeout);
    let attempt = async {
        match tls {
            None => config.connect(NoTls).await.map(|(client, conn)| {
                tokio::spawn(super::notices::drive(conn));
                client
            }),
            Some(tls) => config.connect(tls.clone()).await.map(|(client, conn)| {
                tokio::spawn(super::notices::drive(conn));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_carry_no_startup_options_of_ours() {
        let spec = crate::config::conninfo::parse("postgres://u@h/d").unwrap();
        let server = spec.endpoints().unwrap().remove(0);
        let c = pg_config(&spec, &server, Duration::from_secs(1));
        assert_eq!(c.get_options(), None);
        assert_eq!(c.get_application_name(), Some("schemagate"));
    }

    #[test]
    fn writers_need_a_writable_primary_and_readers_what_they_ask_for() {
        let any = crate::config::conninfo::parse("postgres://u@a,b/d").unwrap();
        assert_eq!(need(&any, Access::ReadWrite), Need::Writable);
        assert_eq!(need(&any, Access::ReadOnly), Need::Anything);
        let primary = crate::config::conninfo::parse("postgres://u@a,b/d?target_session_attrs=primary").unwrap();
        assert_eq!(need(&primary, Access::ReadOnly), Need::NotInRecovery);
    }

    #[test]
    fn a_fatal_failure_wins_over_a_transient_one() {
        let (kind, reason) = worst(vec![
            (FailureKind::Io, "a:5432: refused".into()),
            (FailureKind::Db("28P01".into()), "b:5432: password".into()),
            (FailureKind::Standby, "c:5432: standby".into()),
        ]);
        assert_eq!(kind, FailureKind::Db("28P01".into()));
        assert_eq!(reason, "a:5432: refused; b:5432: password; c:5432: standby");
    }
}
