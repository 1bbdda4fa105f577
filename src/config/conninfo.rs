//! Connection strings: `postgres://` URLs and libpq `key=value` strings are
//! parsed here into a [`ConnSpec`], not by tokio-postgres, because its parser
//! rejects `sslmode=verify-ca|verify-full` and `sslrootcert`, which we
//! implement ourselves on rustls.
//!
//! Nothing here ever echoes the input: a URL may carry a password, so errors
//! name the parameter at fault, never the string.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A value that must never be printed. `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            // libpq's `allow` tries plaintext first; we treat it like `prefer`,
            // which is at least as safe.
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "unknown sslmode '{other}' (use disable, prefer, require, verify-ca or verify-full)"
                ))
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelBinding {
    Disable,
    Prefer,
    Require,
}

/// Where the trust anchors for verify-ca/verify-full come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// The Mozilla roots compiled in (webpki-roots); also `sslrootcert=system`.
    Bundled,
    File(PathBuf),
}

/// Which server of a multi-host list a session may use, as libpq's
/// `target_session_attrs`: Patroni and CloudNativePG hand out lists of
/// hosts and let the client find the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAttrs {
    /// The first server that accepts the session.
    Any,
    /// One that accepts writes (`transaction_read_only` is off).
    ReadWrite,
    /// One that is not in recovery.
    Primary,
}

impl SessionAttrs {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "any" => Ok(SessionAttrs::Any),
            "read-write" => Ok(SessionAttrs::ReadWrite),
            "primary" => Ok(SessionAttrs::Primary),
            other => Err(format!(
                "target_session_attrs '{other}' is not supported (use any, read-write or primary: a migration \
                 gate needs a server it can write to)"
            )),
        }
    }
}

/// One server: a host name, an IP address or a Unix socket directory
/// (starting with `/`), and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnSpec {
    /// The hosts, in the order they are tried (`host=a,b`, or
    /// `postgres://a:5432,b:5433/db`). Never empty.
    pub hosts: Vec<String>,
    /// One port for every host, or one per host.
    pub ports: Vec<u16>,
    pub target_session_attrs: SessionAttrs,
    pub user: String,
    pub password: Option<Secret>,
    pub dbname: String,
    pub sslmode: SslMode,
    pub sslrootcert: Option<RootCert>,
    pub connect_timeout: Option<Duration>,
    pub application_name: Option<String>,
    pub channel_binding: ChannelBinding,
    pub options: Option<String>,
}

impl ConnSpec {
    pub fn defaults() -> Self {
        ConnSpec {
            hosts: vec!["localhost".into()],
            ports: vec![5432],
            target_session_attrs: SessionAttrs::Any,
            user: "postgres".into(),
            password: None,
            dbname: String::new(),
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            connect_timeout: None,
            application_name: None,
            channel_binding: ChannelBinding::Prefer,
            options: None,
        }
    }

    /// The servers to try, in order. `Err` when the port list fits neither
    /// one port for all hosts nor one per host.
    pub fn endpoints(&self) -> Result<Vec<Endpoint>, String> {
        match self.ports.as_slice() {
            [port] => Ok(self
                .hosts
                .iter()
                .map(|h| Endpoint {
                    host: h.clone(),
                    port: *port,
                })
                .collect()),
            ports if ports.len() == self.hosts.len() => Ok(self
                .hosts
                .iter()
                .zip(ports)
                .map(|(h, p)| Endpoint {
                    host: h.clone(),
                    port: *p,
                })
                .collect()),
            ports => Err(format!(
                "{} hosts but {} ports: give one port for all, or one per host",
                self.hosts.len(),
                ports.len()
            )),
        }
    }

    /// `user@host:port,host:port/db`, for logs: no password, ever.
    pub fn target(&self) -> String {
        let servers: Vec<String> = self
            .endpoints()
            .unwrap_or_default()
            .iter()
            .map(Endpoint::to_string)
            .collect();
        format!("{}@{}/{}", self.user, servers.join(","), self.dbname)
    }

