//! Reading the catalog for a snapshot, and running verify scripts. I/O only:
//! the rows go to `schema::catalog::assemble`, the script outcomes to
//! `schema::scripts::judge`.

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row};

use super::{db_error, server_error, Session, Unplaced};
use crate::config::TableName;
use crate::error::Error;
use crate::schema::catalog::{
    self, Catalog, ColumnRow, ConstraintRow, DefaultPrivilegeRow, ExtensionRow, FunctionRow, IndexRow, NamespaceRow,
    PolicyRow, RelationRow, SequenceRow, TriggerRow, TypeRow,
};
use crate::schema::model::{Privileges, Sequence};
use crate::schema::scripts::{ScriptRun, StatementRows};
use crate::schema::{SchemaFilter, Snapshot};
use crate::sqltext::{split_statements, statement_start};

const BEGIN: &str = include_str!("sql/schema_begin.sql");
const NAMESPACES: &str = include_str!("sql/schema_namespaces.sql");
const SETTINGS: &str = include_str!("sql/schema_settings.sql");
const RELATIONS: &str = include_str!("sql/schema_relations.sql");
const COLUMNS: &str = include_str!("sql/schema_columns.sql");
const CONSTRAINTS: &str = include_str!("sql/schema_constraints.sql");
const INDEXES: &str = include_str!("sql/schema_indexes.sql");
const SEQUENCES: &str = include_str!("sql/schema_sequences.sql");
const TYPES: &str = include_str!("sql/schema_types.sql");
const FUNCTIONS: &str = include_str!("sql/schema_functions.sql");
const TRIGGERS: &str = include_str!("sql/schema_triggers.sql");
const EXTENSIONS: &str = include_str!("sql/schema_extensions.sql");
const SCHEMAS: &str = include_str!("sql/schema_schemas.sql");
const DEFAULT_PRIVILEGES: &str = include_str!("sql/schema_default_privileges.sql");
const POLICIES: &str = include_str!("sql/schema_policies.sql");
const SCRIPT_BEGIN: &str = include_str!("sql/verify_script_begin.sql");

fn catalog_error(what: &str) -> impl FnOnce(tokio_postgres::Error) -> Error {
    db_error(format!("reading the catalog ({what})"))
}

/// Snapshots the schemas that `filter` selects, leaving out the history
/// table. Two round trips: the schema list (filtered here, with globs), then
/// every catalog query in one pipeline, inside one read-only transaction.
pub async fn snapshot(session: &Session, filter: &SchemaFilter, history: &TableName) -> Result<Snapshot, Error> {
    let c = &session.client;
    let history_name = history.quoted();
    let params: [(&(dyn ToSql + Sync), Type); 1] = [(&history_name, Type::TEXT)];
    let (begin, located) = tokio::join!(
        biased;
        c.batch_execute(BEGIN),
        c.query_typed_one(NAMESPACES, &params)
    );
    match begin.and(located) {
        Ok(row) => {
            let schemas = filter.select(&row.get::<_, Vec<String>>("schemas"));
            let history_at: (Option<String>, Option<String>) = (row.get("history_schema"), row.get("history_table"));
            fetch(c, schemas, history_at).await.map(catalog::assemble)
        }
        Err(e) => {
            let _ = c.batch_execute("ROLLBACK").await;
            Err(catalog_error("schemas")(e))
        }
    }
}

