//! ACLs as the server prints them (`aclitem` text: `grantee=privileges/grantor`,
//! the abbreviations of the manual's "ACL Privilege Abbreviations" table),
//! and an object's privileges set against its default.
//!
//! The catalog queries return ACLs as text because `aclitem` has no binary
//! form, and reading them here spares the server a second scan of every
//! catalog and an `aclexplode` per object.

use std::collections::BTreeSet;

use super::model::{Grant, Privileges};

/// The privilege of each letter, as `aclexplode` names it.
const LETTERS: [(char, &str); 15] = [
    ('r', "SELECT"),
    ('w', "UPDATE"),
    ('a', "INSERT"),
    ('d', "DELETE"),
    ('D', "TRUNCATE"),
    ('x', "REFERENCES"),
    ('t', "TRIGGER"),
    ('X', "EXECUTE"),
    ('U', "USAGE"),
    ('C', "CREATE"),
    ('c', "CONNECT"),
    ('T', "TEMPORARY"),
    ('s', "SET"),
    ('A', "ALTER SYSTEM"),
    ('m', "MAINTAIN"),
];

/// The entries of one `aclitem`, the grantor left out. An empty grantee is
/// PUBLIC. A letter this table does not know (a newer server's) is kept as
/// itself rather than dropped, so that it still compares.
pub fn entries(item: &str) -> Vec<Grant> {
    let (grantee, rest) = name(item);
    let grantee = if grantee.is_empty() {
        "PUBLIC".to_string()
    } else {
        grantee
    };
    let letters = rest.strip_prefix('=').unwrap_or(rest);
    let letters = letters.split_once('/').map_or(letters, |(l, _grantor)| l);
    let mut out: Vec<Grant> = Vec::new();
    for c in letters.chars() {
        match (c, out.last_mut()) {
            ('*', Some(last)) => last.grantable = true,
            _ => out.push(Grant {
                grantee: grantee.clone(),
                privilege: LETTERS
                    .iter()
                    .find(|(l, _)| *l == c)
                    .map_or_else(|| c.to_string(), |(_, p)| p.to_string()),
                grantable: false,
            }),
        }
    }
    out
}

/// A role name at the start of `text` and what follows it. The server
/// quotes a name with anything but letters, digits and `_`, doubling `"`.
fn name(text: &str) -> (String, &str) {
    let Some(quoted) = text.strip_prefix('"') else {
        let end = text.find(['=', '/']).unwrap_or(text.len());
        return (text[..end].to_string(), &text[end..]);
    };
    let mut out = String::new();
    let mut chars = quoted.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (c, chars.peek()) {
            ('"', Some((_, '"'))) => {
                out.push('"');
                chars.next();
            }
            ('"', _) => return (out, &quoted[i + 1..]),
            _ => out.push(c),
        }
    }
    (out, "")
}

/// What `acl` holds beyond `default`, and what of `default` it lacks. A
/// NULL ACL is the default itself: nothing either way. Entries repeated by
/// several grantors count once.
pub fn privileges(acl: Option<&[String]>, default: Option<&[String]>) -> Privileges {
    let Some(acl) = acl else {
        return Privileges::default();
    };
    let set = |items: &[String]| -> BTreeSet<Grant> { items.iter().flat_map(|i| entries(i)).collect() };
    let (held, default) = (set(acl), set(default.unwrap_or_default()));
    Privileges {
        granted: held.difference(&default).cloned().collect(),
        revoked: default.difference(&held).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::model::tests::grant;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn letters_grant_options_and_public() {
        let mut select = grant("app", "SELECT");
        select.grantable = true;
        assert_eq!(entries("app=ar*/owner"), vec![grant("app", "INSERT"), select]);
        assert_eq!(entries("=X/owner"), vec![grant("PUBLIC", "EXECUTE")]);
        assert_eq!(entries("=/owner"), vec![]);
        let all: Vec<String> = entries("o=arwdDxtXUCcTsAm/o")
            .into_iter()
            .map(|g| g.privilege)
            .collect();
        assert_eq!(all.len(), 15);
        assert!(all.contains(&"ALTER SYSTEM".to_string()) && all.contains(&"TRUNCATE".to_string()));
        assert_eq!(entries("o=Z/o")[0].privilege, "Z", "an unknown letter still compares");
    }

    #[test]
    fn quoted_names_lose_their_quotes() {
        assert_eq!(
            entries(r#""app reader"=r/"the ""owner""""#),
            vec![grant("app reader", "SELECT")]
        );
        assert_eq!(entries(r#""we""ird=/"=U/o"#), vec![grant(r#"we"ird=/"#, "USAGE")]);
        assert_eq!(entries("Ünïcode_1=r/o")[0].grantee, "Ünïcode_1");
    }

    #[test]
    fn privileges_are_set_against_the_default() {
        let default = strings(&["=X/owner", "owner=X/owner"]);
        assert_eq!(privileges(None, Some(&default)), Privileges::default());
        assert_eq!(privileges(Some(&default), Some(&default)), Privileges::default());
        let revoked_from_public = strings(&["owner=X/owner", "app=X/owner", "app=X/other"]);
        assert_eq!(
            privileges(Some(&revoked_from_public), Some(&default)),
            Privileges {
                granted: vec![grant("app", "EXECUTE")],
                revoked: vec![grant("PUBLIC", "EXECUTE")],
            }
        );
        // A column has no default: whatever it holds is granted.
        assert_eq!(
            privileges(Some(&strings(&["app=w/owner"])), None).granted,
            vec![grant("app", "UPDATE")]
        );
    }
}
