//! schemagate: gate deployments on the database schema.
//!
//! Layout: pure decisions in [`migration`], [`history`], [`sqltext`] and
//! [`config`]; database I/O in [`db`]; one module per command in `commands`;
//! [`app`] ties them together and returns the exit code to `main`.

pub mod adopt;
pub mod app;
pub mod cli;
mod commands;
pub mod config;
pub mod db;
pub mod error;
pub mod history;
mod log;
pub mod migration;
pub mod schema;
pub mod signal;
pub mod sqltext;
pub mod termination;

pub use error::Error;