async fn fetch(c: &Client, schemas: Vec<String>, history: (Option<String>, Option<String>)) -> Result<Catalog, Error> {
    let all: [(&(dyn ToSql + Sync), Type); 3] = [
        (&schemas, Type::TEXT_ARRAY),
        (&history.0, Type::TEXT),
        (&history.1, Type::TEXT),
    ];
    let only_schemas = &all[..1];
    // The transaction is read-only, so ROLLBACK (sent in the same pipeline)
    // loses nothing, and it also ends the transaction when a query failed.
    let (
        settings,
        relations,
        columns,
        constraints,
        indexes,
        sequences,
        types,
        functions,
        triggers,
        extensions,
        namespaces,
        default_privileges,
        policies,
        end,
    ) = tokio::join!(
        biased;
        c.query_typed(SETTINGS, &[]),
        c.query_typed(RELATIONS, &all),
        c.query_typed(COLUMNS, &all),
        c.query_typed(CONSTRAINTS, &all),
        c.query_typed(INDEXES, &all),
        c.query_typed(SEQUENCES, only_schemas),
        c.query_typed(TYPES, only_schemas),
        c.query_typed(FUNCTIONS, only_schemas),
        c.query_typed(TRIGGERS, &all),
        c.query_typed(EXTENSIONS, only_schemas),
        c.query_typed(SCHEMAS, only_schemas),
        c.query_typed(DEFAULT_PRIVILEGES, only_schemas),
        c.query_typed(POLICIES, only_schemas),
        c.batch_execute("ROLLBACK"),
    );
    settings.map_err(catalog_error("settings"))?;
    let catalog = Catalog {
        namespaces: rows(namespaces, "schemas", namespace)?,
        relations: rows(relations, "relations", relation)?,
        columns: rows(columns, "columns", column)?,
        constraints: rows(constraints, "constraints", constraint)?,
        indexes: rows(indexes, "indexes", index)?,
        sequences: rows(sequences, "sequences", sequence)?,
        types: rows(types, "types", type_row)?,
        functions: rows(functions, "functions", function)?,
        triggers: rows(triggers, "triggers", trigger)?,
        extensions: rows(extensions, "extensions", extension)?,
        default_privileges: rows(default_privileges, "default privileges", default_privilege)?,
        policies: rows(policies, "policies", policy)?,
        schemas,
    };
    end.map_err(catalog_error("ending the transaction"))?;
    Ok(catalog)
}

fn rows<T>(result: Result<Vec<Row>, tokio_postgres::Error>, what: &str, f: fn(&Row) -> T) -> Result<Vec<T>, Error> {
    Ok(result.map_err(catalog_error(what))?.iter().map(f).collect())
}

fn relation(r: &Row) -> RelationRow {
    RelationRow {
        schema: r.get("schema"),
        name: r.get("name"),
        relkind: r.get("relkind"),
        unlogged: r.get("unlogged"),
        definition: r.get("definition"),
        partition_key: r.get("partition_key"),
        partition_of: r.get("partition_of"),
        partition_bound: r.get("partition_bound"),
        owner: r.get("owner"),
        comment: r.get("comment"),
        row_security: r.get("row_security"),
        force_row_security: r.get("force_row_security"),
        acl: r.get("acl"),
        default_acl: r.get("default_acl"),
    }
}

fn column(r: &Row) -> ColumnRow {
    ColumnRow {
        schema: r.get("schema"),
        table: r.get("table_name"),
        name: r.get("name"),
        type_name: r.get("type"),
        not_null: r.get("not_null"),
        default: r.get("default_expr"),
        identity: r.get("identity"),
        generated: r.get("generated"),
        collation: r.get("collation"),
        comment: r.get("comment"),
        acl: r.get("acl"),
    }
}

fn constraint(r: &Row) -> ConstraintRow {
    ConstraintRow {
        schema: r.get("schema"),
        table: r.get("table_name"),
        name: r.get("name"),
        contype: r.get("contype"),
        definition: r.get("definition"),
    }
}

fn index(r: &Row) -> IndexRow {
    IndexRow {
        schema: r.get("schema"),
        name: r.get("name"),
        table: r.get("table_name"),
        definition: r.get("definition"),
        unique: r.get("is_unique"),
        predicate: r.get("predicate"),
        valid: r.get("valid"),
    }
}

fn sequence(r: &Row) -> SequenceRow {
    SequenceRow {
        schema: r.get("schema"),
        name: r.get("name"),
        sequence: Sequence {
            cache: r.get("cache"),
            cycle: r.get("cycle"),
            data_type: r.get("data_type"),
            increment: r.get("increment"),
            max_value: r.get("max_value"),
            min_value: r.get("min_value"),
            owned_by: r.get("owned_by"),
            owner: r.get("owner"),
            privileges: Privileges::default(),
            start: r.get("start_value"),
        },
        acl: r.get("acl"),
        default_acl: r.get("default_acl"),
    }
}

