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

/// Line and column of the first character that is not blank or a comment
/// at or after the character `offset`: where a statement that failed
/// without a position starts.
pub fn statement_start(text: &str, offset: usize) -> (usize, usize) {
    let byte = text.char_indices().nth(offset).map_or(text.len(), |(b, _)| b);
    let rest = &text[byte..];
    let skipped = rest[..code_start(rest)].chars().count();
    line_col(text, offset + skipped + 1).unwrap_or((1, 1))
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

/// The text with every comment replaced by spaces (newlines kept), so that
/// words in comments are not read as SQL and positions do not move. Quoted
/// text, dollar quotes included, is kept as it is.
pub fn blank_comments(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut s = Scanner {
        bytes: sql.as_bytes(),
        i: 0,
    };
    let mut copied = 0;
    while s.i < sql.len() {
        let start = s.i;
        let comment = matches!((s.bytes[s.i], s.peek(1)), (b'-', Some(b'-')) | (b'/', Some(b'*')));
        s.skip_token();
        if comment {
            out.push_str(&sql[copied..start]);
            out.extend(sql[start..s.i].chars().map(|c| if c == '\n' { '\n' } else { ' ' }));
            copied = s.i;
        }
    }
    out.push_str(&sql[copied..]);
    out
}

/// Whether a piece holds anything but blanks and comments: an empty or
/// comment-only script does nothing.
pub fn has_code(piece: &str) -> bool {
    code_start(piece) < piece.len()
}

/// The byte index of the first character that is not blank or a comment.
fn code_start(piece: &str) -> usize {
    let mut s = Scanner {
        bytes: piece.as_bytes(),
        i: 0,
    };
    while s.i < piece.len() {
        match s.bytes[s.i] {
            b if b.is_ascii_whitespace() => s.i += 1,
            b'-' if s.peek(1) == Some(b'-') => s.skip_token(),
            b'/' if s.peek(1) == Some(b'*') => s.skip_token(),
            _ => return s.i,
        }
    }
    piece.len()
}

/// Which part of a file a failure without a position can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The whole file was sent as one piece.
    File,
    /// Only the statement starting at this character offset was sent.
    StatementAt(usize),
}

fn statements_in(sql: &str, scope: Scope) -> Vec<Statement<'_>> {
    let all = split_statements(sql);
    match scope {
        Scope::File => all,
        Scope::StatementAt(offset) => all.into_iter().filter(|s| s.char_offset == offset).collect(),
    }
}

/// The words of a text, upper case, comments left out.
fn words(sql: &str) -> Vec<String> {
    blank_comments(sql)
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
        .collect()
}

/// SQLSTATE 25001 names the kind of statement that cannot run inside a
/// transaction block ("CREATE INDEX CONCURRENTLY cannot run inside a
/// transaction block") but not where it is. It is the first statement of
/// that kind: the same first word, then the kind's other words in order
/// (`CREATE UNIQUE INDEX CONCURRENTLY` is one, so is `ALTER TABLE ... DETACH
/// PARTITION p CONCURRENTLY`).
pub fn transaction_refuser(sql: &str, scope: Scope, message: &str) -> Option<(usize, usize)> {
    let kind = words(message.strip_suffix(" cannot run inside a transaction block")?);
    let is_kind = |s: &Statement<'_>| {
        let have = words(s.sql);
        let mut rest = have.iter();
        have.first() == kind.first() && kind.iter().all(|k| rest.any(|h| h == k))
    };
    let stmt = statements_in(sql, scope).into_iter().find(is_kind)?;
    Some(statement_start(sql, stmt.char_offset))
}

/// The `DO` block's frame in a PL/pgSQL error context: the line inside the
/// block, what it was running (`SQL statement`, `RAISE`, …) and the query
/// text when the server gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Frame<'a> {
    line: usize,
    at: &'a str,
    query: Option<&'a str>,
}

const DO_FRAME: &str = "PL/pgSQL function inline_code_block line ";

/// The outermost `DO` frame of `context` (the last one: frames go from the
/// innermost out). Its query is the `SQL statement "…"` just before it, or
/// the internal query when it is the innermost frame.
fn do_frame<'a>(context: &'a str, internal_query: Option<&'a str>) -> Option<Frame<'a>> {
    let at_frame = context.rfind(DO_FRAME)?;
    let rest = &context[at_frame + DO_FRAME.len()..];
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    let line = rest[..digits].parse().ok()?;
    let at = rest[digits..].lines().next().unwrap_or("").trim();
    let before = context[..at_frame].trim_end();
    let query = if before.is_empty() {
        internal_query
    } else {
        before
            .strip_suffix('"')
            .and_then(|b| b.rfind("SQL statement \"").map(|i| &b[i + 15..]))
    };
    Some(Frame {
        line,
        at: at.strip_prefix("at ").unwrap_or(at),
        query,
    })
}

