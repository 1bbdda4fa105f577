//! One connection attempt: the session's settings (keepalives, TLS,
//! read-only), the attempt bounded by the connect timeout, and what a failed
//! attempt was, as data for the wait loop to judge.

use std::time::Duration;

use tokio_postgres::{Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::warn;

use super::describe;
use crate::config::conninfo::{ChannelBinding, ConnSpec, SslMode};

/// A connected session and what is needed to cancel its running query.
pub struct Session {
    pub client: Client,
    pub(super) tls: Option<MakeRustlsConnect>,
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
pub(super) async fn connect_once(
    spec: &ConnSpec,
    tls: &Option<MakeRustlsConnect>,
    access: Access,
    connect_timeout: Duration,
) -> Result<Client, (FailureKind, String)> {
    let config = pg_config(spec, access, connect_timeout);
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
    fn read_only_sessions_say_so_at_startup() {
        let spec = crate::config::conninfo::parse("postgres://u@h/d").unwrap();
        let c = pg_config(&spec, Access::ReadOnly, Duration::from_secs(1));
        assert_eq!(c.get_options(), Some("-c default_transaction_read_only=on"));
        assert_eq!(c.get_application_name(), Some("schemagate"));
    }
}
