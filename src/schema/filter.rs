//! Which schemas are compared: `SCHEMAGATE_SCHEMAS` (names or globs, default
//! `public`) minus `SCHEMAGATE_SCHEMA_EXCLUDE` (globs). System schemas are
//! never compared, whatever the patterns say.

/// A schema-name pattern: `*` matches any run of characters, `?` exactly one;
/// everything else matches itself (names are case-sensitive, as in the catalog).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob(pattern.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, name: &str) -> bool {
        let pattern: Vec<char> = self.0.chars().collect();
        let name: Vec<char> = name.chars().collect();
        // Iterative matching with one backtrack point (the last `*`), linear
        // enough for names of at most 63 bytes.
        let (mut p, mut n) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while n < name.len() {
            match pattern.get(p) {
                Some('*') => {
                    star = Some((p, n));
                    p += 1;
                }
                Some(&c) if c == '?' || c == name[n] => {
                    p += 1;
                    n += 1;
                }
                _ => match star {
                    Some((sp, sn)) => {
                        p = sp + 1;
                        n = sn + 1;
                        star = Some((sp, sn + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|&c| c == '*')
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaFilter {
    pub include: Vec<Glob>,
    pub exclude: Vec<Glob>,
}

impl Default for SchemaFilter {
    fn default() -> Self {
        SchemaFilter {
            include: vec![Glob::new("public")],
            exclude: Vec::new(),
        }
    }
}

impl SchemaFilter {
    /// Parses the two comma-separated lists. An empty include list is an
    /// error: comparing nothing would always pass.
    pub fn parse(include: &str, exclude: &str) -> Result<SchemaFilter, String> {
        let include = split(include);
        if include.is_empty() {
            return Err("name at least one schema (for example public)".into());
        }
        Ok(SchemaFilter {
            include,
            exclude: split(exclude),
        })
    }

    /// Whether `schema` is compared.
    pub fn selects(&self, schema: &str) -> bool {
        !is_system(schema)
            && self.include.iter().any(|g| g.matches(schema))
            && !self.exclude.iter().any(|g| g.matches(schema))
    }

    /// The compared schemas among `existing`, sorted.
    pub fn select(&self, existing: &[String]) -> Vec<String> {
        let mut out: Vec<String> = existing.iter().filter(|s| self.selects(s)).cloned().collect();
        out.sort();
        out.dedup();
        out
    }
}

/// `pg_catalog`, `pg_toast`, temporary schemas and `information_schema`
/// belong to the server, not to the application.
pub fn is_system(schema: &str) -> bool {
    schema.starts_with("pg_") || schema == "information_schema"
}

fn split(list: &str) -> Vec<Glob> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Glob::new)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names() {
        let g = Glob::new("tenant_*");
        assert!(g.matches("tenant_1") && g.matches("tenant_"));
        assert!(!g.matches("tenant") && !g.matches("xtenant_1"));
        assert!(Glob::new("a?c").matches("abc") && !Glob::new("a?c").matches("abbc"));
        assert!(Glob::new("*_tmp*").matches("x_tmp_y") && !Glob::new("*_tmp*").matches("xtmp"));
        assert!(Glob::new("*").matches("") && Glob::new("public").matches("public"));
        assert!(!Glob::new("Public").matches("public"), "names are case-sensitive");
        assert!(Glob::new("a*b*c").matches("aXbYbZc") && !Glob::new("a*b*c").matches("aXbYbZ"));
    }

    #[test]
    fn default_is_public_and_excludes_win() {
        assert!(SchemaFilter::default().selects("public"));
        assert!(!SchemaFilter::default().selects("app"));
        let f = SchemaFilter::parse("*", "tmp_*, audit").unwrap();
        let existing: Vec<String> = [
            "public",
            "tmp_1",
            "audit",
            "app",
            "pg_catalog",
            "information_schema",
            "pg_temp_3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(f.select(&existing), vec!["app", "public"]);
    }

    #[test]
    fn lists_ignore_blanks_but_not_emptiness() {
        let f = SchemaFilter::parse(" public, ,app ", "").unwrap();
        assert_eq!(f.include, vec![Glob::new("public"), Glob::new("app")]);
        assert!(SchemaFilter::parse(" , ", "").is_err());
    }
}
