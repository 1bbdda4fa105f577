//! The expected-schema document that `snapshot` writes and `run`/`verify`
//! read (README, "The snapshot format"). Every map is a `BTreeMap` and the
//! JSON is rendered through `serde_json::Value`, whose maps are sorted, so
//! the same schema always gives the same bytes. Nothing that differs from one
//! cluster to the next (OIDs, timestamps, statistics) is recorded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bumped when the meaning of a field changes or a new kind of object is
/// recorded. A file with a lower version stays readable: fields added later
/// default to empty, and what its version did not record is not compared
/// (see [`Snapshot::unrecorded`]).
///
/// 2 added ownership, privileges, default privileges, comments, row-level
/// security and policies.
pub const FORMAT_VERSION: u32 = 2;

/// The first version that records [`Aspect::Owner`], [`Aspect::Grants`],
/// [`Aspect::Comments`] and [`Aspect::RowSecurity`].
const SECURITY_SINCE: u32 = 2;

/// Parts of the snapshot recorded across object kinds, which a comparison
/// can leave out as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Aspect {
    Owner,
    Grants,
    Comments,
    /// The row-level security flags and the policies.
    RowSecurity,
}

impl Aspect {
    pub const ALL: [Aspect; 4] = [Aspect::Owner, Aspect::Grants, Aspect::Comments, Aspect::RowSecurity];

    /// As an operator names it (`SCHEMAGATE_SCHEMA_IGNORE`) and reads it.
    pub fn name(self) -> &'static str {
        match self {
            Aspect::Owner => "owner",
            Aspect::Grants => "grants",
            Aspect::Comments => "comments",
            Aspect::RowSecurity => "row level security and policies",
        }
    }
}

/// What `ALTER DEFAULT PRIVILEGES FOR ROLE role` set up: `role -> object
/// type (tables, sequences, functions, types, schemas) -> privileges` that
/// the role's next objects get. Relative to the built-in default like an
/// object's: a global entry replaces that default (so it can revoke from
/// it), a schema's entry adds to it (so it only grants).
pub type DefaultPrivileges = BTreeMap<String, BTreeMap<String, Privileges>>;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Default privileges that apply in every schema (`ALTER DEFAULT
    /// PRIVILEGES` without `IN SCHEMA`): they shape the objects the next
    /// migration creates in the compared schemas too.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub default_privileges: DefaultPrivileges,
    /// Extensions installed in a compared schema, by name.
    #[serde(default)]
    pub extensions: BTreeMap<String, Extension>,
    pub format_version: u32,
    /// Compared schemas, by name.
    #[serde(default)]
    pub schemas: BTreeMap<String, Schema>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Schema {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub default_privileges: DefaultPrivileges,
    /// By `name(argument types)`, since functions overload.
    pub functions: BTreeMap<String, Function>,
    /// Indexes that do not implement a constraint (those are constraints).
    pub indexes: BTreeMap<String, Index>,
    pub materialized_views: BTreeMap<String, View>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Privileges::is_default")]
    pub privileges: Privileges,
    pub sequences: BTreeMap<String, Sequence>,
    pub tables: BTreeMap<String, Table>,
    /// By `table.trigger`, since trigger names are per table.
    pub triggers: BTreeMap<String, Trigger>,
    pub types: BTreeMap<String, Type>,
    pub views: BTreeMap<String, View>,
}

/// One entry of an access control list: `grantee` (a role name, or
/// `PUBLIC`) holds `privilege` (`SELECT`, `EXECUTE`, …). Who granted it is
/// not recorded: it says nothing about who can do what.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    // Field order is sort order: by grantee, then privilege.
    pub grantee: String,
    pub privilege: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub grantable: bool,
}

/// An object's privileges, relative to the server's default for the object
/// (`acldefault`: the owner holds every privilege, and PUBLIC may execute
/// functions and use the `public` schema). A catalog ACL of NULL and an
/// explicit one equal to the default grant the same, and both record as
/// empty; the owner's rights are not repeated on every object, so an owner
/// that differs between environments does not turn into grant differences.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Privileges {
    /// Entries the object's ACL has beyond the default, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub granted: Vec<Grant>,
    /// Entries of the default that the object's ACL lacks
    /// (`REVOKE EXECUTE … FROM PUBLIC`), sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<Grant>,
}

impl Privileges {
    pub fn is_default(&self) -> bool {
        self.granted.is_empty() && self.revoked.is_empty()
    }

    pub fn grants_mut(&mut self) -> impl Iterator<Item = &mut Grant> {
        self.granted.iter_mut().chain(self.revoked.iter_mut())
    }

