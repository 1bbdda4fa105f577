//! The drift report: a pure function from the expected and the actual
//! snapshot to a list of differences, each naming the object exactly and
//! showing both sides on one line.

use std::collections::BTreeMap;
use std::fmt;

use super::model::{
    Column, Constraint, DefaultPrivileges, Extension, Function, Grant, Index, Policy, Privileges, Schema, Sequence,
    Snapshot, Table, Trigger, Type, TypeDef, View,
};

/// What is wrong with one object, or one part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// In the expected schema, not in the database.
    Missing { expected: String },
    /// In the database, not in the expected schema (a DBA's hotfix index, say).
    Unexpected { actual: String },
    /// In both, with one property different.
    Differs {
        property: &'static str,
        expected: String,
        actual: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// `table`, `index`, `function`, `schema`, …
    pub kind: &'static str,
    /// Qualified where the object lives in a schema: `public.orders`.
    pub name: String,
    /// The part of the object that differs: `column email`, `constraint orders_pkey`.
    pub part: Option<String>,
    pub change: Change,
}

/// Whether objects that only the database has fail verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Missing or changed objects fail; extra ones are warnings (the default:
    /// a DBA's hotfix index must not block a deploy).
    ExtrasWarn,
    /// `SCHEMAGATE_STRICT_SCHEMA=true`, and `snapshot --check`.
    ExtrasFail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Failure,
    Warning,
}

impl Drift {
    pub fn severity(&self, strictness: Strictness) -> Severity {
        match (&self.change, strictness) {
            (Change::Unexpected { .. }, Strictness::ExtrasWarn) => Severity::Warning,
            _ => Severity::Failure,
        }
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.kind, self.name)?;
        if let Some(part) = &self.part {
            write!(f, "{part} ")?;
        }
        // A grant is all in its name; there is nothing to add in brackets.
        match &self.change {
            Change::Missing { expected } if expected.is_empty() => write!(f, "missing"),
            Change::Missing { expected } => write!(f, "missing (expected {expected})"),
            Change::Unexpected { actual } if actual.is_empty() => write!(f, "not in the expected schema"),
            Change::Unexpected { actual } => write!(f, "not in the expected schema (actual {actual})"),
            Change::Differs {
                property,
                expected,
                actual,
            } => write!(f, "{property} differs: expected {expected} / actual {actual}"),
        }
    }
}

/// Every difference between `expected` and `actual`, in a stable order:
/// extensions, global default privileges, then schema by schema, kind by
/// kind, name by name.
pub fn diff(expected: &Snapshot, actual: &Snapshot) -> Vec<Drift> {
    let mut out = Vec::new();
    compare(&expected.extensions, &actual.extensions, |k| k.to_string(), &mut out);
    compare_default_privileges(None, &expected.default_privileges, &actual.default_privileges, &mut out);
    for (name, (e, a)) in pairs(&expected.schemas, &actual.schemas) {
        match (e, a) {
            (Some(e), Some(a)) if e == a => {}
            (Some(e), Some(a)) => diff_schema(name, e, a, &mut out),
            (Some(e), None) => out.push(whole_schema(
                name,
                Change::Missing {
                    expected: count_objects(e),
                },
            )),
            (None, Some(a)) => out.push(whole_schema(
                name,
                Change::Unexpected {
                    actual: count_objects(a),
                },
            )),
            (None, None) => {}
        }
    }
    out
}

fn diff_schema(schema: &str, e: &Schema, a: &Schema, out: &mut Vec<Drift>) {
    let q = |key: &str| format!("{schema}.{key}");
    if e.owner != a.owner {
        out.push(whole_schema(
            schema,
            Change::Differs {
                property: "owner",
                expected: or_none(&e.owner),
                actual: or_none(&a.owner),
            },
        ));
    }
    compare_grants(&format!("schema {schema}"), &e.privileges, &a.privileges, out);
    compare_default_privileges(Some(schema), &e.default_privileges, &a.default_privileges, out);
    compare(&e.types, &a.types, q, out);
    compare(&e.sequences, &a.sequences, q, out);
    compare(&e.tables, &a.tables, q, out);
    for (name, (et, at)) in both(&e.tables, &a.tables) {
        let table = q(name);
        compare_parts("column", &table, &et.columns, &at.columns, out);
        compare_parts("constraint", &table, &et.constraints, &at.constraints, out);
        compare(&et.policies, &at.policies, |p| format!("{p} on {table}"), out);
    }
    compare(&e.indexes, &a.indexes, q, out);
    compare(&e.views, &a.views, q, out);
    // Materialized views share `View`; the label comes from the map they are in.
    let first = out.len();
    compare(&e.materialized_views, &a.materialized_views, q, out);
    out[first..].iter_mut().for_each(|d| d.kind = "materialized view");
    compare(&e.functions, &a.functions, q, out);
    compare(&e.triggers, &a.triggers, q, out);
    schema_grants(schema, e, a, out);
}

