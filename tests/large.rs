//! A 50 MB migration (a data load, say) must not take several times its
//! size in memory: loading used to copy it four times. Peak RSS is read from
//! the kernel for this one child (wait4), not timed.

mod common;

use common::shared;

#[test]
fn a_50_mb_migration_takes_at_most_one_and_a_half_times_its_size_plus_10_mib() {
    let db = shared().fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let row = format!("(1, '{}')", "x".repeat(90));
    let statement = format!("INSERT INTO big VALUES {};\n", vec![row.as_str(); 1000].join(", "));
    let mut sql = String::from("CREATE TABLE big (id int, pad text);\n");
    while sql.len() < 50 << 20 {
        sql.push_str(&statement);
    }
    let size = sql.len();
    std::fs::write(dir.path().join("0001_load.sql"), &sql).unwrap();
    drop(sql);
    let child = db.sg(dir.path()).args(&["run"]).spawn();
    let (code, max_rss_kib) = wait_with_rusage(child);
    assert_eq!(code, 0);
    let rows: usize = db.psql("SELECT count(*) FROM big").trim().parse().unwrap();
    assert!(rows > 400_000, "{rows}");
    let limit_kib = (size as u64 * 3 / 2 + (10 << 20)) / 1024;
    assert!(
        (max_rss_kib as u64) <= limit_kib,
        "peak RSS {max_rss_kib} KiB for a {size}-byte file; the limit is {limit_kib} KiB"
    );
}

/// The exit code and the peak resident set of exactly this child.
fn wait_with_rusage(child: std::process::Child) -> (i32, i64) {
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    std::mem::forget(child);
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}
