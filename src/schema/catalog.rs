//! Catalog rows, as the queries in `src/db/sql/schema_*.sql` return them, and
//! the pure assembly of those rows into a [`Snapshot`]. The one-letter codes
//! of the catalog are spelled out here, so the document reads without the
//! PostgreSQL manual.

use std::collections::BTreeMap;

use super::model::{
    Column, Constraint, Extension, Function, Index, Schema, Sequence, Snapshot, Table, Trigger, TypeDef, View,
    FORMAT_VERSION,
};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelationRow {
    pub schema: String,
    pub name: String,
    pub relkind: String,
    pub unlogged: bool,
    pub definition: Option<String>,
    pub partition_key: Option<String>,
    pub partition_of: Option<String>,
    pub partition_bound: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnRow {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub type_name: String,
    pub not_null: bool,
    pub default: Option<String>,
    pub identity: String,
    pub generated: String,
    pub collation: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConstraintRow {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub contype: String,
    pub definition: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexRow {
    pub schema: String,
    pub name: String,
    pub table: String,
    pub definition: String,
    pub unique: bool,
    pub predicate: Option<String>,
    pub valid: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SequenceRow {
    pub schema: String,
    pub name: String,
    pub sequence: Sequence,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeRow {
    pub schema: String,
    pub name: String,
    pub typtype: String,
    pub labels: Vec<String>,
    pub base_type: Option<String>,
    pub not_null: bool,
    pub default: Option<String>,
    pub constraint_names: Vec<String>,
    pub constraint_definitions: Vec<String>,
    pub attributes: Vec<String>,
    pub subtype: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionRow {
    pub schema: String,
    pub name: String,
    pub argument_types: String,
    pub arguments: String,
    pub prokind: String,
    pub result: Option<String>,
    pub language: String,
    pub volatility: String,
    pub strict: bool,
    pub security_definer: bool,
    pub parallel: String,
    pub config: Option<String>,
    pub body_sha256: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriggerRow {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub definition: String,
    pub enabled: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtensionRow {
    pub name: String,
    pub schema: String,
    pub version: String,
}

/// Everything the catalog queries returned, for the compared schemas.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// The compared schemas that exist, even when empty.
    pub schemas: Vec<String>,
    pub relations: Vec<RelationRow>,
    pub columns: Vec<ColumnRow>,
    pub constraints: Vec<ConstraintRow>,
    pub indexes: Vec<IndexRow>,
    pub sequences: Vec<SequenceRow>,
    pub types: Vec<TypeRow>,
    pub functions: Vec<FunctionRow>,
    pub triggers: Vec<TriggerRow>,
    pub extensions: Vec<ExtensionRow>,
}

/// Builds the document. Row order does not matter: every collection is a
/// sorted map. Rows for a schema or table that was not listed are dropped
/// (the queries run in one snapshot, so that does not happen in practice).
pub fn assemble(catalog: Catalog) -> Snapshot {
    let mut schemas: BTreeMap<String, Schema> =
        catalog.schemas.iter().map(|s| (s.clone(), Schema::default())).collect();
    for r in catalog.relations {
        add_relation(&mut schemas, r);
    }
    for c in catalog.columns {
        if let Some(t) = table_mut(&mut schemas, &c.schema, &c.table) {
            t.columns.insert(c.name.clone(), column(c));
        }
    }
    for c in catalog.constraints {
        if let Some(t) = table_mut(&mut schemas, &c.schema, &c.table) {
            let kind = constraint_kind(&c.contype).to_string();
            t.constraints.insert(
                c.name,
                Constraint {
                    definition: c.definition,
                    kind,
                },
            );
        }
    }
    add_schema_objects(&mut schemas, catalog.indexes, catalog.sequences, catalog.triggers);
    for t in catalog.types {
        if let (Some(s), Some(def)) = (schemas.get_mut(&t.schema), type_def(&t)) {
            s.types.insert(t.name, def);
        }
    }
    for f in catalog.functions {
        if let Some(s) = schemas.get_mut(&f.schema) {
            s.functions
                .insert(format!("{}({})", f.name, f.argument_types), function(f));
        }
    }
    let extensions = catalog
        .extensions
        .into_iter()
        .map(|e| {
            (
                e.name,
                Extension {
                    schema: e.schema,
                    version: e.version,
                },
            )
        })
        .collect();
    Snapshot {
        extensions,
        format_version: FORMAT_VERSION,
        schemas,
    }
}

fn add_relation(schemas: &mut BTreeMap<String, Schema>, r: RelationRow) {
    let Some(s) = schemas.get_mut(&r.schema) else { return };
    let view = || View {
        definition: r.definition.clone().unwrap_or_default(),
    };
    match r.relkind.as_str() {
        "v" => {
            s.views.insert(r.name.clone(), view());
        }
        "m" => {
            s.materialized_views.insert(r.name.clone(), view());
        }
        kind => {
            let kind = match (kind, r.unlogged) {
                ("p", _) => "partitioned table",
                ("f", _) => "foreign table",
                (_, true) => "unlogged table",
                _ => "table",
            };
            let table = Table {
                kind: kind.into(),
                partition_key: r.partition_key,
                partition_of: r.partition_of,
                partition_bound: r.partition_bound,
                ..Default::default()
            };
            s.tables.insert(r.name, table);
        }
    }
}

fn add_schema_objects(
    schemas: &mut BTreeMap<String, Schema>,
    indexes: Vec<IndexRow>,
    sequences: Vec<SequenceRow>,
    triggers: Vec<TriggerRow>,
) {
    for i in indexes {
        if let Some(s) = schemas.get_mut(&i.schema) {
            let index = Index {
                definition: i.definition,
                predicate: i.predicate,
                table: i.table,
                unique: i.unique,
                valid: i.valid,
            };
            s.indexes.insert(i.name, index);
        }
    }
    for q in sequences {
        if let Some(s) = schemas.get_mut(&q.schema) {
            s.sequences.insert(q.name, q.sequence);
        }
    }
    for t in triggers {
        if let Some(s) = schemas.get_mut(&t.schema) {
            let trigger = Trigger {
                definition: t.definition,
                enabled: trigger_enabled(&t.enabled).to_string(),
                table: t.table.clone(),
            };
            s.triggers.insert(format!("{}.{}", t.table, t.name), trigger);
        }
    }
}

fn table_mut<'a>(schemas: &'a mut BTreeMap<String, Schema>, schema: &str, table: &str) -> Option<&'a mut Table> {
    schemas.get_mut(schema)?.tables.get_mut(table)
}

fn column(c: ColumnRow) -> Column {
    // A generated column keeps its expression where a default would be.
    let (default, generated) = if c.generated.is_empty() {
        (c.default, None)
    } else {
        (None, c.default)
    };
    Column {
        collation: c.collation,
        default,
        generated,
        identity: match c.identity.as_str() {
            "a" => Some("always".into()),
            "d" => Some("by default".into()),
            _ => None,
        },
        not_null: c.not_null,
        type_name: c.type_name,
    }
}

fn constraint_kind(contype: &str) -> &str {
    match contype {
        "p" => "primary key",
        "u" => "unique",
        "c" => "check",
        "f" => "foreign key",
        "x" => "exclusion",
        other => other,
    }
}

fn trigger_enabled(code: &str) -> &str {
    match code {
        "O" => "enabled",
        "D" => "disabled",
        "R" => "replica",
        "A" => "always",
        other => other,
    }
}

fn type_def(t: &TypeRow) -> Option<TypeDef> {
    Some(match t.typtype.as_str() {
        "e" => TypeDef::Enum {
            labels: t.labels.clone(),
        },
        "d" => TypeDef::Domain {
            base_type: t.base_type.clone().unwrap_or_default(),
            constraints: t
                .constraint_names
                .iter()
                .cloned()
                .zip(t.constraint_definitions.iter().cloned())
                .collect(),
            default: t.default.clone(),
            not_null: t.not_null,
        },
        "c" => TypeDef::Composite {
            attributes: t.attributes.clone(),
        },
        "r" => TypeDef::Range {
            subtype: t.subtype.clone().unwrap_or_default(),
        },
        _ => return None,
    })
}

fn function(f: FunctionRow) -> Function {
    Function {
        arguments: f.arguments,
        body_sha256: f.body_sha256,
        config: f.config.filter(|c| !c.is_empty()),
        kind: match f.prokind.as_str() {
            "p" => "procedure",
            "w" => "window function",
            _ => "function",
        }
        .into(),
        language: f.language,
        parallel: match f.parallel.as_str() {
            "s" => "safe",
            "r" => "restricted",
            _ => "unsafe",
        }
        .into(),
        result: f.result,
        security_definer: f.security_definer,
        strict: f.strict,
        volatility: match f.volatility.as_str() {
            "i" => "immutable",
            "s" => "stable",
            _ => "volatile",
        }
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> String {
        v.to_string()
    }

    #[test]
    fn rows_land_in_their_schema_and_table_whatever_their_order() {
        let catalog = Catalog {
            schemas: vec![s("public"), s("empty")],
            columns: vec![
                ColumnRow {
                    schema: s("public"),
                    table: s("t"),
                    name: s("g"),
                    type_name: s("integer"),
                    default: Some(s("(id * 2)")),
                    generated: s("s"),
                    ..Default::default()
                },
                ColumnRow {
                    schema: s("public"),
                    table: s("t"),
                    name: s("id"),
                    type_name: s("bigint"),
                    not_null: true,
                    identity: s("d"),
                    ..Default::default()
                },
            ],
            relations: vec![
                RelationRow {
                    schema: s("public"),
                    name: s("t"),
                    relkind: s("r"),
                    unlogged: true,
                    ..Default::default()
                },
                RelationRow {
                    schema: s("public"),
                    name: s("v"),
                    relkind: s("v"),
                    definition: Some(s(" SELECT 1;")),
                    ..Default::default()
                },
            ],
            constraints: vec![ConstraintRow {
                schema: s("public"),
                table: s("t"),
                name: s("t_pkey"),
                contype: s("p"),
                definition: s("PRIMARY KEY (id)"),
            }],
            ..Default::default()
        };
        let snap = assemble(catalog);
        assert!(snap.schemas["empty"].tables.is_empty());
        let t = &snap.schemas["public"].tables["t"];
        assert_eq!(t.kind, "unlogged table");
        assert_eq!(t.columns["g"].generated.as_deref(), Some("(id * 2)"));
        assert_eq!(t.columns["g"].default, None);
        assert_eq!(t.columns["id"].identity.as_deref(), Some("by default"));
        assert_eq!(t.constraints["t_pkey"].kind, "primary key");
        assert_eq!(snap.schemas["public"].views["v"].definition, " SELECT 1;");
    }

    #[test]
    fn functions_are_keyed_by_argument_types_and_codes_are_spelled_out() {
        let f = FunctionRow {
            schema: s("public"),
            name: s("f"),
            argument_types: s("integer, text"),
            arguments: s("x integer, y text DEFAULT 'a'::text"),
            prokind: s("p"),
            volatility: s("s"),
            parallel: s("r"),
            config: Some(s("")),
            ..Default::default()
        };
        let snap = assemble(Catalog {
            schemas: vec![s("public")],
            functions: vec![f],
            ..Default::default()
        });
        let f = &snap.schemas["public"].functions["f(integer, text)"];
        assert_eq!((f.kind.as_str(), f.volatility.as_str()), ("procedure", "stable"));
        assert_eq!(f.parallel, "restricted");
        assert_eq!(f.config, None);
    }

    #[test]
    fn domains_pair_constraint_names_with_definitions() {
        let t = TypeRow {
            schema: s("public"),
            name: s("posint"),
            typtype: s("d"),
            base_type: Some(s("integer")),
            constraint_names: vec![s("a_check"), s("b_check")],
            constraint_definitions: vec![s("CHECK ((VALUE > 0))"), s("CHECK ((VALUE < 10))")],
            ..Default::default()
        };
        let snap = assemble(Catalog {
            schemas: vec![s("public")],
            types: vec![t],
            ..Default::default()
        });
        let TypeDef::Domain { constraints, .. } = &snap.schemas["public"].types["posint"] else {
            panic!("not a domain")
        };
        assert_eq!(constraints["b_check"], "CHECK ((VALUE < 10))");
    }
}
