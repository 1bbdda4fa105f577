//! `new NAME`: the next migration file, numbered one past the highest.

use std::io::Write;

use super::Output;
use crate::config::Config;
use crate::error::Error;
use crate::files;
use crate::migration::Version;

/// `add Users!` -> `add_users`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// The file name after the highest version's first part, keeping the zero
/// padding in use (at least four digits). `Err` when there is no next whole
/// number (the highest is already u64::MAX).
pub fn next_file_name(existing: &[(Version, String)], slug: &str) -> Result<String, String> {
    let highest = existing.iter().map(|(v, _)| v.major()).max().unwrap_or(0);
    let next = highest
        .checked_add(1)
        .ok_or_else(|| format!("the highest version, {highest}, has no successor; number the file by hand"))?;
    let width = existing
        .iter()
        .map(|(_, f)| {
            f.trim_start_matches('V')
                .chars()
                .take_while(char::is_ascii_digit)
                .count()
        })
        .max()
        .unwrap_or(4)
        .max(4);
    Ok(format!("{next:0width$}_{slug}.sql"))
}

pub fn new_migration(config: &Config, name: &str) -> Result<Output, Error> {
    let slug = slug(name);
    if slug.is_empty() {
        return Err(Error::config(
            "NAME",
            format!("'{name}' has no letters or digits to name a file with"),
        ));
    }
    let dir = &config.migrations_dir;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, &e))?;
    let set = files::load_migrations(dir)?;
    let existing: Vec<(Version, String)> = set
        .files
        .iter()
        .map(|f| (f.version.clone(), f.file_name.clone()))
        .collect();
    let name = next_file_name(&existing, &slug).map_err(|e| Error::config("NAME", e))?;
    let path = dir.join(name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Error::io(&path, &e))?;
    // The directive is described, not written: a line of its own would switch it on.
    let header = format!(
        "-- {slug}\n-- Runs in one transaction together with its history row. For statements that\n\
         -- refuse a transaction (CREATE INDEX CONCURRENTLY), put the directive\n\
         -- \"schemagate:no-transaction\" on a comment line of its own at the top.\n\n"
    );
    file.write_all(header.as_bytes()).map_err(|e| Error::io(&path, &e))?;
    Ok(Output {
        stdout: Some(format!("{}\n", path.display())),
        summary: format!("created {}", path.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe_file_names() {
        assert_eq!(slug("Add Users!"), "add_users");
        assert_eq!(slug("  --  "), "");
        assert_eq!(slug("x/../y"), "x_y");
    }

    fn v(text: &str) -> Version {
        text.parse().unwrap()
    }

    #[test]
    fn numbering_keeps_padding() {
        assert_eq!(next_file_name(&[], "init").unwrap(), "0001_init.sql");
        assert_eq!(
            next_file_name(&[(v("1"), "0001_a.sql".into()), (v("9"), "0009_b.sql".into())], "c").unwrap(),
            "0010_c.sql"
        );
        assert_eq!(
            next_file_name(&[(v("7"), "000007_a.sql".into())], "b").unwrap(),
            "000008_b.sql"
        );
        assert_eq!(
            next_file_name(&[(v("3"), "V3__a.sql".into())], "b").unwrap(),
            "0004_b.sql"
        );
        assert_eq!(
            next_file_name(&[(v("3.1"), "V3.1__a.sql".into())], "b").unwrap(),
            "0004_b.sql"
        );
    }

    #[test]
    fn the_largest_version_has_no_successor() {
        let last = [(Version::from_int(u64::MAX), format!("{}_a.sql", u64::MAX))];
        assert!(next_file_name(&last, "b").unwrap_err().contains("no successor"));
    }
}
