//! Pure text helpers over SQL: error positions and statement splitting.

/// Turns the server's error position (1-based, counted in characters, not
/// bytes) into a 1-based `(line, column)` inside `text`. Same idea as
/// golang-migrate's `computeLineFromPos`, which also counts runes.
pub fn line_col(text: &str, position: usize) -> Option<(usize, usize)> {
    if position == 0 {
        return None;
    }
    let (mut line, mut col) = (1, 1);
    for (i, ch) in text.chars().enumerate() {
        if i + 1 == position {
            return Some((line, col));
        }
        if ch == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    // One past the end: the server points there for "syntax error at end of input".
    (text.chars().count() + 1 == position).then_some((line, col))
}

/// Line and column of the first non-blank character at or after the
/// character `offset`: where a statement that failed without a position
/// starts.
pub fn statement_start(text: &str, offset: usize) -> (usize, usize) {
    let blanks = text.chars().skip(offset).take_while(|c| c.is_whitespace()).count();
    line_col(text, offset + blanks + 1).unwrap_or((1, 1))
}

/// One statement of a file, with where it starts (in characters) so that an
/// error position inside it maps back to the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    pub sql: &'a str,
    pub char_offset: usize,
}

/// Splits SQL into top-level statements at `;`, skipping over quotes, quoted
/// identifiers, dollar quotes and comments. Used only for
/// `-- schemagate:no-transaction` files: PostgreSQL runs a multi-statement
/// simple query as one implicit transaction, where `CREATE INDEX CONCURRENTLY`
/// is refused, so those statements must be sent one by one.
pub fn split_statements(sql: &str) -> Vec<Statement<'_>> {
    let mut out = Vec::new();
    let mut scanner = Scanner {
        bytes: sql.as_bytes(),
        i: 0,
    };
    let mut start = 0;
    while scanner.i < sql.len() {
        if scanner.bytes[scanner.i] == b';' {
            push_statement(sql, start, scanner.i, &mut out);
            scanner.i += 1;
            start = scanner.i;
        } else if scanner.bytes[scanner.i..].starts_with(GOOSE_BEGIN) {
            // Everything up to StatementEnd is one statement, semicolons and all.
            push_statement(sql, start, scanner.i, &mut out);
            start = scanner.i;
            scanner.skip_until(GOOSE_END);
            push_statement(sql, start, scanner.i, &mut out);
            start = scanner.i;
        } else {
            scanner.skip_token();
        }
    }
    push_statement(sql, start, sql.len(), &mut out);
    out
}

fn push_statement<'a>(sql: &'a str, start: usize, end: usize, out: &mut Vec<Statement<'a>>) {
    let piece = &sql[start..end];
    if has_code(piece) {
        out.push(Statement {
            sql: piece,
            char_offset: sql[..start].chars().count(),
        });
    }
}

/// Whether a piece holds anything but blanks and comments.
fn has_code(piece: &str) -> bool {
    code_start(piece) < piece.len()
}

/// The byte index of a piece's first character that is not blank and not
/// in a comment (the piece's length when there is none).
fn code_start(piece: &str) -> usize {
    let mut s = Scanner {
        bytes: piece.as_bytes(),
        i: 0,
    };
    while s.i < piece.len() {
        let before = s.i;
        match s.bytes[s.i] {
            b if b.is_ascii_whitespace() => s.i += 1,
            b'-' if s.peek(1) == Some(b'-') => s.skip_token(),
            b'/' if s.peek(1) == Some(b'*') => s.skip_token(),
            _ => return s.i,
        }
        debug_assert!(s.i > before);
    }
    piece.len()
}

/// The line of `file` a statement's code starts on (past the comments that
/// precede it), and that first line of code: how a report names a statement.
pub fn statement_head<'a>(file: &str, stmt: &Statement<'a>) -> (usize, &'a str) {
    let start = code_start(stmt.sql);
    let chars_before = stmt.sql[..start].chars().count();
    let line = line_col(file, stmt.char_offset + chars_before + 1).map_or(1, |(line, _)| line);
    let first = stmt.sql[start..].lines().next().unwrap_or_default().trim_end();
    (line, first)
}

/// goose marks statements that must not be split (a function body without
/// dollar quotes) with these comments.
const GOOSE_BEGIN: &[u8] = b"-- +goose StatementBegin";
const GOOSE_END: &[u8] = b"-- +goose StatementEnd";

