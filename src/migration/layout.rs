//! Peers' single-file layouts, read as they are so that switching costs
//! nothing: dbmate (`-- migrate:up` / `-- migrate:down`, `transaction:false`)
//! and goose (`-- +goose Up` / `-- +goose Down`, `-- +goose NO TRANSACTION`).
//!
//! Sections are cut out by blanking the other section's characters with
//! spaces (newlines kept), so that the server's character positions still
//! point at the right line and column of the file.

use super::TransactionMode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sections {
    pub up: String,
    pub down: Option<String>,
    pub up_transaction: TransactionMode,
    pub down_transaction: TransactionMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Up,
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Dbmate,
    Goose,
}

/// One marker line: which tool, which section, and whether it turns the
/// transaction off.
fn marker(line: &str) -> Option<(Tool, Option<Marker>, TransactionMode)> {
    let t = line.trim();
    if let Some(rest) = t.strip_prefix("-- migrate:") {
        let mut words = rest.split_whitespace();
        let section = match words.next() {
            Some("up") => Some(Marker::Up),
            Some("down") => Some(Marker::Down),
            _ => return None,
        };
        let tx = if words.any(|w| w == "transaction:false") {
            TransactionMode::None
        } else {
            TransactionMode::PerMigration
        };
        return Some((Tool::Dbmate, section, tx));
    }
    let rest = t.strip_prefix("-- +goose")?.trim();
    match rest.to_ascii_lowercase().as_str() {
        "up" => Some((Tool::Goose, Some(Marker::Up), TransactionMode::PerMigration)),
        "down" => Some((Tool::Goose, Some(Marker::Down), TransactionMode::PerMigration)),
        "no transaction" => Some((Tool::Goose, None, TransactionMode::None)),
        _ => None,
    }
}

/// Splits a file into its up and down parts. A file without markers is all
/// up, and is moved, not copied (a 50 MB data migration stays one copy).
pub fn sections(text: String, plain_mode: TransactionMode) -> Result<Sections, String> {
    if !text.split_inclusive('\n').any(|line| marker(line).is_some()) {
        return Ok(Sections {
            up: text,
            down: None,
            up_transaction: plain_mode,
            down_transaction: plain_mode,
        });
    }
    split_sections(&text, plain_mode)
}

fn split_sections(text: &str, plain_mode: TransactionMode) -> Result<Sections, String> {
    let mut tools = Vec::new();
    let mut current: Option<Marker> = None;
    let (mut up, mut down) = (String::with_capacity(text.len()), String::with_capacity(text.len()));
    let (mut seen_up, mut seen_down) = (false, false);
    let (mut up_tx, mut down_tx) = (plain_mode, plain_mode);
    for line in text.split_inclusive('\n') {
        if let Some((tool, section, tx)) = marker(line) {
            tools.push(tool);
            match section {
                Some(Marker::Up) if seen_up => return Err("has more than one up section".into()),
                Some(Marker::Down) if seen_down => return Err("has more than one down section".into()),
                Some(Marker::Up) => (seen_up, up_tx) = (true, min(up_tx, tx)),
                Some(Marker::Down) => (seen_down, down_tx) = (true, min(down_tx, tx)),
                None => (up_tx, down_tx) = (TransactionMode::None, TransactionMode::None),
            }
            current = section.or(current);
            up.push_str(&blank(line));
            down.push_str(&blank(line));
            continue;
        }
        let (keep_up, keep_down) = match current {
            None => (true, false),
            Some(Marker::Up) => (true, false),
            Some(Marker::Down) => (false, true),
        };
        up.push_str(&if keep_up { line.to_string() } else { blank(line) });
        down.push_str(&if keep_down { line.to_string() } else { blank(line) });
    }
    if tools.contains(&Tool::Dbmate) && tools.contains(&Tool::Goose) {
        return Err("mixes dbmate (-- migrate:) and goose (-- +goose) markers, so its sections are ambiguous".into());
    }
    if seen_down && !seen_up {
        return Err("has a down section but no up section".into());
    }
    Ok(Sections {
        up,
        down: seen_down.then_some(down),
        up_transaction: up_tx,
        down_transaction: down_tx,
    })
}

fn min(a: TransactionMode, b: TransactionMode) -> TransactionMode {
    if a == TransactionMode::None || b == TransactionMode::None {
        TransactionMode::None
    } else {
        TransactionMode::PerMigration
    }
}

/// The same number of characters, as spaces, newline kept.
fn blank(line: &str) -> String {
    line.chars().map(|c| if c == '\n' { '\n' } else { ' ' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PM: TransactionMode = TransactionMode::PerMigration;

    #[test]
    fn plain_files_are_all_up() {
        let s = sections("CREATE TABLE a ();\n".into(), PM).unwrap();
        assert_eq!(s.up, "CREATE TABLE a ();\n");
        assert_eq!(s.down, None);
    }

    #[test]
    fn dbmate_sections_and_transaction_false() {
        let text = "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n\n-- migrate:down\nDROP INDEX i;\n";
        let s = sections(text.into(), PM).unwrap();
        assert!(s.up.contains("CREATE INDEX CONCURRENTLY") && !s.up.contains("DROP INDEX"));
        assert!(s.down.as_ref().unwrap().contains("DROP INDEX i;") && !s.down.as_ref().unwrap().contains("CREATE"));
        assert_eq!(s.up_transaction, TransactionMode::None);
        assert_eq!(s.down_transaction, PM);
        // Positions are preserved: same length, same line structure.
        assert_eq!(s.up.chars().count(), text.chars().count());
        assert_eq!(s.up.lines().count(), text.lines().count());
    }

    #[test]
    fn goose_sections_and_no_transaction() {
        let text = "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE TABLE a ();\n-- +goose Down\nDROP TABLE a;\n";
        let s = sections(text.into(), PM).unwrap();
        assert!(s.up.contains("CREATE TABLE a") && !s.up.contains("DROP"));
        assert_eq!(s.up_transaction, TransactionMode::None);
        assert_eq!(s.down_transaction, TransactionMode::None);
    }

    #[test]
    fn ambiguous_files_are_refused_with_a_reason() {
        assert!(sections("-- migrate:up\nA;\n-- +goose Down\nB;\n".into(), PM)
            .unwrap_err()
            .contains("mixes dbmate"));
        assert!(sections("-- migrate:down\nB;\n".into(), PM)
            .unwrap_err()
            .contains("no up section"));
        assert!(sections("-- +goose Up\nA;\n-- +goose Up\nB;\n".into(), PM)
            .unwrap_err()
            .contains("more than one up"));
    }
}