    /// Applies one `key=value` parameter. `Err` names the key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "host" => self.hosts = value.split(',').map(str::to_string).collect(),
            "port" => self.ports = value.split(',').map(parse_port).collect::<Result<_, _>>()?,
            "target_session_attrs" => self.target_session_attrs = SessionAttrs::parse(value)?,
            "user" => self.user = value.to_string(),
            "password" => self.password = Some(Secret::new(value)),
            "dbname" => self.dbname = value.to_string(),
            "sslmode" => self.sslmode = SslMode::parse(value)?,
            "sslrootcert" => self.sslrootcert = Some(parse_root_cert(value)),
            "connect_timeout" => {
                let secs: u64 = value
                    .parse()
                    .map_err(|_| format!("connect_timeout '{value}' is not a whole number of seconds"))?;
                // 0 means no bound, as in libpq (not "use the default").
                self.connect_timeout = Some(Duration::from_secs(secs));
            }
            "application_name" => self.application_name = Some(value.to_string()),
            "channel_binding" => {
                self.channel_binding = match value {
                    "disable" => ChannelBinding::Disable,
                    "prefer" => ChannelBinding::Prefer,
                    "require" => ChannelBinding::Require,
                    other => {
                        return Err(format!(
                            "unknown channel_binding '{other}' (use disable, prefer or require)"
                        ))
                    }
                }
            }
            "options" => self.options = Some(value.to_string()),
            other => return Err(format!("unsupported connection parameter '{other}'")),
        }
        Ok(())
    }
}

pub fn parse_root_cert(value: &str) -> RootCert {
    if value == "system" {
        RootCert::Bundled
    } else {
        RootCert::File(PathBuf::from(value))
    }
}

pub fn parse_port(value: &str) -> Result<u16, String> {
    match value.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("port '{value}' is not a number from 1 to 65535")),
    }
}

/// Parses `DATABASE_URL`: a URL or a `key=value` string.
pub fn parse(text: &str) -> Result<ConnSpec, String> {
    let text = text.trim();
    let mut spec = ConnSpec::defaults();
    if let Some(rest) = text
        .strip_prefix("postgres://")
        .or_else(|| text.strip_prefix("postgresql://"))
    {
        parse_url(rest, &mut spec)?;
    } else if text.contains('=') && !text.contains("://") {
        for (k, v) in parse_keyword_value(text)? {
            spec.set(&k, &v)?;
        }
    } else {
        return Err("expected a postgres:// or postgresql:// URL, or a libpq key=value string".into());
    }
    if spec.dbname.is_empty() {
        spec.dbname = spec.user.clone();
    }
    spec.endpoints()?;
    Ok(spec)
}

fn parse_url(rest: &str, spec: &mut ConnSpec) -> Result<(), String> {
    let (before_query, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (before_query, None),
    };
    let hostport = match authority.rsplit_once('@') {
        Some((userinfo, hp)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                spec.user = percent_decode(user).map_err(|e| format!("user: {e}"))?;
            }
            if let Some(p) = password {
                // The error names the part only: the password itself is never shown.
                spec.password = Some(Secret::new(
                    percent_decode(p).map_err(|_| "the password is not valid percent-encoding".to_string())?,
                ));
            }
            hp
        }
        None => authority,
    };
    parse_host_port(hostport, spec)?;
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        spec.dbname = percent_decode(db).map_err(|e| format!("database name: {e}"))?;
    }
    for pair in query.into_iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("query parameter '{}' has no value", safe_key(pair)))?;
        let key = percent_decode(k)?;
        let value = percent_decode(v).map_err(|e| format!("{key}: {e}"))?;
        spec.set(&key, &value)?;
    }
    Ok(())
}

/// A key may be garbage; keep error text short and free of values.
fn safe_key(s: &str) -> String {
    s.chars().take(40).collect()
}

/// `a`, `a:5433`, `[::1]:5433`, or a comma list of those (libpq's
/// multi-host URLs). A host without a port takes the default.
fn parse_host_port(hostports: &str, spec: &mut ConnSpec) -> Result<(), String> {
    if hostports.is_empty() {
        return Ok(());
    }
    let (mut hosts, mut ports) = (Vec::new(), Vec::new());
    for hostport in hostports.split(',') {
        let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or("unterminated [ in the IPv6 host")?;
            (h, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        hosts.push(if host.is_empty() {
            "localhost".to_string()
        } else {
            percent_decode(host)?
        });
        ports.push(match port.filter(|p| !p.is_empty()) {
            Some(p) => parse_port(p)?,
            None => 5432,
        });
    }
    spec.hosts = hosts;
    spec.ports = ports;
    Ok(())
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or("truncated percent-encoding")?;
            let hex = std::str::from_utf8(hex).map_err(|_| "bad percent-encoding")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad percent-encoding")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-encoding is not UTF-8".to_string())
}

