//! The Kubernetes termination message: one line, at most 4 KB (the kubelet
//! keeps 4096 bytes), shown by `kubectl describe pod` without digging in logs.

use std::path::Path;

pub const MAX_BYTES: usize = 4096;

/// One line: newlines folded, cut at a character boundary.
pub fn message(code: i32, text: &str) -> String {
    let line = format!("exit {code}: {}", text.replace('\n', " | "));
    if line.len() <= MAX_BYTES {
        return line;
    }
    let mut cut = MAX_BYTES - 3;
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &line[..cut])
}

pub fn write(path: &Path, code: i32, text: &str) -> std::io::Result<()> {
    std::fs::write(path, message(code, text) + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_and_bounded() {
        assert_eq!(message(5, "a\nb"), "exit 5: a | b");
        let long = "é".repeat(5000);
        let m = message(6, &long);
        assert!(m.len() <= MAX_BYTES && m.ends_with("..."));
    }
}
