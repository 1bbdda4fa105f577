//! The schema-verification settings: which schemas are compared, the expected
//! schema file, whether extra objects fail, and which aspects are left out or
//! have their role names mapped.

use std::path::{Path, PathBuf};

use super::Sources;
use crate::error::Error;
use crate::schema::compare::RoleMap;
use crate::schema::{Comparison, SchemaFilter, Strictness};

/// Where the expected schema comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedSchema {
    /// `SCHEMAGATE_EXPECTED_SCHEMA=` (empty): no schema comparison.
    Off,
    /// Set explicitly: the file must exist.
    Required(PathBuf),
    /// The default, `<migrations dir>/schema.json`: compared when it exists.
    IfPresent(PathBuf),
}

impl ExpectedSchema {
    pub fn path(&self) -> Option<&Path> {
        match self {
            ExpectedSchema::Off => None,
            ExpectedSchema::Required(p) | ExpectedSchema::IfPresent(p) => Some(p),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaSettings {
    pub filter: SchemaFilter,
    pub expected: ExpectedSchema,
    pub strictness: Strictness,
    pub comparison: Comparison,
}

pub(super) fn settings(src: &Sources, migrations_dir: &Path) -> Result<SchemaSettings, Error> {
    let filter = match (src.get("SCHEMAGATE_SCHEMAS"), src.get("SCHEMAGATE_SCHEMA_EXCLUDE")) {
        (None, None) => SchemaFilter::default(),
        (include, exclude) => {
            let source = include
                .as_ref()
                .map_or("SCHEMAGATE_SCHEMAS".into(), |s| s.source.clone());
            SchemaFilter::parse(
                include.as_ref().map_or("public", |s| &s.value),
                exclude.as_ref().map_or("", |s| &s.value),
            )
            .map_err(|e| Error::config(source, e))?
        }
    };
    let expected = match src.get("SCHEMAGATE_EXPECTED_SCHEMA") {
        Some(s) if s.value.is_empty() => ExpectedSchema::Off,
        Some(s) => ExpectedSchema::Required(PathBuf::from(s.value)),
        None => ExpectedSchema::IfPresent(migrations_dir.join("schema.json")),
    };
    let strictness = if src.boolean("SCHEMAGATE_STRICT_SCHEMA")? {
        Strictness::ExtrasFail
    } else {
        Strictness::ExtrasWarn
    };
    Ok(SchemaSettings {
        filter,
        expected,
        strictness,
        comparison: comparison(src)?,
    })
}

fn comparison(src: &Sources) -> Result<Comparison, Error> {
    let ignore = match src.get("SCHEMAGATE_SCHEMA_IGNORE") {
        Some(s) => Comparison::parse_ignore(&s.value).map_err(|e| Error::config(s.source, e))?,
        None => Vec::new(),
    };
    let roles = match src.get("SCHEMAGATE_SCHEMA_ROLE_MAP") {
        Some(s) => RoleMap::parse(&s.value).map_err(|e| Error::config(s.source, e))?,
        None => RoleMap::default(),
    };
    Ok(Comparison { ignore, roles })
}

#[cfg(test)]
mod tests {
    use super::super::{Config, RawEnv};
    use super::*;
    use crate::config::Flags;
    use crate::schema::model::Aspect;

    fn schema(vars: &[(&str, &str)]) -> Result<SchemaSettings, Error> {
        let env: RawEnv = vars.iter().map(|(k, v)| (*k, *v)).collect();
        Config::from_sources(&env, &Flags::default()).map(|c| c.schema)
    }

    #[test]
    fn defaults_compare_public_against_the_file_beside_the_migrations() {
        let s = schema(&[("SCHEMAGATE_MIGRATIONS_DIR", "/m")]).unwrap();
        assert_eq!(s.filter, SchemaFilter::default());
        assert_eq!(s.expected, ExpectedSchema::IfPresent(PathBuf::from("/m/schema.json")));
        assert_eq!(s.strictness, Strictness::ExtrasWarn);
        assert_eq!(s.comparison, Comparison::default());
    }

    #[test]
    fn the_ignore_list_and_the_role_map_come_from_variables_or_flags() {
        let s = schema(&[
            ("SCHEMAGATE_SCHEMA_IGNORE", "comments, owner,comments"),
            (
                "SCHEMAGATE_SCHEMA_ROLE_MAP",
                "postgres=app_owner, dev_reader=app_reader",
            ),
        ])
        .unwrap();
        assert_eq!(s.comparison.ignore, vec![Aspect::Owner, Aspect::Comments]);
        assert_eq!(
            s.comparison.roles,
            RoleMap::parse("dev_reader=app_reader,postgres=app_owner").unwrap()
        );
        let flags = Flags::from([("SCHEMAGATE_SCHEMA_IGNORE", "grants")]);
        let c = Config::from_sources(&RawEnv::default(), &flags).unwrap();
        assert_eq!(c.schema.comparison.ignore, vec![Aspect::Grants]);
    }

    #[test]
    fn policies_cannot_be_ignored_and_bad_maps_name_the_variable() {
        let e = schema(&[("SCHEMAGATE_SCHEMA_IGNORE", "owner,policies")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SCHEMAGATE_SCHEMA_IGNORE") && e.contains("always compared"),
            "{e}"
        );
        let e = schema(&[("SCHEMAGATE_SCHEMA_IGNORE", "owners")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown aspect 'owners'"), "{e}");
        for bad in ["postgres", "a=", "=b", "a=b,a=c", "PUBLIC=app"] {
            let e = schema(&[("SCHEMAGATE_SCHEMA_ROLE_MAP", bad)]).unwrap_err().to_string();
            assert!(e.contains("SCHEMAGATE_SCHEMA_ROLE_MAP"), "{bad}: {e}");
        }
    }

    #[test]
    fn variables_and_flags_set_each_part() {
        let s = schema(&[
            ("SCHEMAGATE_SCHEMAS", "app_*,public"),
            ("SCHEMAGATE_SCHEMA_EXCLUDE", "app_tmp"),
            ("SCHEMAGATE_EXPECTED_SCHEMA", "/x.json"),
            ("SCHEMAGATE_STRICT_SCHEMA", "true"),
        ])
        .unwrap();
        assert!(s.filter.selects("app_1") && !s.filter.selects("app_tmp") && s.filter.selects("public"));
        assert_eq!(s.expected, ExpectedSchema::Required(PathBuf::from("/x.json")));
        assert_eq!(s.strictness, Strictness::ExtrasFail);
        assert_eq!(
            schema(&[("SCHEMAGATE_EXPECTED_SCHEMA", "")]).unwrap().expected,
            ExpectedSchema::Off
        );
        let flags = Flags::from([("SCHEMAGATE_SCHEMAS", "other")]);
        let c = Config::from_sources(&RawEnv::default(), &flags).unwrap();
        assert!(c.schema.filter.selects("other") && !c.schema.filter.selects("public"));
    }

    #[test]
    fn errors_name_the_variable() {
        let e = schema(&[("SCHEMAGATE_SCHEMAS", " , ")]).unwrap_err().to_string();
        assert!(e.contains("SCHEMAGATE_SCHEMAS"), "{e}");
        let e = schema(&[("SCHEMAGATE_STRICT_SCHEMA", "maybe")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("SCHEMAGATE_STRICT_SCHEMA"), "{e}");
        let e = schema(&[("SCHEMAGATE_SCHEMA", "public")]).unwrap_err().to_string();
        assert!(e.contains("did you mean SCHEMAGATE_SCHEMAS"), "{e}");
    }
}
