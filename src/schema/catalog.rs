//! Catalog rows, as the queries in `src/db/sql/schema_*.sql` return them, and
//! the pure assembly of those rows into a [`Snapshot`]. The one-letter codes
//! of the catalog are spelled out here, so the document reads without the
//! PostgreSQL manual.

use std::collections::BTreeMap;

use super::acl;
use super::model::{
    Column, Constraint, DefaultPrivileges, Extension, Function, Index, Policy, Schema, Sequence, Snapshot, Table,
    Trigger, Type, TypeDef, View, FORMAT_VERSION,
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
    pub owner: String,
    pub comment: Option<String>,
    pub row_security: bool,
    pub force_row_security: bool,
    /// The ACL as the server prints it, and its default (`acldefault`,
    /// read only when there is an ACL); see [`super::acl`].
    pub acl: Option<Vec<String>>,
    pub default_acl: Option<Vec<String>>,
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
    pub comment: Option<String>,
    /// A column's ACL; its default is empty. Columns of views come only
    /// when they have one.
    pub acl: Option<Vec<String>>,
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
    /// The ACL as the server prints it, and its default (`acldefault`,
    /// read only when there is an ACL); see [`super::acl`].
    pub acl: Option<Vec<String>>,
    pub default_acl: Option<Vec<String>>,
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
    pub owner: String,
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
    pub owner: String,
    pub comment: Option<String>,
    /// The ACL as the server prints it, and its default (`acldefault`,
    /// read only when there is an ACL); see [`super::acl`].
    pub acl: Option<Vec<String>>,
    pub default_acl: Option<Vec<String>>,
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
    pub owner: String,
}

/// The owner and privileges of a compared schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceRow {
    pub name: String,
    pub owner: String,
    /// The ACL as the server prints it, and its default (`acldefault`,
    /// read only when there is an ACL); see [`super::acl`].
    pub acl: Option<Vec<String>>,
    pub default_acl: Option<Vec<String>>,
}

/// One `pg_default_acl` row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefaultPrivilegeRow {
    pub role: String,
    /// `None` for the global entries (`defaclnamespace` 0).
    pub schema: Option<String>,
    /// `defaclobjtype`: `r`, `S`, `f`, `T` or `n`.
    pub objtype: String,
    pub acl: Vec<String>,
    /// The built-in default a global entry replaces; `None` for a schema's
    /// entry, which only adds to it.
    pub default_acl: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRow {
    pub schema: String,
    pub table: String,
    pub name: String,
    /// `polcmd`: `r`, `a`, `w`, `d` or `*`.
    pub command: String,
    pub permissive: bool,
    pub roles: Vec<String>,
    pub using: Option<String>,
    pub with_check: Option<String>,
}

/// Everything the catalog queries returned, for the compared schemas.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// The compared schemas that exist, even when empty.
    pub schemas: Vec<String>,
    pub namespaces: Vec<NamespaceRow>,
    pub relations: Vec<RelationRow>,
    pub columns: Vec<ColumnRow>,
    pub constraints: Vec<ConstraintRow>,
    pub indexes: Vec<IndexRow>,
    pub sequences: Vec<SequenceRow>,
    pub types: Vec<TypeRow>,
    pub functions: Vec<FunctionRow>,
    pub triggers: Vec<TriggerRow>,
    pub extensions: Vec<ExtensionRow>,
    pub default_privileges: Vec<DefaultPrivilegeRow>,
    pub policies: Vec<PolicyRow>,
}

