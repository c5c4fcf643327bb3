//! Text sets for the embedding-compression evaluation (`tensorjpeg embed-eval`), with their
//! fixed, documented splits.
//!
//! - **enwiki** (neighbour preservation): sentences of `assets/text/enwiki.txt` split by
//!   [`tensorjpeg_models::text::sentences`], whitespace collapsed, at least 5 words, duplicates dropped,
//!   then `n` evenly spaced (candidate `⌊i·N/n⌋`). Row `i` is a query when `i % 12 == 0`,
//!   fits codecs when `i % 12 ∈ {1, 2}`, else is in the database (6,000 sentences: 500
//!   queries, 1,000 fit, 4,500 database).
//! - **bible** (paraphrase retrieval): `assets/bible/pairs.tsv` (`ref`, `web`, `kjv`);
//!   `fit` evenly spaced pairs (`⌊t·N/fit⌋`) are held out for fitting (both translations),
//!   the others are evaluated: WEB verse → its KJV verse among all evaluated KJV verses.

use std::path::Path;

use tensorjpeg_models::text::{read_text, sentences};
use tensorjpeg_models::{Error, Result};

/// Split of a sentence list into query / fit / database rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentenceSplit {
    /// Row indices of the queries.
    pub queries: Vec<usize>,
    /// Row indices the codecs fit on.
    pub fit: Vec<usize>,
    /// Row indices of the database.
    pub database: Vec<usize>,
}

/// `n` sentences of at least `min_words` words from `text`, evenly spaced over the
/// de-duplicated candidates (see the module documentation).
pub fn sample_sentences(text: &str, n: usize, min_words: usize) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let cand: Vec<String> = sentences(text)
        .into_iter()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| s.split(' ').count() >= min_words && seen.insert(s.clone()))
        .collect();
    let n = n.min(cand.len());
    (0..n).map(|i| cand[i * cand.len() / n].clone()).collect()
}

/// The enwiki sentences of `path` (`n` of them; fewer if the file has fewer) and their
/// split.
pub fn enwiki(path: &Path, n: usize) -> Result<(Vec<String>, SentenceSplit)> {
    let s = sample_sentences(&read_text(path)?, n, 5);
    if s.len() < 24 {
        return Err(Error::format(
            path,
            format!(
                "only {} sentences of ≥ 5 words: too few to split into queries, fit and database",
                s.len()
            ),
        ));
    }
    let pick = |f: &dyn Fn(usize) -> bool| (0..s.len()).filter(|&i| f(i)).collect();
    let split = SentenceSplit {
        queries: pick(&|i| i % 12 == 0),
        fit: pick(&|i| matches!(i % 12, 1 | 2)),
        database: pick(&|i| i % 12 > 2),
    };
    Ok((s, split))
}

/// Aligned verse pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairs {
    /// Verse references (e.g. `Genesis 1:1`).
    pub refs: Vec<String>,
    /// World English Bible text (the queries).
    pub web: Vec<String>,
    /// King James text (the documents).
    pub kjv: Vec<String>,
}

/// Reads `pairs.tsv` (header `ref\tweb\tkjv`); at most `limit` pairs, evenly spaced, when
/// given. Empty verses and ragged lines are errors naming the line.
pub fn bible(path: &Path, limit: Option<usize>) -> Result<Pairs> {
    let text = read_text(path)?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    if header.trim_end() != "ref\tweb\tkjv" {
        return Err(Error::format(
            path,
            format!("header {header:?}: expected \"ref<TAB>web<TAB>kjv\""),
        ));
    }
    let mut p = Pairs {
        refs: Vec::new(),
        web: Vec::new(),
        kjv: Vec::new(),
    };
    for (no, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 3 || f.iter().any(|s| s.trim().is_empty()) {
            return Err(Error::format(
                path,
                format!(
                    "line {}: expected three non-empty tab-separated fields",
                    no + 2
                ),
            ));
        }
        let clean = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        p.refs.push(f[0].to_string());
        p.web.push(clean(f[1]));
        p.kjv.push(clean(f[2]));
    }
    if let Some(l) = limit.filter(|&l| l < p.refs.len()) {
        let n = p.refs.len();
        let keep: Vec<usize> = (0..l).map(|i| i * n / l).collect();
        let take = |v: &[String]| keep.iter().map(|&i| v[i].clone()).collect::<Vec<_>>();
        p = Pairs {
            refs: take(&p.refs),
            web: take(&p.web),
            kjv: take(&p.kjv),
        };
    }
    if p.refs.len() < 4 {
        return Err(Error::format(path, "fewer than 4 verse pairs"));
    }
    Ok(p)
}

/// Indices of the `fit` held-out pairs (`⌊t·n/fit⌋`) and of the evaluated ones.
pub fn bible_split(n: usize, fit: usize) -> (Vec<usize>, Vec<usize>) {
    let fit = fit.min(n / 2);
    let held: Vec<usize> = (0..fit).map(|t| t * n / fit).collect();
    let mut is_held = vec![false; n];
    held.iter().for_each(|&i| is_held[i] = true);
    let eval = (0..n).filter(|&i| !is_held[i]).collect();
    (held, eval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_are_sampled_evenly_and_deduplicated() {
        let text = "= T =\nA b c d e. A b c d e. Short one. F g h i j k!\nL m n o p q?";
        let s = sample_sentences(text, 10, 5);
        assert_eq!(s, vec!["A b c d e.", "F g h i j k!", "L m n o p q?"]);
        assert_eq!(sample_sentences(text, 1, 5), vec!["A b c d e."]);
    }

    #[test]
    fn bible_split_holds_out_evenly() {
        let (held, eval) = bible_split(10, 3);
        assert_eq!(held, vec![0, 3, 6]);
        assert_eq!(eval, vec![1, 2, 4, 5, 7, 8, 9]);
    }

    #[test]
    fn bad_pair_files_are_named() {
        let dir = std::env::temp_dir().join(format!("tj-pairs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("p.tsv");
        std::fs::write(&f, "ref\tweb\tkjv\nGen 1:1\tIn the beginning\n").unwrap();
        let e = bible(&f, None).unwrap_err().to_string();
        assert!(e.contains("p.tsv") && e.contains("line 2"), "{e}");
        std::fs::write(&f, "a\tb\n").unwrap();
        assert!(bible(&f, None).unwrap_err().to_string().contains("header"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
