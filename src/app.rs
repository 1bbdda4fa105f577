//! The process, minus `exit`: parse, configure, run a command, report.
//! `main` calls [`run`] and exits with what it returns, the only exit point
//! (as in ripgrep's `main.rs`).

use std::ffi::OsString;
use std::future::Future;
use std::io::Write;
use std::time::Duration;

use tracing::{error, info};

use crate::cli::{self, Command};
use crate::commands;
use crate::commands::Output;
use crate::config::{Config, RawEnv};
use crate::error::{exit, Error};
use crate::signal::Interrupt;
use crate::termination;

/// Runs schemagate with these arguments and this environment; returns the
/// exit code.
pub fn run(args: Vec<OsString>, env: RawEnv) -> i32 {
    let (command, flags) = match cli::parse(args) {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { exit::CONFIG } else { exit::OK };
        }
    };
    let config = match Config::from_sources(&env, &flags) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "schemagate: {e}");
            return e.exit_code();
        }
    };
    crate::log::init(config.log_format, &config.log_filter);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return report(&config, &Error::Internal(format!("starting the runtime: {e}"))),
    };
    let result = runtime.block_on(async {
        let interrupt =
            Interrupt::install().map_err(|e| Error::Internal(format!("installing signal handlers: {e}")))?;
        if !matches!(command, Command::New { .. }) {
            commands::log_source(&config);
        }
        bounded_by_signal(commands::execute(command, &config, &interrupt), &interrupt).await
    });
    // Do not wait for connection tasks or the file reader on the way out.
    runtime.shutdown_background();
    match result {
        Ok(output) => {
            if let Some(text) = &output.stdout {
                write_stdout(text);
            }
            info!("{}", output.summary);
            write_termination_log(&config, exit::OK, &output.summary);
            exit::OK
        }
        Err(e) => report(&config, &e),
    }
}

/// How long a command may go on after SIGTERM/SIGINT. Every wait selects on
/// the signal, and a migration in flight is cancelled and rolled back within
/// its own grace; this bounds everything else, so that a frozen server (a
/// SIGSTOPped postmaster, a storage stall, a partition) cannot keep a runner
/// past Kubernetes' or Docker's grace period.
const SIGNAL_GRACE: Duration = Duration::from_secs(4);

async fn bounded_by_signal(
    work: impl Future<Output = Result<Output, Error>>,
    interrupt: &Interrupt,
) -> Result<Output, Error> {
    tokio::pin!(work);
    tokio::select! {
        result = &mut work => result,
        sig = interrupt.recv() => match tokio::time::timeout(SIGNAL_GRACE, &mut work).await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!("the database did not answer within {SIGNAL_GRACE:?} of {}; exiting", sig.name());
                Err(Error::Interrupted(sig))
            }
        },
    }
}

fn report(config: &Config, e: &Error) -> i32 {
    if let Some(text) = e.stdout() {
        write_stdout(text);
    }
    let code = e.exit_code();
    error!("{e}");
    write_termination_log(config, code, &e.to_string());
    code
}

/// Command output. A reader that stops early (`status | head`) closes the
/// pipe: that is a normal end, not an error, and `print!` would panic on it.
fn write_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            tracing::debug!("stdout was closed by its reader; the rest of the output was dropped")
        }
        Err(e) => tracing::warn!("cannot write to stdout: {e}"),
    }
}

fn write_termination_log(config: &Config, code: i32, text: &str) {
    if let Some(path) = &config.termination_log {
        if let Err(e) = termination::write(path, code, text) {
            tracing::warn!("cannot write the termination log {}: {e}", path.display());
        }
    }
}