impl Frame<'_> {
    /// Whether a line of a block shows what the frame was running: the
    /// query's first line, or the statement's keyword (`RAISE`, `PERFORM`).
    fn shows_in(&self, line: &str) -> bool {
        if let Some(q) = self
            .query
            .and_then(|q| q.lines().map(str::trim).find(|l| !l.is_empty()))
        {
            return line.contains(q);
        }
        match self.at.split_whitespace().next() {
            Some(w) if w != "SQL" && w.chars().all(|c| c.is_ascii_uppercase()) => line.to_ascii_uppercase().contains(w),
            _ => true,
        }
    }
}

/// The body of the first dollar quote in `stmt`: its byte offset and text.
fn dollar_body(stmt: &str) -> Option<(usize, &str)> {
    let mut s = Scanner {
        bytes: stmt.as_bytes(),
        i: 0,
    };
    while s.i < stmt.len() {
        if s.bytes[s.i] == b'$' {
            if let Some(len) = s.dollar_delimiter() {
                let start = s.i + len;
                let end = find(&s.bytes[start..], &s.bytes[s.i..start]).map_or(stmt.len(), |e| start + e);
                return Some((start, &stmt[start..end]));
            }
        }
        s.skip_token();
    }
    None
}

/// A `DO` statement's body and where it starts (in characters of the file).
fn do_body<'a>(stmt: &Statement<'a>) -> Option<(usize, &'a str)> {
    let code = &stmt.sql[code_start(stmt.sql)..];
    let is_do = code.get(..2).is_some_and(|w| w.eq_ignore_ascii_case("do"))
        && !code[2..].starts_with(|c: char| c.is_alphanumeric() || c == '_');
    if !is_do {
        return None;
    }
    let (start, body) = dollar_body(stmt.sql)?;
    Some((stmt.char_offset + stmt.sql[..start].chars().count(), body))
}

/// Where an error (or notice) raised inside a `DO` block is in the file. The
/// server says only "PL/pgSQL function inline_code_block line N": PL/pgSQL
/// counts from the line the body starts on (the `$$`), so the file line is
/// that line plus N minus 1. When the scope holds several blocks long
/// enough, the frame's query or keyword must show on that line of exactly
/// one of them; otherwise the place is not known and `None` is returned.
pub fn do_block_location(
    sql: &str,
    scope: Scope,
    context: &str,
    internal_query: Option<&str>,
) -> Option<(usize, usize)> {
    let frame = do_frame(context, internal_query)?;
    let index = frame.line.checked_sub(1)?;
    let candidates: Vec<(usize, &str, &str)> = statements_in(sql, scope)
        .iter()
        .filter_map(do_body)
        .filter_map(|(start, body)| Some((start, body, body.split('\n').nth(index)?)))
        .collect();
    let chosen = match candidates.as_slice() {
        [one] => *one,
        many => {
            let shown: Vec<_> = many.iter().filter(|(_, _, line)| frame.shows_in(line)).collect();
            match shown.as_slice() {
                [one] => **one,
                _ => return None,
            }
        }
    };
    let (start, body, line) = chosen;
    let before: usize = body.split('\n').take(index).map(|l| l.chars().count() + 1).sum();
    let indent = line.chars().take_while(|c| c.is_whitespace()).count();
    line_col(sql, start + before + indent + 1)
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

    /// The length of the `$tag$` opening a dollar quote here, if one does.
    /// A tag follows the rules of an unquoted identifier: letters (any
    /// non-ASCII character counts as one, so `$é$` is a tag), digits but
    /// not first, and underscores.
    fn dollar_delimiter(&self) -> Option<usize> {
        let rest = &self.bytes[self.i + 1..];
        let tag_len = rest.iter().take_while(|b| identifier_byte(**b)).count();
        let preceded_by_word = self.i > 0 && identifier_byte(self.bytes[self.i - 1]);
        // Otherwise a `$1` parameter or part of an identifier.
        let opens =
            rest.get(tag_len) == Some(&b'$') && !preceded_by_word && !rest.first().is_some_and(u8::is_ascii_digit);
        opens.then_some(tag_len + 2)
    }

    fn skip_dollar_quote(&mut self) {
        let Some(len) = self.dollar_delimiter() else {
            self.i += 1;
            return;
        };
        let delimiter = self.bytes[self.i..self.i + len].to_vec();
        self.i += len;
        self.skip_until(&delimiter);
    }
}

