//! Command-line surface. Every `SCHEMAGATE_*` variable (and `DATABASE_URL`)
//! has a flag twin, accepted before or after the command; the flag wins. The
//! flags come from the settings table ([`crate::config::settings`]).

use std::path::PathBuf;

use clap::{Arg, ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::config::settings::{Kind, Setting, SETTINGS};
use crate::config::Flags;
use crate::migration::Version;

#[derive(Debug, Parser)]
#[command(
    name = "schemagate",
    version,
    about = "Gate deployments on the database schema: wait for PostgreSQL, lock, migrate, verify.",
    after_help = "Exit codes: 0 ok, 1 internal, 2 config/usage/invalid migrations, 3 database unreachable, \
                  4 lock timeout, 5 migration failed, 6 verification failed, 130/143 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Wait for the database, lock, apply pending migrations, verify (the default).
    Run(RunArgs),
    /// Show what `run` would do, writing nothing (also `run --dry-run`).
    Plan(PlanArgs),
    /// Adopt an existing database: record every file up to VERSION as applied, running none.
    Baseline {
        #[arg(long, value_name = "VERSION")]
        version: Version,
    },
    /// Make the history match the files again, printing every change.
    Repair {
        /// Print the changes without writing them.
        #[arg(long)]
        dry_run: bool,
        /// Also delete the rows of applied files that no longer exist.
        #[arg(long)]
        forget_missing: bool,
    },
    /// Revert the applied versions above VERSION with their down scripts, newest first.
    Down {
        #[arg(long, value_name = "VERSION")]
        to: Version,
        /// Accept empty or comment-only down scripts: delete their history rows, reverting nothing.
        #[arg(long)]
        allow_empty: bool,
    },
    /// Record another tool's applied migrations as baseline.
    Import {
        #[arg(long, value_enum)]
        from: ImportFrom,
        /// `their-id = version` lines, for tools whose ids are not our versions (Alembic).
        #[arg(long, value_name = "FILE")]
        mapping: Option<PathBuf>,
    },
    /// Wait until the database accepts a session and answers SELECT 1.
    Wait,
    /// Read-only: exit 0 only when the database is exactly at head.
    Verify {
        /// Poll until the database is at head or the wait timeout ends.
        #[arg(long)]
        wait: bool,
        /// json: the report as one document on stdout, whatever the outcome.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Write the live schema as deterministic JSON (stdout, or --output FILE).
    Snapshot {
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
        /// Write nothing; compare with FILE (or the expected schema) and exit 6 on any difference.
        #[arg(long)]
        check: bool,
    },
    /// List every migration with its state.
    Status {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Create the next migration file.
    New {
        /// Words describing the change, e.g. add_users.
        name: String,
    },
}

#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Stop at this version.
    #[arg(long, value_name = "VERSION")]
    pub target: Option<Version>,
    /// Only show the plan (same as `plan`).
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: print the SQL of each pending file.
    #[arg(long, requires = "dry_run")]
    pub sql: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct PlanArgs {
    /// Print the SQL of each pending file.
    #[arg(long, conflicts_with = "locks")]
    pub sql: bool,
    /// Plan up to this version only.
    #[arg(long, value_name = "VERSION")]
    pub target: Option<Version>,
    /// Run the pending files in the shadow database (SCHEMAGATE_SHADOW_URL) and report what each statement locks, rewrites and scans.
    #[arg(long)]
    pub locks: bool,
    /// With --locks: text, or one JSON document.
    #[arg(long, value_enum, default_value_t = Format::Text, requires = "locks")]
    pub format: Format,
    /// With --locks: without the target, prepare the shadow with the files up to VERSION and measure the later ones (CI).
    #[arg(long, value_name = "VERSION", requires = "locks")]
    pub from: Option<Version>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFrom {
    Alembic,
    Flyway,
    GolangMigrate,
    Dbmate,
    Sqlx,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// One flag per setting that has one, accepted before or after the command.
fn setting_arg(s: &'static Setting) -> Option<Arg> {
    let flag = s.flag?;
    let arg = Arg::new(s.var)
        .long(flag)
        .global(true)
        .value_name(s.value_name)
        .help(s.help())
        .action(ArgAction::Set);
    Some(match s.kind {
        Kind::Bool => arg.num_args(0..=1).default_missing_value("true"),
        _ => arg,
    })
}

/// The whole command line: clap's derive for the commands, the settings
/// table for the flags.
pub fn command() -> clap::Command {
    SETTINGS
        .iter()
        .filter_map(setting_arg)
        .fold(<Cli as CommandFactory>::command(), |c, a| c.arg(a))
}

/// Parses the arguments into the command and the flags' values.
pub fn parse<I, T>(args: I) -> Result<(Command, Flags), clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let flags = SETTINGS
        .iter()
        .filter(|s| s.flag.is_some())
        .filter_map(|s| matches.get_one::<String>(s.var).map(|v| (s.var, v.clone())))
        .collect();
    Ok((cli.command_or_run(), Flags(flags)))
}

impl Cli {
    /// The command given, or `run` when none is.
    pub fn command_or_run(&self) -> Command {
        self.command.clone().unwrap_or(Command::Run(RunArgs::default()))
    }
}
