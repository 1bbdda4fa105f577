//! schemagate: gate deployments on the database schema.
//!
//! The map, by layer:
//! - pure decisions over data: [`migration`] (files, names, directives,
//!   checksums), [`reconcile`] (files against history rows: states, problems,
//!   the plan), [`history_format`] (the history table's own format and its
//!   upgrades), [`adoption`] (baseline advice, repair, other tools' histories),
//!   [`schema`] (snapshot model, diff, verify-script verdicts), [`sqltext`]
//!   (statement splitting, positions), [`locks`] (what pending migrations
//!   lock and rewrite, as measured in a shadow database: findings, verdicts,
//!   the lock policy's refusal), [`restore`] (restore point names, and
//!   whether to take one, warn or refuse) and [`config`] (raw inputs to a validated
//!   [`config::Config`]);
//! - I/O: [`db`] (every round trip to PostgreSQL, SQL in `db/sql/*.sql`)
//!   and [`files`] (the migration directory, schema files, verify scripts);
//! - one module per command in `commands`, each a thin sequence of the above;
//! - [`app`] parses, configures, runs a command and returns the exit code to
//!   `main`, the only place that exits.

pub mod adoption;
pub mod app;
pub mod cli;
mod commands;
pub mod config;
pub mod db;
pub mod error;
pub mod files;
pub mod history_format;
pub mod locks;
mod log;
pub mod migration;
pub mod reconcile;
pub mod restore;
pub mod schema;
pub mod signal;
pub mod sqltext;
pub mod termination;

pub use error::Error;
