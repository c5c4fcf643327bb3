//! Outputs of the signal evaluation (`tensorjpeg signal eval`): results.json / results.csv
//! (every coded point, one row each), run.json (command, time, matched-rate comparisons, crop
//! legends), report.md (matched-rate tables, speed, digits), PSNR/MS-SSIM–rate plots per item
//! and side-by-side crops. Depends only on the types of [`super::row`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde_json::{json, Value};

use super::row::{Crops, Evaluation, Row};
use crate::report::plot::{self, Series};
use crate::report::{csv, num, write_atomic};

/// Columns of results.csv.
const COLUMNS: [&str; 16] = [
    "modality",
    "item",
    "codec",
    "config",
    "levels",
    "k",
    "reduction",
    "target_bits",
    "bytes",
    "bits_per_sample",
    "psnr_db",
    "ms_ssim",
    "encode_mps",
    "decode_mps",
    "accuracy",
    "series",
];

/// The plotted/compared series a row belongs to: the codec, with k for fitted codecs and the
/// latent coder for WaLLoC's configuration.
pub fn series_of(r: &Row) -> String {
    if r.modality == "digits" {
        // One curve across k per codec (and latent coder).
        return match r.codec.as_str() {
            "wpt-pca-latents" => {
                let coder = r.config.split_whitespace().nth(3).unwrap_or("?");
                format!("wpt-pca-latents {coder}")
            }
            c => c.to_string(),
        };
    }
    match (r.codec.as_str(), r.k) {
        ("walloc-linear", Some(k)) => {
            let coder = r.config.split_whitespace().nth(3).unwrap_or("?");
            format!("walloc-linear k={k} {coder}")
        }
        (c, Some(k)) => match r.levels {
            Some(j) => format!("{c} J={j} k={k}"),
            None => format!("{c} k={k}"),
        },
        (c, None) => c.to_string(),
    }
}

/// `y` at `x` on the piecewise-linear curve through `pts` (x on a log scale), if `x` lies
/// within the curve's range. Points are sorted by x first; for equal x the best y is kept.
pub fn interpolate(pts: &[(f64, f64)], x: f64) -> Option<f64> {
    let mut p: Vec<(f64, f64)> = pts
        .iter()
        .copied()
        .filter(|q| q.0 > 0.0 && q.0.is_finite() && q.1.is_finite())
        .collect();
    p.sort_by(|a, b| a.0.total_cmp(&b.0));
    for w in p.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if x >= x0 && x <= x1 {
            if x1 == x0 {
                return Some(y0.max(y1));
            }
            let t = (x.ln() - x0.ln()) / (x1.ln() - x0.ln());
            return Some(y0 + t * (y1 - y0));
        }
    }
    p.iter().find(|q| q.0 == x).map(|q| q.1)
}

fn points(rows: &[&Row], y: impl Fn(&Row) -> Option<f64>) -> Vec<(f64, f64)> {
    rows.iter()
        .filter_map(|r| y(r).map(|v| (r.bits_per_sample, v)))
        .collect()
}

/// Groups rows of one modality and item by series.
fn by_series<'a>(rows: &[&'a Row]) -> BTreeMap<String, Vec<&'a Row>> {
    let mut m: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        m.entry(series_of(r)).or_default().push(r);
    }
    m
}

