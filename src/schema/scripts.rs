//! Verify scripts (sqitch-style): each `*.sql` file in `<migrations>/verify/`
//! runs in a read-only transaction that is rolled back. This module judges
//! what a run produced; `db::schema` runs them.

use std::fmt;

use crate::error::ServerError;

/// One statement that returned rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatementRows {
    /// Where the statement starts in the script (1-based).
    pub line: usize,
    /// The first column of each row, for rows whose first column is a
    /// boolean (`None` is SQL NULL). Rows of other shapes are not judged.
    pub first_booleans: Vec<Option<bool>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptRun {
    Completed(Vec<StatementRows>),
    Failed(ServerError),
}

/// Why a script failed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptFailure {
    Error(ServerError),
    /// A row whose first column is false: `row` (1-based) of the statement at `line`.
    ReturnedFalse {
        line: usize,
        row: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptResult {
    /// As the operator finds it: `verify/orders.sql`.
    pub script: String,
    pub failure: Option<ScriptFailure>,
}

/// A script fails if it raised an error, or if any row's first column is
/// `false`. NULL is not false: a check that cannot decide does not fail.
pub fn judge(script: &str, run: ScriptRun) -> ScriptResult {
    let failure = match run {
        ScriptRun::Failed(e) => Some(ScriptFailure::Error(e)),
        ScriptRun::Completed(statements) => statements.iter().find_map(|s| {
            s.first_booleans
                .iter()
                .position(|v| *v == Some(false))
                .map(|i| ScriptFailure::ReturnedFalse {
                    line: s.line,
                    row: i + 1,
                })
        }),
    };
    ScriptResult {
        script: script.to_string(),
        failure,
    }
}

impl fmt::Display for ScriptResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "verify script {}: ", self.script)?;
        match &self.failure {
            None => write!(f, "passed"),
            Some(ScriptFailure::ReturnedFalse { line, row }) => {
                write!(f, "the statement at line {line} returned false (row {row})")
            }
            Some(ScriptFailure::Error(e)) => write!(f, "{e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(line: usize, values: &[Option<bool>]) -> StatementRows {
        StatementRows {
            line,
            first_booleans: values.to_vec(),
        }
    }

    #[test]
    fn true_null_and_no_rows_pass() {
        let run = ScriptRun::Completed(vec![rows(1, &[Some(true), None]), rows(3, &[])]);
        let r = judge("verify/a.sql", run);
        assert_eq!(r.failure, None);
        assert_eq!(r.to_string(), "verify script verify/a.sql: passed");
    }

    #[test]
    fn a_false_row_fails_naming_statement_and_row() {
        let run = ScriptRun::Completed(vec![rows(1, &[Some(true)]), rows(4, &[Some(true), Some(false)])]);
        let r = judge("verify/b.sql", run);
        assert_eq!(r.failure, Some(ScriptFailure::ReturnedFalse { line: 4, row: 2 }));
        assert_eq!(
            r.to_string(),
            "verify script verify/b.sql: the statement at line 4 returned false (row 2)"
        );
    }

    #[test]
    fn an_error_names_position_and_sqlstate() {
        let e = ServerError {
            location: Some((2, 8)),
            sqlstate: "42703".into(),
            message: "column \"nope\" does not exist".into(),
            hint: Some("Perhaps you meant \"name\".".into()),
            ..Default::default()
        };
        let r = judge("verify/c.sql", ScriptRun::Failed(e));
        assert_eq!(
            r.to_string(),
            "verify script verify/c.sql: line 2, column 8: column \"nope\" does not exist (SQLSTATE 42703)\n  \
             hint: Perhaps you meant \"name\"."
        );
    }
}