struct Scanner<'a> {
    bytes: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.i + ahead).copied()
    }

    /// Advances past one token that may contain a `;`, or past one byte.
    fn skip_token(&mut self) {
        match self.bytes[self.i] {
            b'\'' => self.skip_quoted(b'\'', self.backslash_escapes()),
            b'"' => self.skip_quoted(b'"', false),
            b'-' if self.peek(1) == Some(b'-') => self.skip_until(b"\n"),
            b'/' if self.peek(1) == Some(b'*') => self.skip_block_comment(),
            b'$' => self.skip_dollar_quote(),
            _ => self.i += 1,
        }
    }

    /// `E'...'` strings honour backslash escapes.
    fn backslash_escapes(&self) -> bool {
        self.i > 0
            && matches!(self.bytes[self.i - 1], b'e' | b'E')
            && (self.i < 2 || !self.bytes[self.i - 2].is_ascii_alphanumeric())
    }

    fn skip_quoted(&mut self, quote: u8, backslash: bool) {
        self.i += 1;
        while self.i < self.bytes.len() {
            let b = self.bytes[self.i];
            // A backslash escape, or a doubled quote, is two bytes of content.
            let escaped = (backslash && b == b'\\') || (b == quote && self.peek(1) == Some(quote));
            if escaped {
                self.i += 2;
            } else if b == quote {
                self.i += 1;
                return;
            } else {
                self.i += 1;
            }
        }
    }

    fn skip_until(&mut self, end: &[u8]) {
        match find(&self.bytes[self.i..], end) {
            Some(pos) => self.i += pos + end.len(),
            None => self.i = self.bytes.len(),
        }
    }

    /// Block comments nest in PostgreSQL.
    fn skip_block_comment(&mut self) {
        let mut depth = 0;
        while self.i < self.bytes.len() {
            if self.bytes[self.i] == b'/' && self.peek(1) == Some(b'*') {
                depth += 1;
                self.i += 2;
            } else if self.bytes[self.i] == b'*' && self.peek(1) == Some(b'/') {
                depth -= 1;
                self.i += 2;
                if depth == 0 {
                    return;
                }
            } else {
                self.i += 1;
            }
        }
    }

    fn skip_dollar_quote(&mut self) {
        let rest = &self.bytes[self.i + 1..];
        let tag_len = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count();
        let preceded_by_word =
            self.i > 0 && (self.bytes[self.i - 1].is_ascii_alphanumeric() || self.bytes[self.i - 1] == b'_');
        if rest.get(tag_len) != Some(&b'$') || preceded_by_word || rest.first().is_some_and(u8::is_ascii_digit) {
            self.i += 1; // `$1` parameter or part of an identifier
            return;
        }
        let delimiter = self.bytes[self.i..self.i + tag_len + 2].to_vec();
        self.i += delimiter.len();
        self.skip_until(&delimiter);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_from_one() {
        let text = "SELECT 1;\nSELECT 2;\nSELEC 3;";
        let pos = text.find("SELEC 3").unwrap() + 1;
        assert_eq!(line_col(text, pos), Some((3, 1)));
        assert_eq!(line_col(text, 1), Some((1, 1)));
        assert_eq!(line_col(text, 0), None);
        // Multi-byte characters count once, as the server counts them.
        let text = "-- ünïcödé\nBAD";
        let pos = text.chars().position(|c| c == 'B').unwrap() + 1;
        assert_eq!(line_col(text, pos), Some((2, 1)));
        // End of input.
        assert_eq!(line_col("ab", 3), Some((1, 3)));
        assert_eq!(line_col("ab", 9), None);
    }

    #[test]
    fn splits_top_level_statements_only() {
        let sql = "CREATE TABLE t (a text default ';');\n\
                   -- a comment; with a semicolon\n\
                   CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n\
                   /* block; /* nested; */ still */ SELECT \"we;ird\", E'it\\'s;', $$x;$$;\n\
                   CREATE INDEX CONCURRENTLY i ON t (a)";
        let stmts: Vec<&str> = split_statements(sql).iter().map(|s| s.sql.trim()).collect();
        assert_eq!(stmts.len(), 4, "{stmts:#?}");
        assert!(stmts[1].contains("$body$ SELECT 1; $body$"));
        assert!(stmts[2].ends_with("$$x;$$"));
        assert_eq!(stmts[3], "CREATE INDEX CONCURRENTLY i ON t (a)");
    }

    #[test]
    fn drops_empty_and_comment_only_pieces_and_keeps_offsets() {
        let sql = "-- header\n;SELECT 1;;\n-- trailing comment\n";
        let stmts = split_statements(sql);
        assert_eq!(stmts.len(), 1);
        assert_eq!(stmts[0].sql, "SELECT 1");
        assert_eq!(stmts[0].char_offset, sql.find("SELECT").unwrap());
    }

    #[test]
    fn a_statement_is_named_by_its_first_line_of_code() {
        let file =
            "-- schemagate:no-transaction\n-- why\nCREATE INDEX CONCURRENTLY i\n  ON t (a);\n\n/* x */ VACUUM t;";
        let stmts = split_statements(file);
        assert_eq!(statement_head(file, &stmts[0]), (3, "CREATE INDEX CONCURRENTLY i"));
        assert_eq!(statement_head(file, &stmts[1]), (6, "VACUUM t"));
    }

    #[test]
    fn positional_parameters_are_not_dollar_quotes() {
        let stmts = split_statements("PREPARE p AS SELECT $1; SELECT 2");
        assert_eq!(stmts.len(), 2);
    }

    #[test]
    fn goose_statement_blocks_stay_whole() {
        let sql = "SELECT 0;\n-- +goose StatementBegin\nSELECT 1;\nSELECT 2;\n-- +goose StatementEnd\nSELECT 3;";
        let stmts: Vec<&str> = split_statements(sql).iter().map(|s| s.sql.trim()).collect();
        assert_eq!(stmts.len(), 3, "{stmts:#?}");
        assert!(stmts[1].contains("SELECT 1;\nSELECT 2;"), "{stmts:#?}");
        assert_eq!(stmts[2], "SELECT 3");
    }
}