/// Builds the document. Row order does not matter: every collection is a
/// sorted map, and lists of grants and roles are sorted here (byte order,
/// not the database's collation, so that every cluster sorts alike). Rows
/// for a schema or object that was not listed are dropped: the queries run
/// in one snapshot, so that only happens for objects left out on purpose
/// (the history table's grants, an extension's members).
pub fn assemble(catalog: Catalog) -> Snapshot {
    let mut schemas: BTreeMap<String, Schema> =
        catalog.schemas.iter().map(|s| (s.clone(), Schema::default())).collect();
    for n in catalog.namespaces {
        if let Some(s) = schemas.get_mut(&n.name) {
            s.owner = Some(n.owner);
            s.privileges = acl::privileges(n.acl.as_deref(), n.default_acl.as_deref());
        }
    }
    for r in catalog.relations {
        add_relation(&mut schemas, r);
    }
    add_table_parts(&mut schemas, catalog.columns, catalog.constraints, catalog.policies);
    add_schema_objects(&mut schemas, catalog.indexes, catalog.sequences, catalog.triggers);
    add_types_and_functions(&mut schemas, catalog.types, catalog.functions);
    let extensions = catalog
        .extensions
        .into_iter()
        .map(|e| {
            let extension = Extension {
                owner: Some(e.owner),
                schema: e.schema,
                version: e.version,
            };
            (e.name, extension)
        })
        .collect();
    let mut snapshot = Snapshot {
        default_privileges: BTreeMap::new(),
        extensions,
        format_version: FORMAT_VERSION,
        schemas,
    };
    for d in catalog.default_privileges {
        add_default_privilege(&mut snapshot, d);
    }
    snapshot.sort_entries();
    snapshot
}

fn add_relation(schemas: &mut BTreeMap<String, Schema>, r: RelationRow) {
    let Some(s) = schemas.get_mut(&r.schema) else { return };
    let privileges = acl::privileges(r.acl.as_deref(), r.default_acl.as_deref());
    let view = || View {
        comment: r.comment.clone(),
        definition: r.definition.clone().unwrap_or_default(),
        owner: Some(r.owner.clone()),
        privileges: privileges.clone(),
        ..Default::default()
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
                comment: r.comment,
                force_row_security: r.force_row_security,
                kind: kind.into(),
                owner: Some(r.owner),
                partition_key: r.partition_key,
                partition_of: r.partition_of,
                partition_bound: r.partition_bound,
                privileges,
                row_security: r.row_security,
                ..Default::default()
            };
            s.tables.insert(r.name, table);
        }
    }
}