/// The grants on the objects both sides have (a missing object is one line
/// of its own), after every other difference of the schema.
fn schema_grants(schema: &str, e: &Schema, a: &Schema, out: &mut Vec<Drift>) {
    for (name, (et, at)) in both(&e.tables, &a.tables) {
        let relation = format!("{schema}.{name}");
        relation_grants(
            &relation,
            (&et.privileges, &et.column_privileges),
            (&at.privileges, &at.column_privileges),
            out,
        );
    }
    let views = both(&e.views, &a.views).chain(both(&e.materialized_views, &a.materialized_views));
    for (name, (ev, av)) in views {
        let relation = format!("{schema}.{name}");
        relation_grants(
            &relation,
            (&ev.privileges, &ev.column_privileges),
            (&av.privileges, &av.column_privileges),
            out,
        );
    }
    for (name, (eq, aq)) in both(&e.sequences, &a.sequences) {
        compare_grants(
            &format!("sequence {schema}.{name}"),
            &eq.privileges,
            &aq.privileges,
            out,
        );
    }
    for (name, (ef, af)) in both(&e.functions, &a.functions) {
        let object = format!("{} {schema}.{name}", ef.label());
        compare_grants(&object, &ef.privileges, &af.privileges, out);
    }
}

type RelationPrivileges<'a> = (&'a Privileges, &'a BTreeMap<String, Privileges>);

fn relation_grants(relation: &str, e: RelationPrivileges, a: RelationPrivileges, out: &mut Vec<Drift>) {
    compare_grants(relation, e.0, a.0, out);
    let none = Privileges::default();
    for (column, (ec, ac)) in pairs(e.1, a.1) {
        let name = |privilege: &str, grantee: &str| format!("{privilege} ({column}) on {relation} to {grantee}");
        grant_drift(ec.unwrap_or(&none), ac.unwrap_or(&none), name, out);
    }
}

/// `grant SELECT on public.acct to app_reader: missing`, one line per
/// privilege and grantee.
fn compare_grants(object: &str, e: &Privileges, a: &Privileges, out: &mut Vec<Drift>) {
    grant_drift(
        e,
        a,
        |privilege, grantee| format!("{privilege} on {object} to {grantee}"),
        out,
    );
}

fn grant_drift(e: &Privileges, a: &Privileges, name: impl Fn(&str, &str) -> String, out: &mut Vec<Drift>) {
    for ((grantee, privilege), change) in held_differently(e, a) {
        out.push(Drift {
            kind: "grant",
            name: name(privilege, grantee),
            part: None,
            change,
        });
    }
}

/// Compares what each side holds, not how it is written down: an entry
/// beyond the default is held where it is granted, an entry of the default
/// is held where it is not revoked (see `Privileges`). Who holds the default
/// itself (the owner) is the owner's comparison.
fn held_differently<'a>(e: &'a Privileges, a: &'a Privileges) -> BTreeMap<(&'a str, &'a str), Change> {
    let (mut missing, mut extra) = set_changes(&e.granted, &a.granted);
    let (held_only_by_actual, held_only_by_expected) = set_changes(&e.revoked, &a.revoked);
    missing.extend(held_only_by_expected);
    extra.extend(held_only_by_actual);
    paired(missing, extra)
}

/// Default privileges: what each role's next objects will get.
/// `default privileges for role app_owner in schema app: grant SELECT on
/// tables to app_reader missing`.
fn compare_default_privileges(
    schema: Option<&str>,
    e: &DefaultPrivileges,
    a: &DefaultPrivileges,
    out: &mut Vec<Drift>,
) {
    let (no_types, no_privileges) = (BTreeMap::new(), Privileges::default());
    for (role, (er, ar)) in pairs(e, a) {
        let name = match schema {
            Some(s) => format!("for role {role} in schema {s}"),
            None => format!("for role {role}"),
        };
        for (objects, (eo, ao)) in pairs(er.unwrap_or(&no_types), ar.unwrap_or(&no_types)) {
            let (eo, ao) = (eo.unwrap_or(&no_privileges), ao.unwrap_or(&no_privileges));
            for ((grantee, privilege), change) in held_differently(eo, ao) {
                out.push(Drift {
                    kind: "default privileges",
                    name: name.clone(),
                    part: Some(format!("grant {privilege} on {objects} to {grantee}")),
                    change,
                });
            }
        }
    }
}

