//! Schema verification, the pure part: the snapshot document ([`model`]),
//! its assembly from catalog rows ([`catalog`]), which schemas are compared
//! ([`filter`]), the drift report ([`diff`]) and what is left out of it or
//! renamed first ([`compare`]), verify scripts ([`scripts`]) and the verdict
//! ([`report`]). `db::schema` does the I/O.

pub mod acl;
pub mod catalog;
pub mod compare;
pub mod diff;
pub mod filter;
pub mod model;
pub mod report;
pub mod scripts;

pub use compare::{compare, Comparison};
pub use diff::{diff, Drift, Severity, Strictness};
pub use filter::SchemaFilter;
pub use model::Snapshot;
