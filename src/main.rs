//! The binary: snapshot the environment, run, exit. Nothing else exits.

use std::io::Write;
use std::panic;

fn main() {
    // A panic is a bug: report it briefly (never with data that could hold a
    // secret) and exit 1, the documented "internal error".
    panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "schemagate: internal error (panic{at}); please report it"
        );
    }));
    let env = schemagate::config::RawEnv {
        vars: std::env::vars_os()
            .map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned()))
            .collect(),
        probes: schemagate::config::Probes::read(),
    };
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let code =
        panic::catch_unwind(move || schemagate::app::run(args, env)).unwrap_or(schemagate::error::exit::INTERNAL);
    std::process::exit(code);
}