fn f(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

/// The matched-rate table of one item: for every target rate, the best `wpt-pca` point
/// (over k), WaLLoC's linear configuration, and each peer's PSNR interpolated at our rate.
/// Returns the markdown and JSON rows.
fn matched(modality: &str, item: &str, rows: &[&Row], peers: &[&str]) -> (String, Vec<Value>) {
    let series = by_series(rows);
    let mut targets: Vec<f64> = rows.iter().filter_map(|r| r.target_bits).collect();
    targets.sort_by(f64::total_cmp);
    targets.dedup();
    let mut md = format!(
        "\n**{modality} `{item}`** — PSNR (dB) at matched rate; peers interpolated (log rate) at our achieved rate\n\n| target | ours best (J, k) | bits | PSNR | MS-SSIM | WaLLoC-linear (webp/rans) |"
    );
    for p in peers {
        let _ = write!(md, " {p} |");
    }
    for p in peers {
        let _ = write!(md, " Δ vs {p} |");
    }
    md += "\n|---|---|---|---|---|---|";
    md += &"---|".repeat(2 * peers.len());
    md.push('\n');
    let mut out = Vec::new();
    for t in targets {
        let ours = rows
            .iter()
            .filter(|r| r.codec == "wpt-pca" && r.target_bits == Some(t))
            .filter(|r| r.psnr_db.is_some())
            .max_by(|a, b| {
                a.psnr_db
                    .unwrap_or(f64::MIN)
                    .total_cmp(&b.psnr_db.unwrap_or(f64::MIN))
            });
        let Some(o) = ours else { continue };
        let walloc = rows
            .iter()
            .filter(|r| r.codec == "walloc-linear" && r.target_bits == Some(t))
            .filter_map(|r| r.psnr_db)
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))));
        let peer_psnr: Vec<Option<f64>> = peers
            .iter()
            .map(|p| {
                let pts: Vec<(f64, f64)> = series
                    .get(*p)
                    .map(|v| points(v, |r| r.psnr_db))
                    .unwrap_or_default();
                interpolate(&pts, o.bits_per_sample)
            })
            .collect();
        let _ = write!(
            md,
            "| {t} | J={} k={} | {:.3} | {} | {} | {} |",
            o.levels.unwrap_or(0),
            o.k.unwrap_or(0),
            o.bits_per_sample,
            f(o.psnr_db, 2),
            f(o.ms_ssim, 4),
            f(walloc, 2)
        );
        for p in &peer_psnr {
            let _ = write!(md, " {} |", f(*p, 2));
        }
        for p in &peer_psnr {
            let m = o.psnr_db.zip(*p).map(|(a, b)| a - b);
            let _ = write!(md, " {} |", m.map_or("–".into(), |m| format!("{m:+.2}")));
        }
        md.push('\n');
        let mut j = json!({
            "modality": modality, "item": item, "target_bits": t, "levels": o.levels, "k": o.k,
            "bits_per_sample": o.bits_per_sample, "psnr_db": o.psnr_db.map_or(Value::Null, num),
            "ms_ssim": o.ms_ssim.map_or(Value::Null, num),
            "walloc_linear_psnr_db": walloc.map_or(Value::Null, num),
        });
        for (p, v) in peers.iter().zip(&peer_psnr) {
            j[format!("{p}_psnr_db")] = v.map_or(Value::Null, num);
            j[format!("margin_vs_{p}_db")] =
                o.psnr_db.zip(*v).map_or(Value::Null, |(a, b)| num(a - b));
        }
        out.push(j);
    }
    (md, out)
}

fn plot_item(dir: &Path, modality: &str, item: &str, rows: &[&Row]) -> Result<()> {
    let series: Vec<Series> = by_series(rows)
        .into_iter()
        .filter(|(_, v)| v.iter().any(|r| r.psnr_db.is_some()))
        .map(|(label, v)| Series {
            label,
            points: points(&v, |r| r.psnr_db),
        })
        .collect();
    let unit = match modality {
        "image" => "bits per pixel (log scale)",
        "audio" => "bits per sample (log scale)",
        _ => "bits per voxel (log scale)",
    };
    plot::log_x(
        &dir.join(format!("{modality}-{item}-psnr.png")),
        &format!("{modality} {item}: PSNR vs rate"),
        (unit, "PSNR (dB)"),
        &series,
    )?;
    if rows.iter().any(|r| r.ms_ssim.is_some()) {
        let series: Vec<Series> = by_series(rows)
            .into_iter()
            .filter(|(_, v)| v.iter().any(|r| r.ms_ssim.is_some()))
            .map(|(label, v)| Series {
                label,
                points: points(&v, |r| r.ms_ssim),
            })
            .collect();
        plot::log_x(
            &dir.join(format!("{modality}-{item}-ms_ssim.png")),
            &format!("{modality} {item}: MS-SSIM vs rate"),
            (unit, "MS-SSIM"),
            &series,
        )?;
    }
    Ok(())
}