/// A byte of an unquoted identifier: ASCII letters, digits and `_`, and
/// every byte of a non-ASCII character (PostgreSQL treats those as letters).
fn identifier_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
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
    fn non_ascii_dollar_quote_tags_are_tags() {
        let sql = "CREATE FUNCTION f() RETURNS text AS $é$ SELECT ';' $é$ LANGUAGE sql;\nSELECT f();";
        let stmts: Vec<&str> = split_statements(sql).iter().map(|s| s.sql.trim()).collect();
        assert_eq!(stmts.len(), 2, "{stmts:#?}");
        assert!(stmts[0].ends_with("LANGUAGE sql"), "{stmts:#?}");
        // `é$x$` is an identifier followed by a parameter-like token, not a quote.
        assert_eq!(split_statements("SELECT é$1; SELECT 2").len(), 2);
    }

    #[test]
    fn statements_start_after_their_comments() {
        let sql = "SELECT 1;\n-- why\n/* more */\n  CREATE INDEX CONCURRENTLY i ON t (a);";
        let second = split_statements(sql)[1].char_offset;
        assert_eq!(statement_start(sql, second), (4, 3));
    }

    #[test]
    fn finds_the_statement_that_refuses_a_transaction() {
        let sql = "CREATE TABLE t (a int);\n-- the index\nCREATE UNIQUE INDEX CONCURRENTLY i ON t (a);\nVACUUM t;";
        let message = "CREATE INDEX CONCURRENTLY cannot run inside a transaction block";
        assert_eq!(transaction_refuser(sql, Scope::File, message), Some((3, 1)));
        let vacuum = "VACUUM cannot run inside a transaction block";
        assert_eq!(transaction_refuser(sql, Scope::File, vacuum), Some((4, 1)));
        let detach = "ALTER TABLE ... DETACH CONCURRENTLY cannot run inside a transaction block";
        let sql2 = "ALTER TABLE p DETACH PARTITION c CONCURRENTLY;";
        assert_eq!(transaction_refuser(sql2, Scope::File, detach), Some((1, 1)));
        assert_eq!(transaction_refuser(sql, Scope::File, "something else"), None);
        assert_eq!(transaction_refuser(sql, Scope::StatementAt(0), message), None);
    }

    const BLOCKS: &str = concat!(
        "CREATE TABLE t (a int);\n",
        "DO $$\n",
        "BEGIN\n",
        "  INSERT INTO t VALUES (1);\n",
        "  RAISE NOTICE 'one';\n",
        "END $$;\n",
        "DO $body$ BEGIN\n",
        "  PERFORM 1;\n",
        "  INSERT INTO t VALUES (1/0);\n",
        "END $body$;\n",
    );

    #[test]
    fn do_block_lines_map_to_the_file() {
        // The only block long enough: no evidence needed.
        let ctx = "PL/pgSQL function inline_code_block line 5 at SQL statement";
        assert_eq!(do_block_location(BLOCKS, Scope::File, ctx, None), Some((6, 1)));
        // Line 3 exists in both blocks: the query (from the context) tells.
        let ctx =
            "SQL statement \"INSERT INTO t VALUES (1/0)\"\nPL/pgSQL function inline_code_block line 3 at SQL statement";
        assert_eq!(do_block_location(BLOCKS, Scope::File, ctx, None), Some((9, 3)));
        // ... or the internal query, when the DO frame is the innermost one.
        let ctx = "PL/pgSQL function inline_code_block line 3 at SQL statement";
        assert_eq!(
            do_block_location(BLOCKS, Scope::File, ctx, Some("INSERT INTO t VALUES (1)")),
            Some((4, 3))
        );
        // ... or the keyword.
        let ctx = "PL/pgSQL function inline_code_block line 2 at PERFORM";
        assert_eq!(do_block_location(BLOCKS, Scope::File, ctx, None), Some((8, 3)));
        // Line 1 of a block is the line of its `$$`, from the first character after it.
        let ctx = "PL/pgSQL function inline_code_block line 1 at statement block";
        let second = split_statements(BLOCKS)[2].char_offset;
        assert_eq!(
            do_block_location(BLOCKS, Scope::StatementAt(second), ctx, None),
            Some((7, 11))
        );
        // Ambiguous, or not a DO block: not placed.
        let ctx = "PL/pgSQL function inline_code_block line 3 at assignment";
        assert_eq!(do_block_location(BLOCKS, Scope::File, ctx, None), None);
        let ctx = "PL/pgSQL function f() line 3 at RAISE";
        assert_eq!(do_block_location(BLOCKS, Scope::File, ctx, None), None);
    }

    #[test]
    fn comments_are_blanked_in_place() {
        let sql = "CREATE TABLE a (); -- drop table a\n/* drop\ntable b */ SELECT '--x', $$ -- y $$;";
        let blanked = blank_comments(sql);
        assert_eq!(blanked.len(), sql.len());
        assert_eq!(blanked.lines().count(), sql.lines().count());
        assert!(!blanked.to_lowercase().contains("drop"), "{blanked}");
        assert!(blanked.contains("'--x'") && blanked.contains("$$ -- y $$"), "{blanked}");
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
