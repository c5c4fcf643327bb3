//! Plain-text tables for people.

/// Renders rows under a header with right-aligned numeric-looking cells.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut parts = Vec::new();
        for (i, c) in cells.iter().enumerate() {
            let numeric = c.parse::<f64>().is_ok() || *c == "inf";
            if i == 0 || !numeric {
                parts.push(format!("{c:<width$}", width = w[i]));
            } else {
                parts.push(format!("{c:>width$}", width = w[i]));
            }
        }
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    line(
        w.iter()
            .map(|&n| "-".repeat(n))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
        &mut out,
    );
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// Formats a float with `d` decimals, `inf` for infinity.
pub fn f(v: f64, d: usize) -> String {
    if v.is_infinite() {
        "inf".into()
    } else {
        format!("{v:.d$}")
    }
}

/// A plain-text table inside a Markdown code fence.
pub fn fenced(t: String) -> String {
    format!("```\n{t}```\n")
}