/// Side-by-side crops (a 160-pixel square, or less, around a quarter of the height and half
/// the width) of the original and each decoded image, 4-pixel white gaps.
fn write_crops(dir: &Path, c: &Crops) -> Result<Value> {
    let Crops {
        item,
        shape,
        original: orig,
        decoded: decs,
    } = c;
    let (ch, h, w) = (shape[0], shape[1], shape[2]);
    let side = 160.min(h).min(w);
    let top = (h / 4).saturating_sub(side / 2).min(h - side);
    let left = (w / 2).saturating_sub(side / 2).min(w - side);
    let n = decs.len() + 1;
    let (ow, gap) = (n * side + (n - 1) * 4, 4);
    let mut out = vec![255f32; ch * side * ow];
    let mut labels = vec![json!({"label": "original", "bits_per_pixel": Value::Null})];
    let tiles = std::iter::once(orig).chain(decs.iter().map(|d| &d.pixels));
    for (t, px) in tiles.enumerate() {
        let x0 = t * (side + gap);
        for c in 0..ch {
            for i in 0..side {
                for j in 0..side {
                    out[(c * side + i) * ow + x0 + j] = px[(c * h + top + i) * w + left + j];
                }
            }
        }
    }
    for d in decs {
        labels.push(json!({"label": d.label, "bits_per_pixel": num(d.bpp)}));
    }
    let path = dir.join(format!("crops-{item}.png"));
    tensorjpeg_io::write_png(&path, &out, &[ch, side, ow])?;
    Ok(
        json!({"file": path.file_name().map(|f| f.to_string_lossy().to_string()), "window": {"top": top, "left": left, "side": side}, "tiles": labels}),
    )
}

