//! Reading and writing the history table, and migrating the table itself.
//! What to do with the table is decided by `history_format`; this module
//! only carries it out.

use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::Row;
use tracing::info;

use super::{db_error, Param, Session};
use crate::config::{quote_ident, TableName};
use crate::error::Error;
use crate::history_format::{self, Action, Found, Mode};
use crate::migration::Version;
use crate::reconcile::{History, HistoryDigest, HistoryRow, Problem, RepeatableRow};

const PROBE: &str = include_str!("sql/history_probe.sql");
const CREATE_SCHEMA: &str = include_str!("sql/create_schema.sql");
const CREATE_TABLE: &str = include_str!("sql/create_history.sql");
const READ: &str = include_str!("sql/read_history.sql");
const READ_V1: &str = include_str!("sql/read_history_v1.sql");
const DIGEST: &str = include_str!("sql/history_digest.sql");
const INSERT_BASELINE: &str = include_str!("sql/insert_baseline.sql");
const UPDATE_CHECKSUM: &str = include_str!("sql/update_checksum.sql");
pub const DELETE_VERSION: &str = include_str!("sql/delete_version.sql");

/// The steps from one format to the next, by the format they reach.
const UPGRADES: &[(u32, &str)] = &[(2, include_str!("sql/history_upgrade_2.sql"))];

/// SQL text for the history table, with the (quoted) table name in place.
/// Identifiers cannot be bound as parameters; values always are.
pub fn sql_for(template: &str, table: &TableName) -> String {
    template.replace("{table}", &table.quoted())
}

/// A constant of ours as an SQL literal, for the one statement that takes
/// no parameters (COMMENT). Never used for a value from outside.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn table_error(what: &str, table: &TableName) -> impl FnOnce(tokio_postgres::Error) -> Error {
    db_error(format!("{what} the history table {}", table.quoted()))
}

/// Whether the table's schema exists, and what the catalog says about the
/// table: one query that raises no error when either is missing.
async fn probe(session: &Session, table: &TableName) -> Result<(bool, Found), Error> {
    let (name, schema) = (table.quoted(), quote_ident(&table.schema));
    let params: [Param; 2] = [(&name, Type::TEXT), (&schema, Type::TEXT)];
    let row = session
        .client
        .query_typed_one(PROBE, &params)
        .await
        .map_err(table_error("looking for", table))?;
    let found = if row.get("table_exists") {
        Found::Present {
            comment: row.get("comment"),
            columns: row.get("columns"),
        }
    } else {
        Found::Missing
    };
    Ok((row.get("schema_exists"), found))
}

/// For commands that write (`run`, `baseline`, `import`, `repair`, `down`),
/// under the migration lock: creates the table when it is missing, upgrades
/// an older format in place, and returns the history.
pub async fn open(session: &Session, table: &TableName) -> Result<History, Error> {
    let (schema_exists, found) = probe(session, table).await?;
    match history_format::decide(&found, Mode::Write) {
        Action::Create => create(session, table, schema_exists).await.map(|()| History::default()),
        Action::Upgrade(steps) => {
            upgrade(session, table, &steps).await?;
            read_rows(session, table, READ).await
        }
        Action::Use | Action::ReadAs(_) => read_rows(session, table, READ).await,
        Action::Refuse(why) => Err(Error::Refused(format!("the history table {} {why}", table.quoted()))),
    }
}

