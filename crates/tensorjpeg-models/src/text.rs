//! Reading evaluation text: whole files (perplexity), one sentence per line (embeddings).

use std::path::Path;

use crate::{Error, Result};

/// Reads a UTF-8 text file; an unreadable, non-UTF-8 or empty file is an error naming it.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::format(
            path,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    if text.trim().is_empty() {
        return Err(Error::format(path, "the text file is empty"));
    }
    Ok(text)
}

/// The non-empty lines of a text file (trimmed), e.g. one sentence per line.
pub fn read_lines(path: &Path) -> Result<Vec<String>> {
    let lines: Vec<String> = read_text(path)?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    Ok(lines)
}

/// Splits text into sentences at `.`, `!`, `?` followed by whitespace (a simple rule that
/// suits encyclopedic prose; abbreviations like "e.g. x" may split).
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || (line.starts_with('=') && line.ends_with('=')) {
            continue;
        }
        let mut start = 0;
        let b = line.as_bytes();
        for i in 0..b.len() {
            if matches!(b[i], b'.' | b'!' | b'?') && (i + 1 == b.len() || b[i + 1] == b' ') {
                let s = line[start..=i].trim();
                if !s.is_empty() {
                    out.push(s.to_string());
                }
                start = i + 1;
            }
        }
        let s = line[start..].trim();
        if !s.is_empty() {
            out.push(s.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sentences_and_skips_titles() {
        let s = sentences("= Title =\nOne two. Three four! Five?\n\nSix 3.5 seven");
        assert_eq!(s, vec!["One two.", "Three four!", "Five?", "Six 3.5 seven"]);
    }

    #[test]
    fn bad_files_are_named() {
        let dir = std::env::temp_dir().join(format!("tj-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.txt");
        std::fs::write(&empty, "  \n").unwrap();
        let e = read_text(&empty).unwrap_err().to_string();
        assert!(e.contains("empty.txt") && e.contains("empty"), "{e}");
        let bin = dir.join("bin.txt");
        std::fs::write(&bin, [0xff, 0xfe, 0x00]).unwrap();
        assert!(read_text(&bin).unwrap_err().to_string().contains("UTF-8"));
        let missing = dir.join("missing.txt");
        assert!(read_text(&missing)
            .unwrap_err()
            .to_string()
            .contains("missing.txt"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