/// Writes every output of the evaluation `ev` into `dir` (which must exist): results.json,
/// results.csv, run.json, report.md, the plots and the crops. `command` is the command
/// line that started the run (program name first), recorded in report.md and run.json.
/// Returns report.md's text.
pub fn write(dir: &Path, command: &[String], ev: &Evaluation) -> Result<String> {
    let Evaluation {
        rows,
        crops,
        seconds,
        webp_lossy,
    } = ev;
    let json_rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            v["series"] = json!(series_of(r));
            for key in [
                "psnr_db",
                "ms_ssim",
                "encode_mps",
                "decode_mps",
                "accuracy",
                "bits_per_sample",
            ] {
                if v[key].as_f64().is_some_and(|x| !x.is_finite()) {
                    v[key] = Value::Null;
                }
            }
            v
        })
        .collect();
    let mut md = String::from("# Signal codec evaluation (seed 002)\n");
    let _ = writeln!(
        md,
        "\nCommand: `tensorjpeg {}` — {:.1} s. Lossy WebP {}.\n",
        command
            .iter()
            .skip(1)
            .cloned()
            .collect::<Vec<_>>()
            .join(" "),
        seconds,
        if *webp_lossy {
            "included"
        } else {
            "not built (build with `--features webp`)"
        }
    );
    md += "Rates count whole files (headers included; the fitted basis is shared by both ends and not counted). \
            `wpt-pca` = WPT + PCA projection + uniform quantizer + tensorjpeg rANS (k chosen per rate); \
            WaLLoC-linear = WPT + 16× projection + Gaussian compander + lossless coder (best of WebP-lossless, PNG, rANS); \
            the decoder is linear (projection transpose + inverse WPT), not WaLLoC's neural decoder.\n";
    let mut summary = Vec::new();
    let mut items: Vec<(String, String)> = rows
        .iter()
        .filter(|r| r.modality != "digits")
        .map(|r| (r.modality.clone(), r.item.clone()))
        .collect();
    items.dedup();
    items.sort();
    items.dedup();
    for (m, item) in &items {
        let rs: Vec<&Row> = rows
            .iter()
            .filter(|r| &r.modality == m && &r.item == item)
            .collect();
        let peers: Vec<&str> = ["jpeg", "webp", "downsample", "pcm-rans"]
            .into_iter()
            .filter(|p| rs.iter().any(|r| r.codec == *p))
            .collect();
        let (t, j) = matched(m, item, &rs, &peers);
        md += &t;
        summary.extend(j);
        plot_item(dir, m, item, &rs)?;
    }
    // Speed: the fastest encode/decode per codec and modality.
    md += "\n## Speed (one thread, millions of positions per second; best point per codec)\n\n| modality | codec | encode | decode |\n|---|---|---|---|\n";
    let mut speed: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    for r in rows {
        let e = speed
            .entry((r.modality.clone(), series_of(r)))
            .or_insert((0.0, 0.0));
        e.0 = e.0.max(r.encode_mps.unwrap_or(0.0));
        e.1 = e.1.max(r.decode_mps.unwrap_or(0.0));
    }
    for ((m, c), (e, d)) in &speed {
        if *e > 0.0 || *d > 0.0 {
            let _ = writeln!(md, "| {m} | {c} | {e:.1} | {d:.1} |");
        }
    }
    // Digits.
    let digits: Vec<&Row> = rows.iter().filter(|r| r.modality == "digits").collect();
    if !digits.is_empty() {
        md += "\n## Digits (3-NN, 70/30 split)\n\n| codec | config | reduction | bits per pixel | accuracy |\n|---|---|---|---|---|\n";
        for r in &digits {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.3} | {} |",
                r.codec,
                r.config,
                f(r.reduction, 0),
                r.bits_per_sample,
                f(r.accuracy, 4)
            );
        }
        let series: Vec<Series> = by_series(&digits)
            .into_iter()
            .map(|(label, v)| Series {
                label,
                points: points(&v, |r| r.accuracy),
            })
            .collect();
        plot::log_x(
            &dir.join("digits-accuracy.png"),
            "digits: 3-NN accuracy vs coded rate",
            ("bits per pixel (log scale)", "accuracy"),
            &series,
        )?;
    }
    let mut crop_json = Vec::new();
    for c in crops {
        crop_json.push(write_crops(dir, c)?);
    }
    let _ = writeln!(
        md,
        "\nCrops: {}",
        crops
            .iter()
            .map(|c| format!("crops-{}.png", c.item))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let doc = json!({
        "command": command,
        "seconds": seconds,
        "webp_lossy": webp_lossy,
        "matched_rate": summary,
        "crops": crop_json,
    });
    write_atomic(
        &dir.join("results.json"),
        serde_json::to_string_pretty(&json_rows)?.as_bytes(),
    )?;
    write_atomic(
        &dir.join("run.json"),
        serde_json::to_string_pretty(&doc)?.as_bytes(),
    )?;
    write_atomic(
        &dir.join("results.csv"),
        csv(&COLUMNS, &json_rows).as_bytes(),
    )?;
    write_atomic(&dir.join("report.md"), md.as_bytes())?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_in_log_rate() {
        let p = [(1.0, 30.0), (4.0, 40.0), (2.0, 35.0)];
        assert_eq!(interpolate(&p, 2.0), Some(35.0));
        assert!((interpolate(&p, 2f64.sqrt()).unwrap() - 32.5).abs() < 1e-9);
        assert_eq!(interpolate(&p, 0.5), None);
        assert_eq!(interpolate(&p, 5.0), None);
        assert_eq!(interpolate(&[(1.0, 3.0)], 1.0), Some(3.0));
    }
}
