//! Codec *families* expanded over byte budgets: what a comparison at equal bytes asks for.
//!
//! `pq`, `opq` (one byte per sub-vector: `m = B`, where `B` divides the dimension), `pca`
//! (`k = B` int8 components), `klt` (all-in `B` bytes), `klt+search` (the same with the
//! coarse code that two-stage search scans), `jpeg-matrix` (the collection as one JPEG of at
//! most `B` bytes per vector); `jpeg` is seed 000's per-vector JPEG at its qualities (100 …
//! 5, numpy's truncating normalisation), whatever bytes they give; any other name is one
//! codec spec (`tensorjpeg::vectors::registry`), run once.

use tensorjpeg::vectors::registry::parse;
use tensorjpeg::Result;

/// The qualities seed 000 reports (its text: 95 … 75; its tables: 50 and 5).
pub const SEED_QUALITIES: [u8; 8] = [100, 95, 90, 75, 50, 25, 10, 5];

/// One codec to run: its spec, and the budget it was made for (`None`: fixed rate).
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// Codec spec for `tensorjpeg::vectors::registry::parse`.
    pub spec: String,
    /// The family it came from (the spec itself for a single codec).
    pub family: String,
    /// The bytes-per-vector budget it was made for.
    pub budget: Option<f64>,
}

/// Expands families over `budgets` for vectors of dimension `dim` (see the module
/// documentation). Budgets a family cannot meet exactly (a PQ `m` that does not divide
/// `dim`) are skipped and listed in the second return value, with the reason.
pub fn expand(
    families: &[String],
    budgets: &[f64],
    dim: usize,
) -> Result<(Vec<Planned>, Vec<String>)> {
    let mut plan = Vec::new();
    let mut skipped = Vec::new();
    for fam in families {
        let fam = fam.trim();
        let mut at = |spec: String, budget: Option<f64>| {
            plan.push(Planned {
                spec,
                family: fam.to_string(),
                budget,
            })
        };
        match fam {
            "pq" | "opq" | "pca" => {
                for &b in budgets {
                    let m = b as usize;
                    if b.fract() != 0.0
                        || m == 0
                        || m > dim
                        || (fam != "pca" && !dim.is_multiple_of(m))
                    {
                        skipped.push(format!(
                            "{fam} at {b} B: needs a whole number of bytes{} (dimension {dim})",
                            if fam == "pca" {
                                " ≤ the dimension"
                            } else {
                                " that divides the dimension"
                            }
                        ));
                        continue;
                    }
                    let spec = match fam {
                        "pca" => format!("pca:k={m}+int8"),
                        _ => format!("{fam}:m={m}"),
                    };
                    at(spec, Some(b));
                }
            }
            "klt" | "klt+search" => {
                for &b in budgets {
                    let search = if fam == "klt+search" { ":search" } else { "" };
                    at(format!("klt:bytes={b}{search}"), Some(b));
                }
            }
            "jpeg-matrix" => {
                for &b in budgets {
                    at(format!("jpeg:matrix:bytes={b}"), Some(b));
                }
            }
            "jpeg" => {
                for q in SEED_QUALITIES {
                    at(format!("jpeg:trunc:q={q}"), None);
                }
            }
            _ => {
                parse(fam)?;
                at(fam.to_string(), None);
            }
        }
    }
    for p in &plan {
        parse(&p.spec)?;
    }
    Ok((plan, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tensorjpeg::vectors::registry::FAMILIES;

    #[test]
    fn every_family_expands_to_codecs_that_parse() {
        let fams: Vec<String> = FAMILIES
            .split(" (")
            .next()
            .unwrap()
            .split(", ")
            .map(String::from)
            .collect();
        let (plan, skipped) = expand(&fams, &[32.0, 160.0], 384).unwrap();
        assert!(plan.iter().any(|p| p.spec == "opq:m=32"));
        assert!(plan.iter().any(|p| p.spec == "pca:k=160+int8"));
        assert!(plan.iter().any(|p| p.spec == "klt:bytes=160:search"));
        assert!(plan.iter().any(|p| p.spec == "jpeg:trunc:q=5"));
        // 160 does not divide 384: no PQ there, and it is said.
        assert!(!plan.iter().any(|p| p.spec == "pq:m=160"));
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        for p in &plan {
            assert!(parse(&p.spec).is_ok(), "{}", p.spec);
        }
    }

    #[test]
    fn unknown_families_are_errors() {
        assert!(expand(&["nonsense".into()], &[32.0], 384).is_err());
    }
}