fn add_table_parts(
    schemas: &mut BTreeMap<String, Schema>,
    columns: Vec<ColumnRow>,
    constraints: Vec<ConstraintRow>,
    policies: Vec<PolicyRow>,
) {
    for c in columns {
        add_column(schemas, c);
    }
    for c in constraints {
        if let Some(t) = table_mut(schemas, &c.schema, &c.table) {
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
    for p in policies {
        if let Some(t) = table_mut(schemas, &p.schema, &p.table) {
            let policy = Policy {
                command: policy_command(&p.command).to_string(),
                permissive: p.permissive,
                roles: p.roles,
                using: p.using,
                with_check: p.with_check,
            };
            t.policies.insert(p.name, policy);
        }
    }
}

/// A table's column, or the privileges of a view's (whose columns are not
/// recorded otherwise).
fn add_column(schemas: &mut BTreeMap<String, Schema>, c: ColumnRow) {
    let Some(s) = schemas.get_mut(&c.schema) else { return };
    let privileges = acl::privileges(c.acl.as_deref(), None);
    let name = c.name.clone();
    let column_privileges = if let Some(t) = s.tables.get_mut(&c.table) {
        t.columns.insert(name.clone(), column(c));
        &mut t.column_privileges
    } else if let Some(v) = s.views.get_mut(&c.table).or(s.materialized_views.get_mut(&c.table)) {
        &mut v.column_privileges
    } else {
        return;
    };
    if !privileges.is_default() {
        column_privileges.insert(name, privileges);
    }
}

fn add_types_and_functions(schemas: &mut BTreeMap<String, Schema>, types: Vec<TypeRow>, functions: Vec<FunctionRow>) {
    for t in types {
        if let (Some(s), Some(def)) = (schemas.get_mut(&t.schema), type_def(&t)) {
            s.types.insert(
                t.name,
                Type {
                    def,
                    owner: Some(t.owner),
                },
            );
        }
    }
    for f in functions {
        if let Some(s) = schemas.get_mut(&f.schema) {
            s.functions
                .insert(format!("{}({})", f.name, f.argument_types), function(f));
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
            let privileges = acl::privileges(q.acl.as_deref(), q.default_acl.as_deref());
            s.sequences.insert(
                q.name,
                Sequence {
                    privileges,
                    ..q.sequence
                },
            );
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

fn add_default_privilege(snapshot: &mut Snapshot, d: DefaultPrivilegeRow) {
    let target: Option<&mut DefaultPrivileges> = match &d.schema {
        None => Some(&mut snapshot.default_privileges),
        Some(schema) => snapshot.schemas.get_mut(schema).map(|s| &mut s.default_privileges),
    };
    if let Some(target) = target {
        let objects = default_privilege_objects(&d.objtype).to_string();
        let privileges = acl::privileges(Some(&d.acl), d.default_acl.as_deref());
        target.entry(d.role).or_default().insert(objects, privileges);
    }
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
        comment: c.comment,
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

fn policy_command(code: &str) -> &str {
    match code {
        "r" => "SELECT",
        "a" => "INSERT",
        "w" => "UPDATE",
        "d" => "DELETE",
        "*" => "ALL",
        other => other,
    }
}

fn default_privilege_objects(objtype: &str) -> &str {
    match objtype {
        "r" => "tables",
        "S" => "sequences",
        "f" => "functions",
        "T" => "types",
        "n" => "schemas",
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
        comment: f.comment,
        config: f.config.filter(|c| !c.is_empty()),
        kind: match f.prokind.as_str() {
            "p" => "procedure",
            "w" => "window function",
            _ => "function",
        }
        .into(),
        language: f.language,
        owner: Some(f.owner),
        parallel: match f.parallel.as_str() {
            "s" => "safe",
            "r" => "restricted",
            _ => "unsafe",
        }
        .into(),
        privileges: acl::privileges(f.acl.as_deref(), f.default_acl.as_deref()),
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
    use crate::schema::model::tests::grant;

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
        let TypeDef::Domain { constraints, .. } = &snap.schemas["public"].types["posint"].def else {
            panic!("not a domain")
        };
        assert_eq!(constraints["b_check"], "CHECK ((VALUE < 10))");
    }

    fn acl(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|i| s(i)).collect())
    }

    #[test]
    fn privileges_land_on_their_object_or_column_sorted_in_byte_order() {
        let table_default = acl(&["app_owner=arwdDxt/app_owner"]);
        let relation = |name: &str, relkind: &str, own: Option<Vec<String>>| RelationRow {
            schema: s("public"),
            name: s(name),
            relkind: s(relkind),
            owner: s("app_owner"),
            default_acl: own.as_ref().and(table_default.clone()),
            acl: own,
            ..Default::default()
        };
        let column = |table: &str, name: &str, own: &[&str]| ColumnRow {
            schema: s("public"),
            table: s(table),
            name: s(name),
            acl: acl(own),
            ..Default::default()
        };
        let catalog = Catalog {
            schemas: vec![s("public")],
            namespaces: vec![NamespaceRow {
                name: s("public"),
                owner: s("pg_database_owner"),
                acl: acl(&["pg_database_owner=UC/pg_database_owner", "=U/pg_database_owner"]),
                default_acl: acl(&["pg_database_owner=UC/pg_database_owner"]),
            }],
            relations: vec![
                relation(
                    "t",
                    "r",
                    acl(&["app_owner=arwdDxt/app_owner", "zed=r/app_owner", "Zed=r/a", "Zed=r/b"]),
                ),
                relation("v", "v", None),
                relation("m", "m", acl(&["app_owner=arwdDxt/app_owner"])),
            ],
            columns: vec![
                column("t", "c", &["zed=w/app_owner"]),
                column("t", "d", &[]),
                column("v", "x", &["zed=r/app_owner"]),
                // The history table is not in the snapshot: its rows are dropped.
                column("schemagate_history", "version", &["zed=r/app_owner"]),
            ],
            functions: vec![FunctionRow {
                schema: s("public"),
                name: s("f"),
                argument_types: s("integer"),
                owner: s("app_owner"),
                acl: acl(&["app_owner=X/app_owner"]),
                default_acl: acl(&["=X/app_owner", "app_owner=X/app_owner"]),
                ..Default::default()
            }],
            ..Default::default()
        };
        let snap = assemble(catalog);
        let public = &snap.schemas["public"];
        assert_eq!(public.owner.as_deref(), Some("pg_database_owner"));
        assert_eq!(public.privileges.granted, vec![grant("PUBLIC", "USAGE")]);
        let t = &public.tables["t"];
        assert_eq!(t.owner.as_deref(), Some("app_owner"));
        // Byte order: upper case first, whatever the database's collation;
        // one entry per privilege, whoever granted it.
        assert_eq!(
            t.privileges.granted,
            vec![grant("Zed", "SELECT"), grant("zed", "SELECT")]
        );
        assert!(t.privileges.revoked.is_empty());
        assert_eq!(t.column_privileges["c"].granted, vec![grant("zed", "UPDATE")]);
        assert!(
            !t.column_privileges.contains_key("d"),
            "an empty column ACL is the default"
        );
        assert_eq!(t.columns.len(), 2);
        let v = &public.views["v"];
        assert!(v.privileges.is_default() && v.column_privileges["x"].granted.len() == 1);
        assert!(
            public.materialized_views["m"].privileges.is_default(),
            "explicit, equal to the default"
        );
        assert_eq!(
            public.functions["f(integer)"].privileges.revoked,
            vec![grant("PUBLIC", "EXECUTE")]
        );
        assert_eq!(public.tables.len(), 1);
    }

    #[test]
    fn default_privileges_go_global_or_to_their_schema_and_policies_spell_out_codes() {
        let default_row = |schema: Option<&str>, objtype: &str, items: &[&str]| DefaultPrivilegeRow {
            role: s("app_owner"),
            schema: schema.map(s),
            objtype: s(objtype),
            acl: acl(items).unwrap(),
            // Only a global entry is set against the built-in default.
            default_acl: schema
                .is_none()
                .then(|| vec![s("=X/app_owner"), s("app_owner=X/app_owner")]),
        };
        let catalog = Catalog {
            schemas: vec![s("public")],
            relations: vec![RelationRow {
                schema: s("public"),
                name: s("t"),
                relkind: s("r"),
                row_security: true,
                ..Default::default()
            }],
            default_privileges: vec![
                default_row(None, "f", &["app_owner=X/app_owner"]),
                default_row(Some("public"), "r", &["reader=r/app_owner"]),
                default_row(Some("public"), "S", &["reader=U/app_owner"]),
                default_row(Some("other"), "r", &["reader=r/app_owner"]),
            ],
            policies: vec![PolicyRow {
                schema: s("public"),
                table: s("t"),
                name: s("p"),
                command: s("w"),
                permissive: false,
                roles: vec![s("b"), s("PUBLIC"), s("a")],
                using: Some(s("true")),
                with_check: None,
            }],
            ..Default::default()
        };
        let snap = assemble(catalog);
        assert_eq!(
            snap.default_privileges["app_owner"]["functions"].revoked,
            vec![grant("PUBLIC", "EXECUTE")]
        );
        let public = &snap.schemas["public"];
        let mine = &public.default_privileges["app_owner"];
        assert_eq!(mine.keys().collect::<Vec<_>>(), vec!["sequences", "tables"]);
        let t = &public.tables["t"];
        assert!(t.row_security && !t.force_row_security);
        assert_eq!(t.policies["p"].command, "UPDATE");
        assert_eq!(t.policies["p"].roles, vec!["PUBLIC", "a", "b"]);
    }
}
