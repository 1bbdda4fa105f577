//! Command-line surface. Every `SCHEMAGATE_*` variable (and `DATABASE_URL`)
//! has a flag twin, accepted before or after the command; the flag wins.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    #[command(flatten)]
    pub flags: Flags,
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
        version: i64,
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
        to: i64,
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
    pub target: Option<i64>,
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
    #[arg(long)]
    pub sql: bool,
    /// Plan up to this version only.
    #[arg(long, value_name = "VERSION")]
    pub target: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFrom {
    Alembic,
    Flyway,
    GolangMigrate,
    Dbmate,
    Sqlx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Flag twins of the environment variables. Values stay strings here; they
/// are validated with the variables in [`crate::config::Config::from_sources`].
#[derive(Debug, Clone, Default, Args)]
pub struct Flags {
    /// DATABASE_URL (visible in `ps`; prefer DATABASE_URL_FILE for secrets).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// SCHEMAGATE_MIGRATIONS_DIR
    #[arg(long, global = true, value_name = "DIR")]
    pub migrations_dir: Option<String>,
    /// SCHEMAGATE_WAIT_TIMEOUT
    #[arg(long, global = true, value_name = "DURATION")]
    pub wait_timeout: Option<String>,
    /// SCHEMAGATE_CONNECT_TIMEOUT
    #[arg(long, global = true, value_name = "DURATION")]
    pub connect_timeout: Option<String>,
    /// SCHEMAGATE_LOCK_TIMEOUT
    #[arg(long, global = true, value_name = "DURATION")]
    pub lock_timeout: Option<String>,
    /// SCHEMAGATE_HISTORY_TABLE
    #[arg(long, global = true, value_name = "[SCHEMA.]TABLE")]
    pub history_table: Option<String>,
    /// SCHEMAGATE_CREATE_DATABASE
    #[arg(long, global = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub create_database: Option<String>,
    /// SCHEMAGATE_OUT_OF_ORDER
    #[arg(long, global = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub out_of_order: Option<String>,
    /// SCHEMAGATE_LOG_FORMAT (text or json)
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// SCHEMAGATE_LOG (level filter, e.g. info, debug)
    #[arg(long, global = true, value_name = "FILTER")]
    pub log: Option<String>,
    /// SCHEMAGATE_TERMINATION_LOG (empty disables)
    #[arg(long, global = true, value_name = "PATH")]
    pub termination_log: Option<String>,
    /// SCHEMAGATE_SCHEMAS (comma-separated names or globs; default public)
    #[arg(long, global = true, value_name = "LIST")]
    pub schemas: Option<String>,
    /// SCHEMAGATE_SCHEMA_EXCLUDE (comma-separated globs)
    #[arg(long, global = true, value_name = "LIST")]
    pub schema_exclude: Option<String>,
    /// SCHEMAGATE_EXPECTED_SCHEMA (default <migrations dir>/schema.json when it exists; empty disables)
    #[arg(long, global = true, value_name = "FILE")]
    pub expected_schema: Option<String>,
    /// SCHEMAGATE_STRICT_SCHEMA (objects missing from the expected schema fail too)
    #[arg(long, global = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub strict_schema: Option<String>,
}

impl Cli {
    pub fn command(&self) -> Command {
        self.command.clone().unwrap_or(Command::Run(RunArgs::default()))
    }
}