/// `e` minus `a`, and `a` minus `e`.
fn set_changes<'a>(e: &'a [Grant], a: &'a [Grant]) -> (Vec<&'a Grant>, Vec<&'a Grant>) {
    let only = |x: &'a [Grant], y: &'a [Grant]| x.iter().filter(|g| !y.contains(g)).collect::<Vec<_>>();
    (only(e, a), only(a, e))
}

/// Whether the expected and the actual side hold a privilege, and if so
/// whether with the grant option.
type Held = [Option<bool>; 2];

/// Entries held on one side only, by grantee and privilege: a privilege
/// held on both sides, with the grant option on one only, is one line.
fn paired<'a>(missing: Vec<&'a Grant>, extra: Vec<&'a Grant>) -> BTreeMap<(&'a str, &'a str), Change> {
    let mut held: BTreeMap<(&str, &str), Held> = BTreeMap::new();
    for (side, grants) in [missing, extra].into_iter().enumerate() {
        for g in grants {
            let h = &mut held.entry((&g.grantee, &g.privilege)).or_default()[side];
            *h = Some(h.unwrap_or(false) || g.grantable);
        }
    }
    let option = |grantable: bool, otherwise: &str| if grantable { "WITH GRANT OPTION" } else { otherwise }.to_string();
    let changes = held.into_iter().filter_map(|(key, held)| {
        let change = match held {
            [Some(e), None] => Change::Missing {
                expected: option(e, ""),
            },
            [None, Some(a)] => Change::Unexpected { actual: option(a, "") },
            [Some(e), Some(a)] if e != a => Change::Differs {
                property: "grant option",
                expected: option(e, "none"),
                actual: option(a, "none"),
            },
            _ => return None,
        };
        Some((key, change))
    });
    changes.collect()
}

fn whole_schema(name: &str, change: Change) -> Drift {
    Drift {
        kind: "schema",
        name: name.to_string(),
        part: None,
        change,
    }
}

fn count_objects(s: &Schema) -> String {
    let n = s.functions.len()
        + s.indexes.len()
        + s.materialized_views.len()
        + s.sequences.len()
        + s.tables.len()
        + s.triggers.len()
        + s.types.len()
        + s.views.len();
    format!("{n} object(s)")
}

/// The union of two maps' keys, sorted, with each side's value.
fn pairs<'a, T>(
    e: &'a BTreeMap<String, T>,
    a: &'a BTreeMap<String, T>,
) -> BTreeMap<&'a str, (Option<&'a T>, Option<&'a T>)> {
    let mut out: BTreeMap<&str, (Option<&T>, Option<&T>)> = BTreeMap::new();
    for (k, v) in e {
        out.entry(k.as_str()).or_default().0 = Some(v);
    }
    for (k, v) in a {
        out.entry(k.as_str()).or_default().1 = Some(v);
    }
    out
}

/// The keys both maps have, sorted, with both values.
fn both<'a, T>(
    e: &'a BTreeMap<String, T>,
    a: &'a BTreeMap<String, T>,
) -> impl Iterator<Item = (&'a str, (&'a T, &'a T))> {
    e.iter().filter_map(|(k, ev)| a.get(k).map(|av| (k.as_str(), (ev, av))))
}

/// Whole objects: missing, unexpected, or one line per differing property.
fn compare<T: Compared>(
    e: &BTreeMap<String, T>,
    a: &BTreeMap<String, T>,
    qualify: impl Fn(&str) -> String,
    out: &mut Vec<Drift>,
) {
    for (key, pair) in pairs(e, a) {
        let any = pair.0.or(pair.1).expect("a key comes from one side at least");
        for change in changes(pair) {
            out.push(Drift {
                kind: any.label(),
                name: qualify(key),
                part: None,
                change,
            });
        }
    }
}

/// Parts of a table (columns, constraints), reported against the table.
fn compare_parts<T: Compared>(
    part: &str,
    table: &str,
    e: &BTreeMap<String, T>,
    a: &BTreeMap<String, T>,
    out: &mut Vec<Drift>,
) {
    for (key, pair) in pairs(e, a) {
        for change in changes(pair) {
            out.push(Drift {
                kind: "table",
                name: table.to_string(),
                part: Some(format!("{part} {key}")),
                change,
            });
        }
    }
}

fn changes<T: Compared>(pair: (Option<&T>, Option<&T>)) -> Vec<Change> {
    match pair {
        (Some(e), None) => vec![Change::Missing {
            expected: one_line(&e.summary()),
        }],
        (None, Some(a)) => vec![Change::Unexpected {
            actual: one_line(&a.summary()),
        }],
        // Most objects are unchanged: compare before rendering anything.
        (Some(e), Some(a)) if e == a => Vec::new(),
        (Some(e), Some(a)) => {
            let actual = a.properties();
            e.properties()
                .into_iter()
                .zip(actual)
                .filter(|(ep, ap)| ep.1 != ap.1)
                .map(|((property, expected), (_, actual))| Change::Differs {
                    property,
                    expected: one_line(&expected),
                    actual: one_line(&actual),
                })
                .collect()
        }
        (None, None) => Vec::new(),
    }
}

