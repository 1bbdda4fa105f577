//! TLS against a cluster with a CA and server certificate made by the test.

mod common;

use common::{migrations, Cluster, Sg, Tls, PASSWORD};

fn tls_cluster() -> Cluster {
    let c = Cluster::create(Tls::Only);
    c.start_server();
    c
}

fn run(cluster: &Cluster, host: &str, params: &str) -> common::Run {
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE IF NOT EXISTS a ();")]);
    let url = format!(
        "postgres://postgres:{PASSWORD}@{host}:{}/postgres?{params}",
        cluster.port
    );
    Sg::new()
        .env("DATABASE_URL", &url)
        .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
        .env("SCHEMAGATE_WAIT_TIMEOUT", "20s")
        .args(&["run"])
        .run()
}

#[test]
fn tls_modes_against_a_tls_only_server() {
    let cluster = tls_cluster();
    let tls = cluster.tls.as_ref().unwrap();
    let ca = tls.ca.to_str().unwrap();
    let other = tls.other_ca.to_str().unwrap();

    // verify-full with the right CA, by IP and by name.
    run(&cluster, "127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}")).assert_code(0);
    run(&cluster, "localhost", &format!("sslmode=verify-full&sslrootcert={ca}")).assert_code(0);
    // pg_hba rejects hostnossl, so these sessions were encrypted.
    assert_eq!(
        cluster.psql("postgres", "SELECT count(*) > 0 FROM schemagate_history"),
        "t\n"
    );
    // require: encrypted, certificate not checked (libpq semantics).
    run(&cluster, "127.0.0.1", "sslmode=require").assert_code(0);

    // A wrong CA fails at once with exit 3, not after the wait timeout.
    let start = std::time::Instant::now();
    let wrong = run(
        &cluster,
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={other}"),
    );
    wrong.assert_code(3);
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    assert!(
        wrong.stderr.contains("UnknownIssuer") || wrong.stderr.contains("invalid peer certificate"),
        "{}",
        wrong.stderr
    );
    wrong.never_says(PASSWORD);
}

#[test]
fn verify_full_rejects_a_certificate_for_another_name_and_verify_ca_accepts_it() {
    let cluster = tls_cluster();
    let ca = cluster.tls.as_ref().unwrap().ca.to_str().unwrap().to_string();
    // Swap in a certificate from the same CA that names only db.example:
    // the chain is good, the name (127.0.0.1) is not in it.
    let root = &cluster.root;
    common::issue_server_cert(root, "other", "DNS:db.example");
    std::fs::copy(root.join("other.crt"), root.join("server.crt")).unwrap();
    std::fs::copy(root.join("other.key"), root.join("server.key")).unwrap();
    cluster.psql("postgres", "SELECT pg_reload_conf()");
    std::thread::sleep(std::time::Duration::from_millis(500));

    let full = run(&cluster, "127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}"));
    full.assert_code(3);
    assert!(
        full.stderr.contains("NotValidForName") || full.stderr.contains("not valid for name"),
        "{}",
        full.stderr
    );
    run(&cluster, "127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}")).assert_code(0);
}

#[test]
fn plaintext_is_refused_by_a_tls_only_server_and_sslmode_require_needs_tls() {
    let cluster = tls_cluster();
    let r = run(&cluster, "127.0.0.1", "sslmode=disable");
    r.assert_code(3);
    assert!(
        r.stderr.contains("no encryption") || r.stderr.contains("pg_hba.conf"),
        "{}",
        r.stderr
    );

    let plain = Cluster::start();
    let r = run(&plain, "127.0.0.1", "sslmode=require");
    r.assert_code(3);
    r.stderr_has("does not support TLS");
}

#[test]
fn postgres_sslmode_and_sslrootcert_variables() {
    let cluster = tls_cluster();
    let ca = cluster.tls.as_ref().unwrap().ca.to_str().unwrap().to_string();
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE a ();")]);
    let sg = |sslmode: &str| {
        Sg::new()
            .env("POSTGRES_HOST", "localhost")
            .env("POSTGRES_PORT", &cluster.port.to_string())
            .env("POSTGRES_PASSWORD", PASSWORD)
            .env("POSTGRES_SSLMODE", sslmode)
            .env("POSTGRES_SSLROOTCERT", &ca)
            .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
            .args(&["run"])
            .run()
    };
    sg("verify-full").assert_code(0);
    assert_eq!(
        cluster.psql("postgres", "SELECT count(*) FROM schemagate_history"),
        "1\n"
    );
    sg("disable").assert_code(3);
}

/// A CA mounted by the platform, named by SCHEMAGATE_SSLROOTCERT, applies to
/// a URL that names none (the Helm chart's urlKey with an existing Secret);
/// the wrong CA there fails as it does in the URL.
#[test]
fn a_ca_from_schemagate_sslrootcert_verifies_a_url_without_one() {
    let cluster = tls_cluster();
    let tls = cluster.tls.as_ref().unwrap();
    let dir = migrations(&[("0001_a.sql", "CREATE TABLE IF NOT EXISTS a ();")]);
    let url = format!(
        "postgres://postgres:{PASSWORD}@localhost:{}/postgres?sslmode=verify-full",
        cluster.port
    );
    let with_ca = |ca: &std::path::Path| {
        Sg::new()
            .env("DATABASE_URL", &url)
            .env("SCHEMAGATE_SSLROOTCERT", ca.to_str().unwrap())
            .env("SCHEMAGATE_MIGRATIONS_DIR", dir.path().to_str().unwrap())
            .args(&["run"])
            .run()
    };
    with_ca(&tls.ca).assert_code(0);
    let wrong = with_ca(&tls.other_ca);
    wrong.assert_code(3);
    assert!(
        wrong.stderr.contains("UnknownIssuer") || wrong.stderr.contains("invalid peer certificate"),
        "{}",
        wrong.stderr
    );
}