fn type_row(r: &Row) -> TypeRow {
    TypeRow {
        schema: r.get("schema"),
        name: r.get("name"),
        typtype: r.get("typtype"),
        labels: r.get("labels"),
        base_type: r.get("base_type"),
        not_null: r.get("not_null"),
        default: r.get("default_expr"),
        constraint_names: r.get("constraint_names"),
        constraint_definitions: r.get("constraint_definitions"),
        attributes: r.get("attributes"),
        subtype: r.get("subtype"),
        owner: r.get("owner"),
    }
}

fn function(r: &Row) -> FunctionRow {
    FunctionRow {
        schema: r.get("schema"),
        name: r.get("name"),
        argument_types: r.get("argument_types"),
        arguments: r.get("arguments"),
        prokind: r.get("prokind"),
        result: r.get("result"),
        language: r.get("language"),
        volatility: r.get("volatility"),
        strict: r.get("strict"),
        security_definer: r.get("security_definer"),
        parallel: r.get("parallel"),
        config: r.get("config"),
        body_sha256: r.get("body_sha256"),
        owner: r.get("owner"),
        comment: r.get("comment"),
        acl: r.get("acl"),
        default_acl: r.get("default_acl"),
    }
}

fn trigger(r: &Row) -> TriggerRow {
    TriggerRow {
        schema: r.get("schema"),
        table: r.get("table_name"),
        name: r.get("name"),
        definition: r.get("definition"),
        enabled: r.get("enabled"),
    }
}

fn extension(r: &Row) -> ExtensionRow {
    ExtensionRow {
        name: r.get("name"),
        schema: r.get("schema"),
        version: r.get("version"),
        owner: r.get("owner"),
    }
}

fn namespace(r: &Row) -> NamespaceRow {
    NamespaceRow {
        name: r.get("name"),
        owner: r.get("owner"),
        acl: r.get("acl"),
        default_acl: r.get("default_acl"),
    }
}

fn default_privilege(r: &Row) -> DefaultPrivilegeRow {
    DefaultPrivilegeRow {
        role: r.get("role"),
        schema: r.get("schema"),
        objtype: r.get("objtype"),
        acl: r.get("acl"),
        default_acl: r.get("default_acl"),
    }
}

fn policy(r: &Row) -> PolicyRow {
    PolicyRow {
        schema: r.get("schema"),
        table: r.get("table_name"),
        name: r.get("name"),
        command: r.get("command"),
        permissive: r.get("permissive"),
        roles: r.get("roles"),
        using: r.get("using_expr"),
        with_check: r.get("with_check"),
    }
}

/// Runs one verify script statement by statement (the extended protocol
/// reports each column's type, so a boolean `false` is told from the text
/// 'f'), inside a read-only transaction that is always rolled back.
pub async fn run_script(session: &Session, sql: &str) -> Result<ScriptRun, Error> {
    let c = &session.client;
    let fatal = |e| db_error("running a verify script")(e);
    c.batch_execute(SCRIPT_BEGIN).await.map_err(fatal)?;
    let mut statements = Vec::new();
    let mut outcome = None;
    for stmt in split_statements(sql) {
        match c.query_typed(stmt.sql, &[]).await {
            Ok(rows) => statements.push(StatementRows {
                line: statement_start(sql, stmt.char_offset).0,
                first_booleans: rows.iter().filter_map(first_boolean).collect(),
            }),
            // A server going away is not the script's failure (exit 3, not 6).
            Err(e) if super::is_connection_loss(&e) => return Err(fatal(e)),
            Err(e) if e.as_db_error().is_some() => {
                outcome = Some(ScriptRun::Failed(server_error(
                    &e,
                    sql,
                    stmt.char_offset,
                    Unplaced::StatementStart,
                )));
                break;
            }
            Err(e) => return Err(fatal(e)),
        }
    }
    c.batch_execute("ROLLBACK").await.map_err(fatal)?;
    Ok(outcome.unwrap_or(ScriptRun::Completed(statements)))
}

/// The first column of a row when it is a boolean (`Some(None)` for NULL).
fn first_boolean(row: &Row) -> Option<Option<bool>> {
    let first = row.columns().first()?;
    (*first.type_() == Type::BOOL).then(|| row.get::<_, Option<bool>>(0))
}