/// Definitions span lines (views); a report line must not.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How an object is named, summed up and compared. `properties` returns the
/// same names in the same order for every value of a type, so two values can
/// be compared pairwise.
trait Compared: PartialEq {
    fn label(&self) -> &'static str;
    fn summary(&self) -> String;
    fn properties(&self) -> Vec<(&'static str, String)>;
}

fn or_none(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "none".into())
}

/// A comment as a SQL literal, so that a comment reading "none" is told
/// from no comment.
fn comment(v: &Option<String>) -> String {
    v.as_ref()
        .map_or_else(|| "none".into(), |c| format!("'{}'", c.replace('\'', "''")))
}

fn on_off(on: bool, yes: &str, no: &str) -> String {
    if on { yes } else { no }.to_string()
}

impl Compared for Extension {
    fn label(&self) -> &'static str {
        "extension"
    }
    fn summary(&self) -> String {
        format!("version {} in schema {}", self.version, self.schema)
    }
    fn properties(&self) -> Vec<(&'static str, String)> {
        vec![
            ("schema", self.schema.clone()),
            ("version", self.version.clone()),
            ("owner", or_none(&self.owner)),
        ]
    }
}

impl Compared for Table {
    fn label(&self) -> &'static str {
        "table"
    }
    fn summary(&self) -> String {
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|(n, c)| format!("{n} {}", c.summary()))
            .collect();
        format!("{} ({})", self.kind, columns.join(", "))
    }
    fn properties(&self) -> Vec<(&'static str, String)> {
        vec![
            ("kind", self.kind.clone()),
            ("partition key", or_none(&self.partition_key)),
            ("parent", or_none(&self.partition_of)),
            ("partition bound", or_none(&self.partition_bound)),
            ("row level security", on_off(self.row_security, "enabled", "disabled")),
            (
                "forced row level security",
                on_off(self.force_row_security, "on", "off"),
            ),
            ("owner", or_none(&self.owner)),
            ("comment", comment(&self.comment)),
        ]
    }
}

impl Compared for Column {
    fn label(&self) -> &'static str {
        "column"
    }
    fn summary(&self) -> String {
        let mut s = self.type_name.clone();
        if let Some(c) = &self.collation {
            s.push_str(&format!(" COLLATE {c}"));
        }
        if self.not_null {
            s.push_str(" NOT NULL");
        }
        if let Some(d) = &self.default {
            s.push_str(&format!(" DEFAULT {d}"));
        }
        if let Some(g) = &self.generated {
            s.push_str(&format!(" GENERATED ALWAYS AS {g} STORED"));
        }
        if let Some(i) = &self.identity {
            s.push_str(&format!(" GENERATED {} AS IDENTITY", i.to_uppercase()));
        }
        s
    }
    fn properties(&self) -> Vec<(&'static str, String)> {
        let nullability = if self.not_null { "NOT NULL" } else { "NULL" };
        vec![
            ("type", self.type_name.clone()),
            ("nullability", nullability.into()),
            ("default", or_none(&self.default)),
            ("generated expression", or_none(&self.generated)),
            ("identity", or_none(&self.identity)),
            ("collation", self.collation.clone().unwrap_or_else(|| "default".into())),
            ("comment", comment(&self.comment)),
        ]
    }
}

impl Compared for Constraint {
    fn label(&self) -> &'static str {
        "constraint"
    }
    fn summary(&self) -> String {
        self.definition.clone()
    }
    fn properties(&self) -> Vec<(&'static str, String)> {
        vec![("kind", self.kind.clone()), ("definition", self.definition.clone())]
    }
}

impl Compared for Index {
    fn label(&self) -> &'static str {
        "index"
    }
    fn summary(&self) -> String {
        self.definition.clone()
    }
    /// `unique` and `predicate` are part of the definition; comparing them
    /// again would report one difference twice.
    fn properties(&self) -> Vec<(&'static str, String)> {
        let valid = if self.valid { "valid" } else { "invalid" };
        vec![
            ("table", self.table.clone()),
            ("definition", self.definition.clone()),
            ("validity", valid.into()),
        ]
    }
}

impl Compared for View {
    fn label(&self) -> &'static str {
        "view"
    }
    fn summary(&self) -> String {
        self.definition.clone()
    }
    fn properties(&self) -> Vec<(&'static str, String)> {
        vec![
            ("definition", self.definition.clone()),
            ("owner", or_none(&self.owner)),
            ("comment", comment(&self.comment)),
        ]
    }
}