    /// Both lists, appended (sort afterwards).
    pub fn merge(&mut self, mut other: Privileges) {
        self.granted.append(&mut other.granted);
        self.revoked.append(&mut other.revoked);
    }
}

fn is_false(b: &bool) -> bool {
    !b
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Extension {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub schema: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Table {
    /// Privileges on single columns (`GRANT UPDATE (email) …`), by column.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub column_privileges: BTreeMap<String, Privileges>,
    pub columns: BTreeMap<String, Column>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Primary key, unique, check, foreign key and exclusion constraints.
    #[serde(default)]
    pub constraints: BTreeMap<String, Constraint>,
    /// `FORCE ROW LEVEL SECURITY`: the owner is subject to the policies too.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force_row_security: bool,
    /// `table`, `unlogged table`, `partitioned table` or `foreign table`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_bound: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_of: Option<String>,
    /// Row-level security policies, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<String, Policy>,
    #[serde(default, skip_serializing_if = "Privileges::is_default")]
    pub privileges: Privileges,
    /// `ENABLE ROW LEVEL SECURITY`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub row_security: bool,
}

/// A row-level security policy, as `pg_policies` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Policy {
    /// `ALL`, `SELECT`, `INSERT`, `UPDATE` or `DELETE`.
    pub command: String,
    /// False for `AS RESTRICTIVE`.
    pub permissive: bool,
    /// Role names, or `PUBLIC`, sorted.
    pub roles: Vec<String>,
    /// The `USING` expression, as the server deparses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub using: Option<String>,
    /// The `WITH CHECK` expression, as the server deparses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_check: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Column {
    /// Only when it differs from the type's default collation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The expression of a generated column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
    /// `always` or `by default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    pub not_null: bool,
    #[serde(rename = "type")]
    pub type_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    /// As `pg_get_constraintdef` prints it, names schema-qualified.
    pub definition: String,
    /// `primary key`, `unique`, `check`, `foreign key` or `exclusion`.
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// As `pg_get_indexdef` prints it; it includes `unique` and `predicate`,
    /// which are recorded apart for readers and not compared again.
    pub definition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
    pub table: String,
    pub unique: bool,
    /// False for an index left behind by a failed `CREATE INDEX CONCURRENTLY`.
    pub valid: bool,
}

/// A view or a materialized view.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct View {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub column_privileges: BTreeMap<String, Privileges>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub definition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Privileges::is_default")]
    pub privileges: Privileges,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sequence {
    pub cache: i64,
    pub cycle: bool,
    pub data_type: String,
    pub increment: i64,
    pub max_value: i64,
    pub min_value: i64,
    /// `schema.table.column` of a serial column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    /// The role that owns the sequence (not its column: that is `owned_by`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Privileges::is_default")]
    pub privileges: Privileges,
    pub start: i64,
}

/// A type and its owner; the definition's fields sit beside `owner` in the
/// document, as in format 1 (which had no owner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Type {
    #[serde(flatten)]
    pub def: TypeDef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TypeDef {
    Composite {
        /// `name type`, in order.
        attributes: Vec<String>,
    },
    Domain {
        base_type: String,
        /// Check constraints by name.
        #[serde(default)]
        constraints: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
        not_null: bool,
    },
    Enum {
        /// In sort order, which is part of the type.
        labels: Vec<String>,
    },
    Range {
        subtype: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Function {
    /// With names and defaults, as callers see them.
    pub arguments: String,
    /// SHA-256 of the source (the whole definition for a SQL-standard body).
    pub body_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `SET` clauses, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// `function`, `procedure` or `window function`.
    pub kind: String,
    pub language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// `safe`, `restricted` or `unsafe`.
    pub parallel: String,
    #[serde(default, skip_serializing_if = "Privileges::is_default")]
    pub privileges: Privileges,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    pub security_definer: bool,
    pub strict: bool,
    /// `immutable`, `stable` or `volatile`.
    pub volatility: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub definition: String,
    /// `enabled`, `disabled`, `replica` or `always`.
    pub enabled: String,
    pub table: String,
}

impl Snapshot {
    /// The document as written to a file: pretty, keys sorted, one trailing newline.
    pub fn to_json(&self) -> String {
        let value = serde_json::to_value(self).expect("a snapshot is plain data");
        let mut text = serde_json::to_string_pretty(&value).expect("a JSON value always renders");
        text.push('\n');
        text
    }

    /// Reads a document, refusing one from a newer schemagate rather than
    /// misreading it.
    ///
    /// The document is parsed once; only when that fails is the header read
    /// on its own, to tell a newer format from a broken file (a file of
    /// thousands of tables is worth not scanning twice).
    pub fn from_json(text: &str) -> Result<Snapshot, String> {
        let newer = |v: u32| {
            format!("format_version {v} was written by a newer schemagate; this one reads up to {FORMAT_VERSION}")
        };
        let error = match serde_json::from_str::<Snapshot>(text) {
            Ok(s) if s.format_version > FORMAT_VERSION => return Err(newer(s.format_version)),
            Ok(s) => return Ok(s),
            Err(e) => format!("not a schemagate snapshot: {e}"),
        };
        #[derive(Deserialize)]
        struct Header {
            format_version: Option<u32>,
        }
        match serde_json::from_str::<Header>(text).map(|h| h.format_version) {
            Ok(None) => Err("not a schemagate snapshot: no format_version".into()),
            Ok(Some(v)) if v > FORMAT_VERSION => Err(newer(v)),
            _ => Err(error),
        }
    }

    /// Every object that stands on its own, as `kind schema.name`: what a
    /// `down` to before the first migration should have removed. Indexes,
    /// constraints, triggers and owned sequences go with their table, so
    /// they are not listed apart.
    pub fn objects(&self) -> Vec<String> {
        let mut out: Vec<String> = self.extensions.keys().map(|e| format!("extension {e}")).collect();
        for (schema, s) in &self.schemas {
            let q = |kind: &str, name: &String| format!("{kind} {schema}.{name}");
            out.extend(s.tables.iter().map(|(n, t)| q(&t.kind, n)));
            out.extend(s.views.keys().map(|n| q("view", n)));
            out.extend(s.materialized_views.keys().map(|n| q("materialized view", n)));
            let unowned = s.sequences.iter().filter(|(_, x)| x.owned_by.is_none());
            out.extend(unowned.map(|(n, _)| q("sequence", n)));
            out.extend(s.types.keys().map(|n| q("type", n)));
            out.extend(s.functions.iter().map(|(n, f)| q(&f.kind, n)));
        }
        out
    }

    /// Only the schemas `keep` selects, so that a file made with a wider
    /// `SCHEMAGATE_SCHEMAS` is compared on what both sides looked at.
    pub fn restricted_to(mut self, keep: impl Fn(&str) -> bool) -> Snapshot {
        self.schemas.retain(|name, _| keep(name));
        self.extensions.retain(|_, e| keep(&e.schema));
        self
    }

    /// What the version that wrote this document did not record. Those
    /// aspects read as empty and are not compared.
    pub fn unrecorded(&self) -> Vec<Aspect> {
        if self.format_version < SECURITY_SINCE {
            Aspect::ALL.to_vec()
        } else {
            Vec::new()
        }
    }

    /// Every owner in the document.
    pub fn owners_mut(&mut self) -> Vec<&mut Option<String>> {
        let mut out: Vec<&mut Option<String>> = self.extensions.values_mut().map(|e| &mut e.owner).collect();
        for s in self.schemas.values_mut() {
            out.push(&mut s.owner);
            out.extend(s.tables.values_mut().map(|t| &mut t.owner));
            out.extend(s.views.values_mut().map(|v| &mut v.owner));
            out.extend(s.materialized_views.values_mut().map(|v| &mut v.owner));
            out.extend(s.sequences.values_mut().map(|q| &mut q.owner));
            out.extend(s.types.values_mut().map(|t| &mut t.owner));
            out.extend(s.functions.values_mut().map(|f| &mut f.owner));
        }
        out
    }

    /// Every object's and column's privileges (default privileges apart).
    pub fn privileges_mut(&mut self) -> Vec<&mut Privileges> {
        let mut out = Vec::new();
        for s in self.schemas.values_mut() {
            out.push(&mut s.privileges);
            for t in s.tables.values_mut() {
                out.push(&mut t.privileges);
                out.extend(t.column_privileges.values_mut());
            }
            for v in s.views.values_mut().chain(s.materialized_views.values_mut()) {
                out.push(&mut v.privileges);
                out.extend(v.column_privileges.values_mut());
            }
            out.extend(s.sequences.values_mut().map(|q| &mut q.privileges));
            out.extend(s.functions.values_mut().map(|f| &mut f.privileges));
        }
        out
    }

    /// The global default privileges, then each schema's.
    pub fn default_privileges_mut(&mut self) -> Vec<&mut DefaultPrivileges> {
        let mut out = vec![&mut self.default_privileges];
        out.extend(self.schemas.values_mut().map(|s| &mut s.default_privileges));
        out
    }

    /// Every comment in the document.
    pub fn comments_mut(&mut self) -> Vec<&mut Option<String>> {
        let mut out = Vec::new();
        for s in self.schemas.values_mut() {
            for t in s.tables.values_mut() {
                out.push(&mut t.comment);
                out.extend(t.columns.values_mut().map(|c| &mut c.comment));
            }
            out.extend(s.views.values_mut().map(|v| &mut v.comment));
            out.extend(s.materialized_views.values_mut().map(|v| &mut v.comment));
            out.extend(s.functions.values_mut().map(|f| &mut f.comment));
        }
        out
    }

    pub fn tables_mut(&mut self) -> impl Iterator<Item = &mut Table> {
        self.schemas.values_mut().flat_map(|s| s.tables.values_mut())
    }

    /// Every list of grants and of policy roles in byte order (not the
    /// database's collation, so that every cluster sorts alike), without
    /// repeats: a privilege granted by two grantors is one entry.
    pub fn sort_entries(&mut self) {
        for p in self.privileges_mut() {
            sorted(&mut p.granted);
            sorted(&mut p.revoked);
        }
        for d in self.default_privileges_mut() {
            for p in d.values_mut().flat_map(|by_type| by_type.values_mut()) {
                sorted(&mut p.granted);
                sorted(&mut p.revoked);
            }
        }
        for t in self.tables_mut() {
            t.policies.values_mut().for_each(|p| sorted(&mut p.roles));
        }
    }
}

fn sorted<T: Ord>(list: &mut Vec<T>) {
    list.sort();
    list.dedup();
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A grant without the grant option, for the tests of this module and others.
    pub(crate) fn grant(grantee: &str, privilege: &str) -> Grant {
        Grant {
            grantee: grantee.into(),
            privilege: privilege.into(),
            grantable: false,
        }
    }

    fn sample() -> Snapshot {
        let mut s = Snapshot {
            format_version: FORMAT_VERSION,
            ..Default::default()
        };
        let mut public = Schema::default();
        let mut t = Table {
            kind: "table".into(),
            ..Default::default()
        };
        t.columns.insert(
            "id".into(),
            Column {
                type_name: "bigint".into(),
                not_null: true,
                identity: Some("always".into()),
                ..Default::default()
            },
        );
        t.row_security = true;
        t.owner = Some("app_owner".into());
        t.privileges.granted.push(grant("app_reader", "SELECT"));
        t.policies.insert(
            "own_rows".into(),
            Policy {
                command: "ALL".into(),
                permissive: true,
                roles: vec!["PUBLIC".into()],
                using: Some("(owner = CURRENT_USER)".into()),
                with_check: None,
            },
        );
        public.tables.insert("users".into(), t);
        public.types.insert(
            "mood".into(),
            Type {
                def: TypeDef::Enum {
                    labels: vec!["sad".into(), "ok".into()],
                },
                owner: Some("app_owner".into()),
            },
        );
        s.schemas.insert("public".into(), public);
        s
    }

    fn keys_sorted(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(m) => {
                let keys: Vec<&String> = m.keys().collect();
                keys.windows(2).all(|w| w[0] < w[1]) && m.values().all(keys_sorted)
            }
            serde_json::Value::Array(a) => a.iter().all(keys_sorted),
            _ => true,
        }
    }

    #[test]
    fn objects_are_listed_without_the_parts_of_tables() {
        let mut s = sample();
        let public = s.schemas.get_mut("public").unwrap();
        public.sequences.insert(
            "t_id_seq".into(),
            Sequence {
                owned_by: Some("public.t.id".into()),
                ..Default::default()
            },
        );
        public.sequences.insert("counter".into(), Sequence::default());
        public.types.insert(
            "mood".into(),
            Type {
                def: TypeDef::Enum {
                    labels: vec!["ok".into()],
                },
                owner: None,
            },
        );
        let objects = s.objects();
        assert!(objects.contains(&"sequence public.counter".to_string()), "{objects:?}");
        assert!(objects.contains(&"type public.mood".to_string()), "{objects:?}");
        assert!(!objects.iter().any(|o| o.contains("t_id_seq")), "{objects:?}");
        assert!(objects.iter().any(|o| o.starts_with("table public.")), "{objects:?}");
    }

    #[test]
    fn round_trips_with_sorted_keys_in_text_order() {
        let s = sample();
        let text = s.to_json();
        assert_eq!(Snapshot::from_json(&text).unwrap(), s);
        assert!(text.ends_with("}\n"));
        // Sorted in the text itself, not only in a parsed map.
        let kind = text.find("\"kind\": \"enum\"").unwrap();
        let labels = text.find("\"labels\"").unwrap();
        let not_null = text.find("\"not_null\"").unwrap();
        let type_ = text.find("\"type\": \"bigint\"").unwrap();
        assert!(kind < labels && not_null < type_, "{text}");
        assert!(keys_sorted(&serde_json::from_str(&text).unwrap()));
    }

    #[test]
    fn newer_and_foreign_documents_are_refused() {
        let newer = format!("{{\"format_version\": {}}}", FORMAT_VERSION + 1);
        assert!(Snapshot::from_json(&newer).unwrap_err().contains("newer schemagate"));
        // A newer document this version cannot even read is refused as newer.
        let unreadable = format!("{{\"format_version\": {}, \"schemas\": [1]}}", FORMAT_VERSION + 1);
        assert!(Snapshot::from_json(&unreadable)
            .unwrap_err()
            .contains("newer schemagate"));
        let broken = format!("{{\"format_version\": {FORMAT_VERSION}, \"schemas\": [1]}}");
        assert!(Snapshot::from_json(&broken).unwrap_err().contains("invalid type"));
        assert!(Snapshot::from_json("{\"tables\": {}}")
            .unwrap_err()
            .contains("format_version"));
        assert!(Snapshot::from_json("[1]").is_err());
    }

    #[test]
    fn a_minimal_document_reads_with_empty_defaults() {
        let s = Snapshot::from_json("{\"format_version\": 1, \"schemas\": {\"public\": {}}}").unwrap();
        assert!(s.schemas["public"].tables.is_empty() && s.extensions.is_empty());
    }

    #[test]
    fn a_format_1_document_reads_with_its_unrecorded_aspects_named() {
        let v1 = r#"{"format_version": 1, "schemas": {"public": {
            "tables": {"t": {"kind": "table", "columns": {"id": {"type": "bigint", "not_null": true}}}},
            "types": {"mood": {"kind": "enum", "labels": ["a", "b"]}}}}}"#;
        let s = Snapshot::from_json(v1).unwrap();
        assert_eq!(s.unrecorded(), Aspect::ALL.to_vec());
        let public = &s.schemas["public"];
        assert_eq!(public.types["mood"].owner, None);
        assert!(matches!(&public.types["mood"].def, TypeDef::Enum { labels } if labels.len() == 2));
        assert!(!public.tables["t"].row_security && public.tables["t"].policies.is_empty());
        assert!(sample().unrecorded().is_empty());
    }

    #[test]
    fn defaults_of_the_new_fields_leave_no_trace_in_the_text() {
        let mut s = sample();
        let t = s.schemas.get_mut("public").unwrap().tables.get_mut("users").unwrap();
        t.row_security = false;
        t.policies.clear();
        t.privileges = Privileges::default();
        let text = s.to_json();
        for key in [
            "row_security",
            "force_row_security",
            "policies",
            "privileges",
            "comment",
            "grantable",
        ] {
            assert!(!text.contains(&format!("\"{key}\"")), "{key} in {text}");
        }
        // The type's owner sits beside its flattened definition.
        assert!(text.contains("\"owner\": \"app_owner\""), "{text}");
    }

    #[test]
    fn walkers_reach_every_owner_grant_and_comment() {
        let mut s = sample();
        let public = s.schemas.get_mut("public").unwrap();
        public.views.insert("v".into(), View::default());
        public.functions.insert("f()".into(), Function::default());
        assert_eq!(s.owners_mut().len(), 5, "schema, table, view, type, function");
        assert_eq!(s.privileges_mut().len(), 4, "schema, table, view, function");
        assert_eq!(s.comments_mut().len(), 4, "table, its column, view, function");
        assert_eq!(s.default_privileges_mut().len(), 2, "global and public");
    }

    #[test]
    fn restriction_drops_unselected_schemas_and_their_extensions() {
        let mut s = sample();
        s.schemas.insert("audit".into(), Schema::default());
        s.extensions.insert(
            "pgcrypto".into(),
            Extension {
                owner: None,
                schema: "audit".into(),
                version: "1.3".into(),
            },
        );
        let r = s.restricted_to(|n| n == "public");
        assert_eq!(r.schemas.keys().collect::<Vec<_>>(), vec!["public"]);
        assert!(r.extensions.is_empty());
    }
}