/// libpq's `key=value` format: values may be single-quoted, with `\'` and `\\`.
pub fn parse_keyword_value(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("'{}' is missing '=value'", safe_key(&key)));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(format!("unterminated quoted value for '{}'", safe_key(&key))),
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_url() {
        let s = parse("postgres://app:s%40cret@db.internal:6543/orders?sslmode=verify-full&sslrootcert=/ca.pem&application_name=api&connect_timeout=7&channel_binding=require").unwrap();
        assert_eq!(s.user, "app");
        assert_eq!(s.password.as_ref().map(Secret::expose), Some("s@cret"));
        assert_eq!(s.target(), "app@db.internal:6543/orders");
        assert_eq!(s.sslmode, SslMode::VerifyFull);
        assert_eq!(s.sslrootcert, Some(RootCert::File("/ca.pem".into())));
        assert_eq!(s.application_name.as_deref(), Some("api"));
        assert_eq!(s.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(s.channel_binding, ChannelBinding::Require);
    }

    #[test]
    fn url_defaults_and_ipv6() {
        let s = parse("postgresql://[::1]/").unwrap();
        assert_eq!((s.user.as_str(), s.dbname.as_str()), ("postgres", "postgres"));
        assert_eq!(s.target(), "postgres@[::1]:5432/postgres");
        let s = parse("postgres://u@h").unwrap();
        assert_eq!(s.dbname, "u");
    }

    #[test]
    fn parses_keyword_value_strings() {
        let s = parse("host=127.0.0.1 port = 5433 user=me password='it\\'s secret' dbname=x sslmode=require").unwrap();
        assert_eq!(s.password.as_ref().map(Secret::expose), Some("it's secret"));
        assert_eq!(s.target(), "me@127.0.0.1:5433/x");
        assert_eq!(s.sslmode, SslMode::Require);
    }

    #[test]
    fn errors_never_contain_the_password() {
        for bad in [
            "postgres://u:hunter2@h:notaport/db",
            "postgres://u:hunter2%zz@h/db",
            "postgres://u:hunter2@h/db?sslmode=maybe",
            "postgres://u:hunter2@h/db?bogus=1",
            "mysql://u:hunter2@h/db",
            "host=h password='hunter2",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(!err.contains("hunter2"), "{bad} -> {err}");
        }
        assert!(parse("postgres://h:0/db").unwrap_err().contains("port '0'"));
        assert!(parse("postgres://h/db?bogus=1").unwrap_err().contains("'bogus'"));
    }

    #[test]
    fn multi_host_strings_as_libpq_writes_them() {
        let url = parse("postgres://u@a:5432,b:5433,[::1]/db?target_session_attrs=read-write").unwrap();
        assert_eq!(url.target(), "u@a:5432,b:5433,[::1]:5432/db");
        assert_eq!(url.target_session_attrs, SessionAttrs::ReadWrite);
        let kv = parse("host=a,b port=6000 dbname=d target_session_attrs=primary").unwrap();
        assert_eq!(kv.target(), "postgres@a:6000,b:6000/d");
        assert_eq!(kv.target_session_attrs, SessionAttrs::Primary);
        let per_host = parse("host=a,b,c port=1,2,3").unwrap();
        assert_eq!(per_host.target(), "postgres@a:1,b:2,c:3/postgres");
        assert!(parse("host=a,b,c port=1,2")
            .unwrap_err()
            .contains("3 hosts but 2 ports"));
        let bad = parse("postgres://h/d?target_session_attrs=prefer-standby").unwrap_err();
        assert!(bad.contains("'prefer-standby' is not supported") && bad.contains("any, read-write or primary"));
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = parse("postgres://u:hunter2@h/db").unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn sslrootcert_system_means_bundled_roots() {
        assert_eq!(
            parse("host=h sslrootcert=system").unwrap().sslrootcert,
            Some(RootCert::Bundled)
        );
    }
}