impl Compared for Policy {
    fn label(&self) -> &'static str {
        "policy"
    }
    fn summary(&self) -> String {
        let mode = on_off(self.permissive, "PERMISSIVE", "RESTRICTIVE");
        let mut s = format!("AS {mode} FOR {} TO {}", self.command, self.roles.join(", "));
        if let Some(u) = &self.using {
            s.push_str(&format!(" USING {u}"));
        }
        if let Some(c) = &self.with_check {
            s.push_str(&format!(" WITH CHECK {c}"));
        }
        s
    }
    fn properties(&self) -> Vec<(&'static str, String)> {
        vec![
            ("command", self.command.clone()),
            ("type", on_off(self.permissive, "PERMISSIVE", "RESTRICTIVE")),
            ("roles", self.roles.join(", ")),
            ("using expression", or_none(&self.using)),
            ("with check expression", or_none(&self.with_check)),
        ]
    }
}

impl Compared for Sequence {
    fn label(&self) -> &'static str {
        "sequence"
    }
    fn summary(&self) -> String {
        let mut props = self.properties();
        props.retain(|(k, _)| *k != "owner");
        let props: Vec<String> = props.into_iter().map(|(k, v)| format!("{k} {v}")).collect();
        props.join(", ")
    }
    fn properties(&self) -> Vec<(&'static str, String)> {
        vec![
            ("type", self.data_type.clone()),
            ("start", self.start.to_string()),
            ("increment", self.increment.to_string()),
            ("minimum", self.min_value.to_string()),
            ("maximum", self.max_value.to_string()),
            ("cache", self.cache.to_string()),
            ("cycle", if self.cycle { "CYCLE" } else { "NO CYCLE" }.into()),
            ("owned by", or_none(&self.owned_by)),
            ("owner", or_none(&self.owner)),
        ]
    }
}

impl TypeDef {
    /// One rendering, starting with the kind, so a changed type is one line.
    fn summary(&self) -> String {
        match self {
            TypeDef::Enum { labels } => {
                let quoted: Vec<String> = labels.iter().map(|l| format!("'{}'", l.replace('\'', "''"))).collect();
                format!("ENUM ({})", quoted.join(", "))
            }
            TypeDef::Domain {
                base_type,
                constraints,
                default,
                not_null,
            } => {
                let mut s = format!("DOMAIN {base_type}");
                if *not_null {
                    s.push_str(" NOT NULL");
                }
                if let Some(d) = default {
                    s.push_str(&format!(" DEFAULT {d}"));
                }
                for (name, def) in constraints {
                    s.push_str(&format!(" CONSTRAINT {name} {def}"));
                }
                s
            }
            TypeDef::Composite { attributes } => format!("composite ({})", attributes.join(", ")),
            TypeDef::Range { subtype } => format!("RANGE (SUBTYPE = {subtype})"),
        }
    }
}

impl Compared for Type {
    fn label(&self) -> &'static str {
        "type"
    }
    fn summary(&self) -> String {
        self.def.summary()
    }
    fn properties(&self) -> Vec<(&'static str, String)> {
        vec![("definition", self.def.summary()), ("owner", or_none(&self.owner))]
    }
}

impl Compared for Function {
    fn label(&self) -> &'static str {
        match self.kind.as_str() {
            "procedure" => "procedure",
            _ => "function",
        }
    }
    fn summary(&self) -> String {
        let returns = self
            .result
            .as_ref()
            .map(|r| format!(" RETURNS {r}"))
            .unwrap_or_default();
        format!("{} ({}){returns} LANGUAGE {}", self.kind, self.arguments, self.language)
    }
    fn properties(&self) -> Vec<(&'static str, String)> {
        vec![
            ("kind", self.kind.clone()),
            ("arguments", self.arguments.clone()),
            ("result", or_none(&self.result)),
            ("language", self.language.clone()),
            ("volatility", self.volatility.clone()),
            (
                "strictness",
                if self.strict { "STRICT" } else { "CALLED ON NULL INPUT" }.into(),
            ),
            (
                "security",
                if self.security_definer {
                    "SECURITY DEFINER"
                } else {
                    "SECURITY INVOKER"
                }
                .into(),
            ),
            ("parallel safety", self.parallel.clone()),
            ("configuration", or_none(&self.config)),
            ("body", format!("sha256 {}", self.body_sha256)),
            ("owner", or_none(&self.owner)),
            ("comment", comment(&self.comment)),
        ]
    }
}

