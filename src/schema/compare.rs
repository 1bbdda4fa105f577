//! The comparison as configured, around the pure [`diff`]: the aspects left
//! out (`SCHEMAGATE_SCHEMA_IGNORE`, and what an older file did not record),
//! and the role names of the expected schema mapped to the database's
//! (`SCHEMAGATE_SCHEMA_ROLE_MAP`), applied to both sides before comparing.

use std::borrow::Cow;
use std::collections::BTreeMap;

use tracing::warn;

use super::diff::{diff, Drift};
use super::model::{Aspect, DefaultPrivileges, Snapshot};

/// How the two sides are compared, beyond which schemas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Left out on both sides; sorted, without repeats.
    pub ignore: Vec<Aspect>,
    pub roles: RoleMap,
}

/// The aspects an operator may leave out. Row-level security and policies
/// are not among them: where they are the isolation between tenants, a
/// dropped policy is the most dangerous drift there is, and they do not
/// depend on the environment the way role names do.
const IGNORABLE: [Aspect; 3] = [Aspect::Owner, Aspect::Grants, Aspect::Comments];

impl Comparison {
    /// Parses `SCHEMAGATE_SCHEMA_IGNORE`: a comma-separated list of `owner`,
    /// `grants` and `comments`.
    pub fn parse_ignore(list: &str) -> Result<Vec<Aspect>, String> {
        let mut out = Vec::new();
        for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match IGNORABLE.iter().find(|a| a.name() == word) {
                Some(a) => out.push(*a),
                None if ["policies", "policy", "rls", "row_security"].contains(&word) => {
                    return Err(format!(
                        "'{word}' cannot be ignored: row level security and policies are always compared"
                    ))
                }
                None => return Err(format!("unknown aspect '{word}' (use owner, grants or comments)")),
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// `from=to` pairs: a role named `from` in the expected schema is compared
/// as the database's role `to`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMap(BTreeMap<String, String>);

impl RoleMap {
    /// Parses `SCHEMAGATE_SCHEMA_ROLE_MAP`: `from=to,from=to`.
    pub fn parse(list: &str) -> Result<RoleMap, String> {
        let mut map = BTreeMap::new();
        for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (from, to) = pair
                .split_once('=')
                .map(|(f, t)| (f.trim(), t.trim()))
                .filter(|(f, t)| !f.is_empty() && !t.is_empty())
                .ok_or_else(|| format!("'{pair}' is not a pair of role names (use from=to)"))?;
            if from == "PUBLIC" || to == "PUBLIC" {
                return Err(format!("'{pair}': PUBLIC is not a role and cannot be mapped"));
            }
            if map.insert(from.to_string(), to.to_string()).is_some() {
                return Err(format!("role {from} is mapped twice"));
            }
        }
        Ok(RoleMap(map))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn name(&self, role: &mut String) {
        if let Some(to) = self.0.get(role.as_str()) {
            role.clone_from(to);
        }
    }

    /// Renames every role in `s`: owners, grantees, the roles of default
    /// privileges and of policies. Two names mapped to one merge.
    pub fn apply(&self, s: &mut Snapshot) {
        for owner in s.owners_mut().into_iter().flatten() {
            self.name(owner);
        }
        for p in s.privileges_mut() {
            p.grants_mut().for_each(|g| self.name(&mut g.grantee));
        }
        for d in s.default_privileges_mut() {
            let mut renamed = DefaultPrivileges::new();
            for (mut role, by_type) in std::mem::take(d) {
                self.name(&mut role);
                let target = renamed.entry(role).or_default();
                for (objects, mut p) in by_type {
                    p.grants_mut().for_each(|g| self.name(&mut g.grantee));
                    target.entry(objects).or_default().merge(p);
                }
            }
            *d = renamed;
        }
        for t in s.tables_mut() {
            let roles = t.policies.values_mut().flat_map(|p| p.roles.iter_mut());
            roles.for_each(|r| self.name(r));
        }
        s.sort_entries();
    }
}

/// Clears `aspect` throughout `s`, so that it compares as nothing.
pub fn forget(s: &mut Snapshot, aspect: Aspect) {
    match aspect {
        Aspect::Owner => s.owners_mut().into_iter().for_each(|o| *o = None),
        Aspect::Grants => {
            s.privileges_mut().into_iter().for_each(|p| *p = Default::default());
            s.default_privileges_mut().into_iter().for_each(BTreeMap::clear);
        }
        Aspect::Comments => s.comments_mut().into_iter().for_each(|c| *c = None),
        Aspect::RowSecurity => s.tables_mut().for_each(|t| {
            t.row_security = false;
            t.force_row_security = false;
            t.policies.clear();
        }),
    }
}

/// The differences as configured. When the expected schema comes from an
/// older schemagate, what it did not record is not compared, and one
/// warning says so.
pub fn compare(expected: &Snapshot, actual: &Snapshot, comparison: &Comparison) -> Vec<Drift> {
    let unrecorded = expected.unrecorded();
    if !unrecorded.is_empty() {
        let names: Vec<&str> = unrecorded.iter().map(|a| a.name()).collect();
        warn!(
            "the expected schema has format_version {}, which does not record {}: not compared; \
             re-run `schemagate snapshot --output FILE` to record them",
            expected.format_version,
            names.join(", ")
        );
    }
    let left_out: Vec<Aspect> = comparison.ignore.iter().chain(&unrecorded).copied().collect();
    let (e, a) = prepared(expected, actual, &comparison.roles, &left_out);
    diff(&e, &a)
}

/// Copies only when there is something to change: the common case compares
/// the documents as they are.
fn prepared<'a>(
    expected: &'a Snapshot,
    actual: &'a Snapshot,
    roles: &RoleMap,
    left_out: &[Aspect],
) -> (Cow<'a, Snapshot>, Cow<'a, Snapshot>) {
    let mut e = Cow::Borrowed(expected);
    let mut a = Cow::Borrowed(actual);
    if !roles.is_empty() {
        roles.apply(e.to_mut());
    }
    for aspect in left_out {
        forget(e.to_mut(), *aspect);
        forget(a.to_mut(), *aspect);
    }
    (e, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::model::tests::grant;
    use crate::schema::model::{Policy, Privileges, Schema, Table, FORMAT_VERSION};

    /// One table owned by `owner`, read by `reader` (by grant and policy),
    /// with a comment and default privileges of `owner`.
    fn snapshot(owner: &str, reader: &str) -> Snapshot {
        let mut t = Table {
            kind: "table".into(),
            owner: Some(owner.into()),
            comment: Some("accounts".into()),
            row_security: true,
            ..Default::default()
        };
        t.privileges.granted = vec![grant(reader, "SELECT")];
        t.policies.insert(
            "read".into(),
            Policy {
                command: "SELECT".into(),
                permissive: true,
                roles: vec![reader.into()],
                using: Some("true".into()),
                with_check: None,
            },
        );
        let mut public = Schema {
            owner: Some(owner.into()),
            ..Default::default()
        };
        public.tables.insert("acct".into(), t);
        let tables = Privileges {
            granted: vec![grant(reader, "SELECT")],
            revoked: vec![],
        };
        public.default_privileges = BTreeMap::from([(owner.into(), BTreeMap::from([("tables".into(), tables)]))]);
        Snapshot {
            format_version: FORMAT_VERSION,
            schemas: BTreeMap::from([("public".into(), public)]),
            ..Default::default()
        }
    }

    fn acct(s: &mut Snapshot) -> &mut Table {
        s.tables_mut().next().expect("the one table")
    }

    fn lines(e: &Snapshot, a: &Snapshot, c: &Comparison) -> Vec<String> {
        compare(e, a, c).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_role_map_renames_every_role_of_the_expected_side() {
        let local = snapshot("postgres", "dev_reader");
        let production = snapshot("app_owner", "app_reader");
        let unmapped = lines(&local, &production, &Comparison::default());
        assert!(
            unmapped.contains(&"table public.acct: owner differs: expected postgres / actual app_owner".to_string())
                && unmapped.contains(&"grant SELECT on public.acct to dev_reader: missing".to_string())
                && unmapped.contains(
                    &"policy read on public.acct: roles differs: expected dev_reader / actual app_reader".to_string()
                )
                && unmapped
                    .iter()
                    .any(|l| l.starts_with("default privileges for role postgres in schema public")),
            "{unmapped:#?}"
        );
        let mapped = Comparison {
            roles: RoleMap::parse("postgres=app_owner, dev_reader=app_reader").unwrap(),
            ..Default::default()
        };
        assert_eq!(lines(&local, &production, &mapped), Vec::<String>::new());
        // The database side is not renamed: mapping the other way round fails.
        let backwards = Comparison {
            roles: RoleMap::parse("app_owner=postgres,app_reader=dev_reader").unwrap(),
            ..Default::default()
        };
        assert_eq!(lines(&local, &production, &backwards), unmapped);
    }

    #[test]
    fn two_roles_mapped_to_one_merge_their_entries() {
        let mut s = snapshot("a", "r1");
        let t = acct(&mut s);
        t.privileges.granted.push(grant("r2", "SELECT"));
        t.policies.get_mut("read").unwrap().roles.push("r2".into());
        RoleMap::parse("r1=r,r2=r").unwrap().apply(&mut s);
        let t = &s.schemas["public"].tables["acct"];
        assert_eq!(t.privileges.granted, vec![grant("r", "SELECT")]);
        assert_eq!(t.policies["read"].roles, vec!["r"]);
    }

    #[test]
    fn ignored_aspects_compare_as_nothing_on_both_sides() {
        let expected = snapshot("postgres", "reader");
        let mut actual = snapshot("other", "reader");
        let t = acct(&mut actual);
        t.privileges.granted.clear();
        t.comment = Some("changed".into());
        actual.schemas.get_mut("public").unwrap().default_privileges.clear();
        let all = Comparison {
            ignore: Comparison::parse_ignore("owner,grants,comments").unwrap(),
            ..Default::default()
        };
        assert_eq!(lines(&expected, &actual, &all), Vec::<String>::new());
        let owner_only = Comparison {
            ignore: vec![Aspect::Owner],
            ..Default::default()
        };
        assert_eq!(
            lines(&expected, &actual, &owner_only),
            vec![
                "default privileges for role postgres in schema public: grant SELECT on tables to reader missing",
                "table public.acct: comment differs: expected 'accounts' / actual 'changed'",
                "grant SELECT on public.acct to reader: missing",
            ]
        );
        // Row-level security is never left out.
        let t = acct(&mut actual);
        t.policies.clear();
        assert_eq!(
            lines(&expected, &actual, &all),
            vec!["policy read on public.acct: missing (expected AS PERMISSIVE FOR SELECT TO reader USING true)"]
        );
    }

    #[test]
    fn what_a_format_1_file_did_not_record_is_not_compared() {
        let mut old = snapshot("postgres", "reader");
        for aspect in Aspect::ALL {
            forget(&mut old, aspect);
        }
        old.format_version = 1;
        let mut actual = snapshot("other", "reader");
        acct(&mut actual).kind = "unlogged table".into();
        assert_eq!(
            lines(&old, &actual, &Comparison::default()),
            vec!["table public.acct: kind differs: expected table / actual unlogged table"]
        );
    }

    #[test]
    fn ignore_lists_parse_strictly() {
        assert_eq!(
            Comparison::parse_ignore(" grants ,, owner,grants").unwrap(),
            vec![Aspect::Owner, Aspect::Grants]
        );
        assert_eq!(Comparison::parse_ignore("").unwrap(), vec![]);
        assert!(Comparison::parse_ignore("rls").unwrap_err().contains("always compared"));
        assert!(Comparison::parse_ignore("owner,everything")
            .unwrap_err()
            .contains("unknown aspect"));
    }

    #[test]
    fn role_maps_parse_strictly() {
        let m = RoleMap::parse(" a = b ,c=d,").unwrap();
        assert_eq!(
            m,
            RoleMap(BTreeMap::from([("a".into(), "b".into()), ("c".into(), "d".into())]))
        );
        assert!(RoleMap::parse("").unwrap().is_empty());
        assert!(RoleMap::parse("a=b,a=c").unwrap_err().contains("mapped twice"));
        assert!(RoleMap::parse("a").unwrap_err().contains("from=to"));
        assert!(RoleMap::parse("PUBLIC=a").unwrap_err().contains("PUBLIC"));
    }
}