/// For read-only commands (`verify`, `status`, `plan`): the history as it
/// is, `None` when the table does not exist (nothing is applied). An older
/// format is read as it is; a writer may upgrade it meanwhile, which the
/// second look catches.
pub async fn read(session: &Session, table: &TableName) -> Result<Option<History>, Error> {
    for attempt in 0..2 {
        let (_, found) = probe(session, table).await?;
        let query = match history_format::decide(&found, Mode::ReadOnly) {
            Action::Create => return Ok(None),
            Action::Use | Action::Upgrade(_) => READ,
            Action::ReadAs(_) => READ_V1,
            Action::Refuse(why) => return Err(Error::Refused(format!("the history table {} {why}", table.quoted()))),
        };
        match read_rows(session, table, query).await {
            Err(Error::Database { .. }) if attempt == 0 && query == READ_V1 => continue,
            Ok(mut history) => {
                history.older_format = query == READ_V1;
                return Ok(Some(history));
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns on its second pass")
}

/// For the run that finds nothing to do: the history summed up by the
/// server in one row ([`HistoryDigest`]), `None` when the table is missing
/// or in another format (then the rows are read and reconciled as usual).
pub async fn digest(session: &Session, table: &TableName) -> Result<Option<HistoryDigest>, Error> {
    let (_, found) = probe(session, table).await?;
    if !matches!(history_format::decide(&found, Mode::ReadOnly), Action::Use) {
        return Ok(None);
    }
    let row = session
        .client
        .query_typed_one(&sql_for(DIGEST, table), &[])
        .await
        .map_err(table_error("reading", table))?;
    Ok(Some(HistoryDigest {
        rows: row.get("rows"),
        unsettled: row.get("unsettled"),
        sha256: row.get("sha256"),
    }))
}

async fn read_rows(session: &Session, table: &TableName, query: &str) -> Result<History, Error> {
    let rows = session
        .client
        .query_typed(&sql_for(query, table), &[])
        .await
        .map_err(table_error("reading", table))?;
    let mut history = History::default();
    for r in &rows {
        match r.get::<_, Option<String>>("migration_version") {
            Some(text) => history.rows.push(history_row(r, &text, table)?),
            None => history.repeatables.push(RepeatableRow {
                name: r.get("name"),
                checksum: r.get("checksum"),
                applied_at: r.get("applied_at"),
            }),
        }
    }
    history.rows.sort_by(|a, b| a.version.cmp(&b.version));
    Ok(history)
}

fn history_row(r: &Row, text: &str, table: &TableName) -> Result<HistoryRow, Error> {
    let version: Version = text.parse().map_err(|reason: String| {
        Error::Verification(vec![Problem::UnreadableRow {
            table: table.quoted(),
            version: text.to_string(),
            reason,
        }])
    })?;
    Ok(HistoryRow {
        version,
        name: r.get("name"),
        checksum: r.get("checksum"),
        kind: r.get("kind"),
        applied_at: r.get("applied_at"),
        execution_ms: r.get("execution_ms"),
        success: r.get("success"),
        applied_by: r.get("applied_by"),
        finished: r.get("finished"),
        restore_point: r.get("restore_point"),
    })
}

/// Creates the schema (when it is missing) and the table with its marker,
/// in one transaction. Runs under the lock, so concurrent runners never race.
async fn create(session: &Session, table: &TableName, schema_exists: bool) -> Result<(), Error> {
    let mut sql = String::from("BEGIN;\n");
    if !schema_exists {
        sql.push_str(&CREATE_SCHEMA.replace("{schema}", &quote_ident(&table.schema)));
    }
    sql.push_str(&sql_for(CREATE_TABLE, table).replace("{marker}", &literal(&history_format::marker())));
    sql.push_str("\nCOMMIT;");
    let result = session.client.batch_execute(&sql).await;
    if result.is_err() {
        let _ = session.client.batch_execute("ROLLBACK").await;
    }
    result.map_err(|e| creation_error(e, table))
}

/// PostgreSQL 15 no longer lets every role create in `public`: say what to
/// grant, or where else the table can go (exit 3, not an internal error).
fn creation_error(e: tokio_postgres::Error, table: &TableName) -> Error {
    if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
        let message = super::describe(&e);
        return Error::Privilege {
            action: format!("creating the history table {}", table.quoted()),
            message,
            hint: format!(
                "grant it (GRANT CREATE ON SCHEMA {} TO <the role>), create the table as a role that may, or set \
                 SCHEMAGATE_HISTORY_TABLE to a schema this role owns",
                quote_ident(&table.schema)
            ),
        };
    }
    table_error("creating", table)(e)
}

/// Runs the upgrade steps and sets the new marker, in one transaction: the
/// table is in the old format or the new one, never in between.
async fn upgrade(session: &Session, table: &TableName, steps: &[u32]) -> Result<(), Error> {
    let mut sql = String::from("BEGIN;\n");
    for step in steps {
        let (_, step_sql) = UPGRADES
            .iter()
            .find(|(to, _)| to == step)
            .ok_or_else(|| Error::Internal(format!("no upgrade step to history format {step}")))?;
        sql.push_str(&sql_for(step_sql, table));
    }
    sql.push_str(&format!(
        "COMMENT ON TABLE {} IS {};\nCOMMIT;",
        table.quoted(),
        literal(&history_format::marker())
    ));
    let result = session.client.batch_execute(&sql).await;
    if result.is_err() {
        let _ = session.client.batch_execute("ROLLBACK").await;
    }
    result.map_err(table_error("upgrading", table))?;
    info!(
        "upgraded the history table {} to format {}",
        table.quoted(),
        history_format::CURRENT
    );
    Ok(())
}

/// Records versions as `kind=baseline` in one statement.
pub async fn insert_baseline(
    session: &Session,
    table: &TableName,
    entries: &[(Version, String, String)],
    applied_by: &str,
) -> Result<(), Error> {
    let versions: Vec<String> = entries.iter().map(|e| e.0.to_string()).collect();
    let names: Vec<&str> = entries.iter().map(|e| e.1.as_str()).collect();
    let checksums: Vec<&str> = entries.iter().map(|e| e.2.as_str()).collect();
    let params: [Param; 4] = [
        (&versions, Type::TEXT_ARRAY),
        (&names, Type::TEXT_ARRAY),
        (&checksums, Type::TEXT_ARRAY),
        (&applied_by, Type::TEXT),
    ];
    session
        .client
        .query_typed(&sql_for(INSERT_BASELINE, table), &params)
        .await
        .map(drop)
        .map_err(table_error("writing baseline rows to", table))
}

pub async fn update_checksum(
    session: &Session,
    table: &TableName,
    version: &Version,
    checksum: &str,
) -> Result<(), Error> {
    let version = version.to_string();
    let params: [Param; 2] = [(&version, Type::TEXT), (&checksum, Type::TEXT)];
    session
        .client
        .query_typed(&sql_for(UPDATE_CHECKSUM, table), &params)
        .await
        .map(drop)
        .map_err(table_error("updating", table))
}

pub async fn delete_version(session: &Session, table: &TableName, version: &Version) -> Result<(), Error> {
    let version = version.to_string();
    session
        .client
        .query_typed(&sql_for(DELETE_VERSION, table), &[(&version, Type::TEXT)])
        .await
        .map(drop)
        .map_err(table_error("deleting from", table))
}