impl Compared for Trigger {
    fn label(&self) -> &'static str {
        "trigger"
    }
    fn summary(&self) -> String {
        self.definition.clone()
    }
    fn properties(&self) -> Vec<(&'static str, String)> {
        vec![
            ("table", self.table.clone()),
            ("definition", self.definition.clone()),
            ("state", self.enabled.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::model::tests::grant;
    use crate::schema::model::FORMAT_VERSION;

    fn col(type_name: &str, not_null: bool, default: Option<&str>) -> Column {
        Column {
            type_name: type_name.into(),
            not_null,
            default: default.map(str::to_string),
            ..Default::default()
        }
    }

    /// The example migrations, roughly.
    fn example() -> Snapshot {
        let mut users = Table {
            kind: "table".into(),
            ..Default::default()
        };
        users.columns.insert("email".into(), col("text", true, None));
        users.columns.insert(
            "created_at".into(),
            col("timestamp with time zone", true, Some("now()")),
        );
        let mut orders = users.clone();
        orders.columns.insert("total_cents".into(), col("bigint", true, None));
        orders.constraints.insert(
            "orders_total_cents_check".into(),
            Constraint {
                definition: "CHECK ((total_cents >= 0))".into(),
                kind: "check".into(),
            },
        );
        let mut s = Schema::default();
        s.tables.insert("users".into(), users);
        s.tables.insert("orders".into(), orders);
        s.indexes.insert(
            "orders_user_id_idx".into(),
            Index {
                definition: "CREATE INDEX orders_user_id_idx ON public.orders USING btree (user_id)".into(),
                predicate: None,
                table: "orders".into(),
                unique: false,
                valid: true,
            },
        );
        s.views.insert(
            "order_totals".into(),
            View {
                definition: " SELECT u.email\n   FROM public.users u;".into(),
                ..Default::default()
            },
        );
        s.functions.insert(
            "total(bigint)".into(),
            Function {
                arguments: "id bigint".into(),
                body_sha256: "aaaa".into(),
                config: None,
                kind: "function".into(),
                language: "sql".into(),
                parallel: "unsafe".into(),
                result: Some("bigint".into()),
                security_definer: false,
                strict: false,
                volatility: "stable".into(),
                ..Default::default()
            },
        );
        let mut snap = Snapshot {
            format_version: FORMAT_VERSION,
            ..Default::default()
        };
        snap.schemas.insert("public".into(), s);
        snap
    }

    fn lines(e: &Snapshot, a: &Snapshot) -> Vec<String> {
        diff(e, a).iter().map(ToString::to_string).collect()
    }

    fn public(s: &mut Snapshot) -> &mut Schema {
        s.schemas.get_mut("public").unwrap()
    }

    #[test]
    fn identical_snapshots_have_no_drift() {
        assert!(diff(&example(), &example()).is_empty());
    }

    #[test]
    fn a_dropped_column_is_one_line_with_the_expected_side() {
        let mut actual = example();
        public(&mut actual)
            .tables
            .get_mut("users")
            .unwrap()
            .columns
            .remove("email");
        assert_eq!(
            lines(&example(), &actual),
            vec!["table public.users: column email missing (expected text NOT NULL)"]
        );
    }

    #[test]
    fn changed_properties_show_both_sides() {
        let mut actual = example();
        let orders = public(&mut actual).tables.get_mut("orders").unwrap();
        orders.columns.get_mut("total_cents").unwrap().type_name = "integer".into();
        orders.columns.get_mut("created_at").unwrap().default = None;
        orders
            .constraints
            .get_mut("orders_total_cents_check")
            .unwrap()
            .definition = "CHECK ((total_cents > 0))".into();
        assert_eq!(
            lines(&example(), &actual),
            vec![
                "table public.orders: column created_at default differs: expected now() / actual none",
                "table public.orders: column total_cents type differs: expected bigint / actual integer",
                "table public.orders: constraint orders_total_cents_check definition differs: \
                 expected CHECK ((total_cents >= 0)) / actual CHECK ((total_cents > 0))",
            ]
        );
    }

    #[test]
    fn views_are_reported_on_one_line_and_functions_by_signature() {
        let mut actual = example();
        public(&mut actual).views.get_mut("order_totals").unwrap().definition =
            " SELECT u.id\n FROM public.users u;".into();
        public(&mut actual)
            .functions
            .get_mut("total(bigint)")
            .unwrap()
            .body_sha256 = "bbbb".into();
        assert_eq!(
            lines(&example(), &actual),
            vec![
                "view public.order_totals: definition differs: expected SELECT u.email FROM public.users u; \
                 / actual SELECT u.id FROM public.users u;",
                "function public.total(bigint): body differs: expected sha256 aaaa / actual sha256 bbbb",
            ]
        );
    }

    #[test]
    fn extra_objects_are_warnings_unless_strict() {
        let mut actual = example();
        let mut hotfix = public(&mut actual).indexes["orders_user_id_idx"].clone();
        hotfix.definition = "CREATE INDEX hotfix ON public.orders USING btree (created_at)".into();
        public(&mut actual).indexes.insert("hotfix".into(), hotfix);
        public(&mut actual).indexes.remove("orders_user_id_idx");
        let drift = diff(&example(), &actual);
        let text: Vec<String> = drift.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "index public.hotfix: not in the expected schema \
                 (actual CREATE INDEX hotfix ON public.orders USING btree (created_at))",
                "index public.orders_user_id_idx: missing \
                 (expected CREATE INDEX orders_user_id_idx ON public.orders USING btree (user_id))",
            ]
        );
        assert_eq!(drift[0].severity(Strictness::ExtrasWarn), Severity::Warning);
        assert_eq!(drift[0].severity(Strictness::ExtrasFail), Severity::Failure);
        assert_eq!(drift[1].severity(Strictness::ExtrasWarn), Severity::Failure);
    }

    #[test]
    fn a_missing_table_is_one_line_not_one_per_column() {
        let mut actual = example();
        public(&mut actual).tables.remove("users");
        assert_eq!(
            lines(&example(), &actual),
            vec![
                "table public.users: missing (expected table (created_at timestamp with time zone NOT NULL \
                 DEFAULT now(), email text NOT NULL))"
            ]
        );
    }

    #[test]
    fn whole_schemas_and_materialized_views_are_named_as_such() {
        let mut expected = example();
        expected.schemas.insert("audit".into(), Schema::default());
        let mut actual = example();
        public(&mut actual).materialized_views.insert(
            "mv".into(),
            View {
                definition: "SELECT 1".into(),
                ..Default::default()
            },
        );
        assert_eq!(
            lines(&expected, &actual),
            vec![
                "schema audit: missing (expected 0 object(s))",
                "materialized view public.mv: not in the expected schema (actual SELECT 1)",
            ]
        );
    }

    #[test]
    fn enum_labels_and_order_are_part_of_the_type() {
        let mut expected = example();
        let mood = |labels: &[&str]| Type {
            def: TypeDef::Enum {
                labels: labels.iter().map(|l| l.to_string()).collect(),
            },
            owner: Some("app".into()),
        };
        public(&mut expected)
            .types
            .insert("mood".into(), mood(&["sad", "happy"]));
        let mut actual = expected.clone();
        public(&mut actual).types.insert("mood".into(), mood(&["happy", "sad"]));
        assert_eq!(
            lines(&expected, &actual),
            vec!["type public.mood: definition differs: expected ENUM ('sad', 'happy') / actual ENUM ('happy', 'sad')"]
        );
    }

    /// `example()` with row-level security, a policy and grants on orders.
    fn secured() -> Snapshot {
        let mut s = example();
        let orders = public(&mut s).tables.get_mut("orders").unwrap();
        orders.row_security = true;
        orders.owner = Some("app_owner".into());
        orders.comment = Some("one row per order".into());
        orders.policies.insert(
            "own_orders".into(),
            Policy {
                command: "ALL".into(),
                permissive: true,
                roles: vec!["app_user".into()],
                using: Some("(user_id = (current_setting('app.user'::text))::bigint)".into()),
                with_check: None,
            },
        );
        orders.privileges.granted = vec![grant("app_reader", "SELECT"), grant("app_user", "INSERT")];
        orders.column_privileges.insert(
            "total_cents".into(),
            Privileges {
                granted: vec![grant("app_user", "UPDATE")],
                revoked: vec![],
            },
        );
        let total = public(&mut s).functions.get_mut("total(bigint)").unwrap();
        total.privileges.revoked = vec![grant("PUBLIC", "EXECUTE")];
        public(&mut s).privileges.granted = vec![grant("PUBLIC", "USAGE")];
        s
    }

    fn orders(s: &mut Snapshot) -> &mut Table {
        public(s).tables.get_mut("orders").unwrap()
    }

    #[test]
    fn row_level_security_owner_and_comment_are_table_properties() {
        let mut actual = secured();
        let t = orders(&mut actual);
        t.row_security = false;
        t.force_row_security = true;
        t.owner = Some("postgres".into());
        t.comment = None;
        t.columns.get_mut("email").unwrap().comment = Some("it's private".into());
        assert_eq!(
            lines(&secured(), &actual),
            vec![
                "table public.orders: row level security differs: expected enabled / actual disabled",
                "table public.orders: forced row level security differs: expected off / actual on",
                "table public.orders: owner differs: expected app_owner / actual postgres",
                "table public.orders: comment differs: expected 'one row per order' / actual none",
                "table public.orders: column email comment differs: expected none / actual 'it''s private'",
            ]
        );
    }

    #[test]
    fn policies_are_named_with_their_table_and_extras_warn() {
        let mut actual = secured();
        let mut extra = orders(&mut actual).policies.remove("own_orders").unwrap();
        extra.permissive = false;
        extra.command = "SELECT".into();
        extra.roles = vec!["PUBLIC".into()];
        extra.using = Some("true".into());
        orders(&mut actual).policies.insert("read_all".into(), extra);
        let drift = diff(&secured(), &actual);
        let text: Vec<String> = drift.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "policy own_orders on public.orders: missing (expected AS PERMISSIVE FOR ALL TO app_user \
                 USING (user_id = (current_setting('app.user'::text))::bigint))",
                "policy read_all on public.orders: not in the expected schema \
                 (actual AS RESTRICTIVE FOR SELECT TO PUBLIC USING true)",
            ]
        );
        assert_eq!(drift[0].severity(Strictness::ExtrasWarn), Severity::Failure);
        assert_eq!(drift[1].severity(Strictness::ExtrasWarn), Severity::Warning);

        let mut altered = secured();
        let p = orders(&mut altered).policies.get_mut("own_orders").unwrap();
        p.roles = vec!["PUBLIC".into(), "app_user".into()];
        p.with_check = Some("false".into());
        assert_eq!(
            lines(&secured(), &altered),
            vec![
                "policy own_orders on public.orders: roles differs: expected app_user / actual PUBLIC, app_user",
                "policy own_orders on public.orders: with check expression differs: expected none / actual false",
            ]
        );
    }

    #[test]
    fn grants_are_one_line_each_naming_privilege_object_and_grantee() {
        let mut actual = secured();
        let t = orders(&mut actual);
        t.privileges.granted = vec![grant("app_reader", "DELETE"), grant("app_user", "INSERT")];
        t.column_privileges.clear();
        public(&mut actual).privileges.granted[0].grantable = true;
        public(&mut actual)
            .functions
            .get_mut("total(bigint)")
            .unwrap()
            .privileges
            .revoked
            .clear();
        let drift = diff(&secured(), &actual);
        let text: Vec<String> = drift.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "grant USAGE on schema public to PUBLIC: grant option differs: expected none / actual WITH GRANT OPTION",
                "grant DELETE on public.orders to app_reader: not in the expected schema",
                "grant SELECT on public.orders to app_reader: missing",
                "grant UPDATE (total_cents) on public.orders to app_user: missing",
                // Revoked from PUBLIC in the file, held again in the database.
                "grant EXECUTE on function public.total(bigint) to PUBLIC: not in the expected schema",
            ]
        );
        let severities: Vec<Severity> = drift.iter().map(|d| d.severity(Strictness::ExtrasWarn)).collect();
        use Severity::{Failure, Warning};
        assert_eq!(severities, vec![Failure, Warning, Failure, Failure, Warning]);
    }

    #[test]
    fn a_grant_with_its_grant_option_shows_it_when_missing() {
        let mut expected = secured();
        orders(&mut expected).privileges.granted[0].grantable = true;
        let mut actual = secured();
        orders(&mut actual).privileges.granted.remove(0);
        assert_eq!(
            lines(&expected, &actual),
            vec!["grant SELECT on public.orders to app_reader: missing (expected WITH GRANT OPTION)"]
        );
    }

    #[test]
    fn default_privileges_are_named_by_role_and_schema() {
        let mut expected = secured();
        let tables = Privileges {
            granted: vec![grant("app_reader", "SELECT")],
            revoked: vec![],
        };
        let functions = Privileges {
            granted: vec![],
            revoked: vec![grant("PUBLIC", "EXECUTE")],
        };
        public(&mut expected).default_privileges =
            BTreeMap::from([("app_owner".into(), BTreeMap::from([("tables".into(), tables)]))]);
        expected.default_privileges =
            BTreeMap::from([("app_owner".into(), BTreeMap::from([("functions".into(), functions)]))]);
        let mut actual = expected.clone();
        actual.default_privileges.clear();
        public(&mut actual).default_privileges.clear();
        assert_eq!(
            lines(&expected, &actual),
            vec![
                "default privileges for role app_owner: grant EXECUTE on functions to PUBLIC not in the expected schema",
                "default privileges for role app_owner in schema public: grant SELECT on tables to app_reader missing",
            ]
        );
    }

    #[test]
    fn owners_of_other_kinds_are_their_properties() {
        let mut actual = secured();
        public(&mut actual).owner = Some("someone".into());
        public(&mut actual).functions.get_mut("total(bigint)").unwrap().owner = Some("someone".into());
        public(&mut actual).views.get_mut("order_totals").unwrap().owner = Some("someone".into());
        assert_eq!(
            lines(&secured(), &actual),
            vec![
                "schema public: owner differs: expected none / actual someone",
                "view public.order_totals: owner differs: expected none / actual someone",
                "function public.total(bigint): owner differs: expected none / actual someone",
            ]
        );
    }
}
