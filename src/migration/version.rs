//! Migration versions: sequences of non-negative integers compared part by
//! part, numerically (1 < 1.1 < 1.2 < 2 < 10), as Flyway compares them.
//! Plain integers and timestamps are versions of one part.
//!
//! Flyway drops trailing zero parts, so `1.0` is the same version as `1`;
//! so do we, or two files `V1__a.sql` and `V1.0__b.sql` would both be
//! applied where Flyway refuses them as duplicates.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(Vec<u64>);

impl Version {
    /// A one-part version.
    pub fn from_int(n: u64) -> Version {
        Version(vec![n])
    }

    fn canonical(mut parts: Vec<u64>) -> Version {
        while parts.len() > 1 && parts.last() == Some(&0) {
            parts.pop();
        }
        Version(parts)
    }

    /// Parses `1`, `0042`, `20240101120000`, `1.1`, `2.0.3`. `separator` is
    /// what separates parts: `.`, or also `_` inside Flyway's `V2_1__` names.
    pub fn parse_with(text: &str, separators: &[char]) -> Result<Version, String> {
        if text.is_empty() {
            return Err("the version is empty".into());
        }
        let parts = text
            .split(|c| separators.contains(&c))
            .map(|part| {
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("'{text}' is not a version (digits, separated by dots)"));
                }
                part.parse::<u64>()
                    .map_err(|_| format!("'{text}' has a part too large for a version"))
            })
            .collect::<Result<Vec<u64>, String>>()?;
        Ok(Version::canonical(parts))
    }

    /// The only part of a one-part version (a plain integer or timestamp).
    pub fn as_int(&self) -> Option<u64> {
        match self.0.as_slice() {
            [n] => Some(*n),
            _ => None,
        }
    }

    /// The first part: what `new` counts up from.
    pub fn major(&self) -> u64 {
        self.0[0]
    }
}

impl FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> Result<Version, String> {
        Version::parse_with(s.trim(), &['.'])
    }
}

/// The canonical text: parts without leading zeros, joined with dots. This is
/// what the history table stores and what `status` shows.
/// Honours width and alignment (`{:<14}`), as `status`'s table needs: the
/// parts are joined first, then padded.
impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.width().is_some() {
            let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
            return f.pad(&parts.join("."));
        }
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{part}")?;
        }
        Ok(())
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn pads_to_a_width_like_a_string() {
        assert_eq!(format!("[{:<6}]", v("1.2")), "[1.2   ]");
        assert_eq!(format!("[{:>4}]", v("7")), "[   7]");
        assert_eq!(format!("[{}]", v("0001.10")), "[1.10]");
    }

    #[test]
    fn orders_part_by_part_numerically() {
        let mut list = [v("10"), v("2"), v("1.2"), v("1"), v("1.1"), v("1.10"), v("1.1.1")];
        list.sort();
        let texts: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(texts, ["1", "1.1", "1.1.1", "1.2", "1.10", "2", "10"]);
    }

    #[test]
    fn canonical_text_drops_leading_and_trailing_zeros() {
        assert_eq!(v("0042").to_string(), "42");
        assert_eq!(v("1.0"), v("1"));
        assert_eq!(v("2.0.0").to_string(), "2");
        assert_eq!(v("0").to_string(), "0");
        assert_eq!(v("20240101120000").as_int(), Some(20240101120000));
        assert_eq!(Version::parse_with("2_1", &['.', '_']).unwrap().to_string(), "2.1");
    }

    #[test]
    fn rejects_what_is_not_a_version() {
        for bad in ["", "1..2", ".1", "1.", "a", "1.x", "-1", "99999999999999999999"] {
            assert!(bad.parse::<Version>().is_err(), "{bad}");
        }
        assert!("2_1".parse::<Version>().is_err());
    }
}
