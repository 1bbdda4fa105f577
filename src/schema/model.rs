//! The expected-schema document that `snapshot` writes and `run`/`verify`
//! read (README, "The snapshot format"). Every map is a `BTreeMap` and the
//! JSON is rendered through `serde_json::Value`, whose maps are sorted, so
//! the same schema always gives the same bytes. Nothing that differs from one
//! cluster to the next (OIDs, timestamps, statistics) is recorded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bumped when the meaning of a field changes or a new kind of object is
/// recorded. A file with a lower version stays readable: fields added later
/// default to empty.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snapshot {
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
    /// By `name(argument types)`, since functions overload.
    pub functions: BTreeMap<String, Function>,
    /// Indexes that do not implement a constraint (those are constraints).
    pub indexes: BTreeMap<String, Index>,
    pub materialized_views: BTreeMap<String, View>,
    pub sequences: BTreeMap<String, Sequence>,
    pub tables: BTreeMap<String, Table>,
    /// By `table.trigger`, since trigger names are per table.
    pub triggers: BTreeMap<String, Trigger>,
    pub types: BTreeMap<String, TypeDef>,
    pub views: BTreeMap<String, View>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub schema: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Table {
    pub columns: BTreeMap<String, Column>,
    /// Primary key, unique, check, foreign key and exclusion constraints.
    #[serde(default)]
    pub constraints: BTreeMap<String, Constraint>,
    /// `table`, `unlogged table`, `partitioned table` or `foreign table`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_bound: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_of: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Column {
    /// Only when it differs from the type's default collation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub definition: String,
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
    pub start: i64,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    /// With names and defaults, as callers see them.
    pub arguments: String,
    /// SHA-256 of the source (the whole definition for a SQL-standard body).
    pub body_sha256: String,
    /// `SET` clauses, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// `function`, `procedure` or `window function`.
    pub kind: String,
    pub language: String,
    /// `safe`, `restricted` or `unsafe`.
    pub parallel: String,
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
    pub fn from_json(text: &str) -> Result<Snapshot, String> {
        #[derive(Deserialize)]
        struct Header {
            format_version: Option<u32>,
        }
        let header: Header = serde_json::from_str(text).map_err(|e| format!("not a schemagate snapshot: {e}"))?;
        match header.format_version {
            None => return Err("not a schemagate snapshot: no format_version".into()),
            Some(v) if v > FORMAT_VERSION => {
                return Err(format!(
                    "format_version {v} was written by a newer schemagate; this one reads up to {FORMAT_VERSION}"
                ))
            }
            Some(_) => {}
        }
        serde_json::from_str(text).map_err(|e| format!("not a schemagate snapshot: {e}"))
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
        public.tables.insert("users".into(), t);
        public.types.insert(
            "mood".into(),
            TypeDef::Enum {
                labels: vec!["sad".into(), "ok".into()],
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
            TypeDef::Enum {
                labels: vec!["ok".into()],
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
    fn restriction_drops_unselected_schemas_and_their_extensions() {
        let mut s = sample();
        s.schemas.insert("audit".into(), Schema::default());
        s.extensions.insert(
            "pgcrypto".into(),
            Extension {
                schema: "audit".into(),
                version: "1.3".into(),
            },
        );
        let r = s.restricted_to(|n| n == "public");
        assert_eq!(r.schemas.keys().collect::<Vec<_>>(), vec!["public"]);
        assert!(r.extensions.is_empty());
    }
}
