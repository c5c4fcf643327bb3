//! Rate–distortion plots (PNG, plotters). Text needs a TrueType font: the DejaVu fonts that
//! `scripts/fetch-assets.sh` installs (Debian `fonts-dejavu-core`), or `TENSORJPEG_FONT`.
//! Without one the plot is drawn without text, and the CSV beside it has every number.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

/// One named series of (x, y) points.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points, in drawing order.
    pub points: Vec<(f64, f64)>,
}

fn font_loaded() -> bool {
    static LOADED: OnceLock<bool> = OnceLock::new();
    *LOADED.get_or_init(|| {
        let mut candidates: Vec<String> = std::env::var("TENSORJPEG_FONT").into_iter().collect();
        candidates.extend(
            [
                "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                "/usr/share/fonts/TTF/DejaVuSans.ttf",
                "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
                "/Library/Fonts/Arial.ttf",
            ]
            .map(String::from),
        );
        for c in candidates {
            if let Ok(bytes) = std::fs::read(&c) {
                let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, leaked).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// A chart builder on `root`: margins, and with text the title and label areas (`y_label`
/// pixels for the y labels); without a font, no text areas.
fn builder<'a, 'b>(
    root: &'a DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>,
    title: &str,
    text: bool,
    y_label: u32,
) -> ChartBuilder<'a, 'b, BitMapBackend<'b>> {
    let mut b = ChartBuilder::on(root);
    b.margin(20);
    if text {
        b.caption(title, ("sans-serif", 22))
            .x_label_area_size(45)
            .y_label_area_size(y_label);
    } else {
        b.x_label_area_size(5).y_label_area_size(5);
    }
    b
}

/// Ten more colours for charts with many series (drawn with square markers).
const MORE_COLORS: [RGBColor; 10] = [
    RGBColor(0, 0, 0),
    RGBColor(178, 0, 0),
    RGBColor(0, 0, 160),
    RGBColor(0, 110, 0),
    RGBColor(120, 0, 140),
    RGBColor(190, 110, 0),
    RGBColor(0, 120, 120),
    RGBColor(90, 90, 90),
    RGBColor(160, 0, 90),
    RGBColor(90, 60, 0),
];

/// Draws SNR (dB) against bits per value, with the Gaussian Shannon bound `6.02·R` and the
/// entropy-coded scalar quantizer line `6.02·R − 1.53`.
pub fn rate_distortion(path: &Path, title: &str, series: &[Series]) -> Result<()> {
    let text = font_loaded();
    let pts = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| p.0.is_finite() && p.1.is_finite());
    let (mut xmax, mut ymax, mut ymin) = (1.0f64, 10.0f64, 0.0f64);
    for &(x, y) in pts {
        xmax = xmax.max(x);
        ymax = ymax.max(y);
        ymin = ymin.min(y);
    }
    let xmax = (xmax * 1.05).min(34.0);
    let ymax = ymax * 1.08 + 1.0;
    let mut pixels = vec![0u8; 1000 * 700 * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (1000, 700)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let mut chart = builder(&root, title, text, 60)
            .build_cartesian_2d(0f64..xmax, ymin..ymax)
            .map_err(|e| anyhow!("plot: {e}"))?;
        if text {
            chart
                .configure_mesh()
                .x_desc("all-in bits per value")
                .y_desc("SNR (dB)")
                .draw()
                .map_err(|e| anyhow!("plot: {e}"))?;
        } else {
            chart
                .configure_mesh()
                .disable_x_mesh()
                .disable_y_mesh()
                .draw()
                .map_err(|e| anyhow!("plot: {e}"))?;
        }
        let bound: Vec<(f64, f64)> = (0..=100)
            .map(|i| i as f64 * xmax / 100.0)
            .map(|r| (r, 6.0206 * r))
            .filter(|p| p.1 <= ymax)
            .collect();
        let ecsq: Vec<(f64, f64)> = bound.iter().map(|&(r, y)| (r, y - 1.53)).collect();
        let s = chart
            .draw_series(LineSeries::new(bound, BLACK.stroke_width(2)))
            .map_err(|e| anyhow!("plot: {e}"))?;
        if text {
            s.label("Shannon bound, Gaussian (6.02 R)")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        }
        let s = chart
            .draw_series(LineSeries::new(
                ecsq,
                RGBColor(160, 160, 160).stroke_width(1),
            ))
            .map_err(|e| anyhow!("plot: {e}"))?;
        if text {
            s.label("ECSQ high-rate (6.02 R - 1.53)").legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], RGBColor(160, 160, 160))
            });
        }
        for (i, se) in series.iter().enumerate() {
            let c = COLORS[i % COLORS.len()];
            let p: Vec<(f64, f64)> = se
                .points
                .iter()
                .copied()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(p.clone(), c.stroke_width(2)))
                .map_err(|e| anyhow!("plot: {e}"))?;
            let s = chart
                .draw_series(p.iter().map(|&xy| Circle::new(xy, 4, c.filled())))
                .map_err(|e| anyhow!("plot: {e}"))?;
            if text {
                s.label(se.label.clone())
                    .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
            }
        }
        if text {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(|e| anyhow!("plot: {e}"))?;
        }
        root.present()
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    }
    save_png(path, &pixels, 1000, 700)
}

/// One named series of (x, y, error) points; the error is drawn as a bar of ± error.
pub struct ErrSeries {
    /// Legend label.
    pub label: String,
    /// Points `(x, y, err)`, in drawing order.
    pub points: Vec<(f64, f64, f64)>,
}

/// A line chart with error bars and an optional horizontal reference line (e.g. the clean
/// model), for quantities measured against a codec setting such as JPEG quality.
pub fn lines(
    path: &Path,
    title: &str,
    (x_desc, y_desc): (&str, &str),
    series: &[ErrSeries],
    reference: Option<(&str, f64)>,
) -> Result<()> {
    let text = font_loaded();
    let finite = |p: &&(f64, f64, f64)| p.0.is_finite() && p.1.is_finite();
    let (mut xmin, mut xmax) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut ymin, mut ymax) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y, e) in series.iter().flat_map(|s| s.points.iter()).filter(finite) {
        let e = if e.is_finite() { e.abs() } else { 0.0 };
        xmin = xmin.min(x);
        xmax = xmax.max(x);
        ymin = ymin.min(y - e);
        ymax = ymax.max(y + e);
    }
    if let Some((_, y)) = reference.filter(|r| r.1.is_finite()) {
        ymin = ymin.min(y);
        ymax = ymax.max(y);
    }
    if !xmin.is_finite() {
        (xmin, xmax, ymin, ymax) = (0.0, 1.0, 0.0, 1.0);
    }
    let (dx, dy) = (
        (xmax - xmin).max(1e-9) * 0.04,
        (ymax - ymin).max(1e-9) * 0.08,
    );
    let mut pixels = vec![0u8; 1000 * 650 * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (1000, 650)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let mut chart = builder(&root, title, text, 70)
            .build_cartesian_2d((xmin - dx)..(xmax + dx), (ymin - dy)..(ymax + dy))
            .map_err(|e| anyhow!("plot: {e}"))?;
        let mut mesh = chart.configure_mesh();
        if text {
            mesh.x_desc(x_desc).y_desc(y_desc);
        } else {
            mesh.disable_x_mesh().disable_y_mesh();
        }
        mesh.draw().map_err(|e| anyhow!("plot: {e}"))?;
        if let Some((label, y)) = reference.filter(|r| r.1.is_finite()) {
            let grey = RGBColor(90, 90, 90);
            let s = chart
                .draw_series(DashedLineSeries::new(
                    [(xmin - dx, y), (xmax + dx, y)],
                    8,
                    5,
                    grey.stroke_width(2),
                ))
                .map_err(|e| anyhow!("plot: {e}"))?;
            if text {
                s.label(label.to_string())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey));
            }
        }
        for (i, se) in series.iter().enumerate() {
            let c = COLORS[i % COLORS.len()];
            let p: Vec<(f64, f64, f64)> = se.points.iter().filter(finite).copied().collect();
            chart
                .draw_series(LineSeries::new(
                    p.iter().map(|&(x, y, _)| (x, y)),
                    c.stroke_width(2),
                ))
                .map_err(|e| anyhow!("plot: {e}"))?;
            chart
                .draw_series(
                    p.iter()
                        .filter(|q| q.2.is_finite() && q.2 > 0.0)
                        .map(|&(x, y, e)| {
                            ErrorBar::new_vertical(x, y - e, y, y + e, c.stroke_width(1), 8)
                        }),
                )
                .map_err(|e| anyhow!("plot: {e}"))?;
            let s = chart
                .draw_series(
                    p.iter()
                        .map(|&(x, y, _)| Circle::new((x, y), 4, c.filled())),
                )
                .map_err(|e| anyhow!("plot: {e}"))?;
            if text {
                s.label(se.label.clone())
                    .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
            }
        }
        if text {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(|e| anyhow!("plot: {e}"))?;
        }
        root.present()
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    }
    save_png(path, &pixels, 1000, 650)
}

/// A quality measure (e.g. recall@10) against all-in bytes per vector, log-scaled x axis,
/// one line per codec family (points joined in x order).
pub fn quality_vs_bytes(path: &Path, title: &str, y_desc: &str, series: &[Series]) -> Result<()> {
    log_x(
        path,
        title,
        ("all-in bytes per vector (log scale)", y_desc),
        series,
    )
}

/// A measure against a positive quantity on a log-scaled x axis (e.g. PSNR against bits per
/// pixel), one line per series (points joined in x order).
pub fn log_x(
    path: &Path,
    title: &str,
    (x_desc, y_desc): (&str, &str),
    series: &[Series],
) -> Result<()> {
    let text = font_loaded();
    let ok = |p: &&(f64, f64)| p.0.is_finite() && p.0 > 0.0 && p.1.is_finite();
    let (mut xmin, mut xmax) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut ymin, mut ymax) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in series.iter().flat_map(|s| s.points.iter()).filter(ok) {
        xmin = xmin.min(x);
        xmax = xmax.max(x);
        ymin = ymin.min(y);
        ymax = ymax.max(y);
    }
    if !xmin.is_finite() {
        (xmin, xmax, ymin, ymax) = (1.0, 2.0, 0.0, 1.0);
    }
    let (xmin, xmax) = (xmin / 1.15, xmax * 1.15);
    let dy = (ymax - ymin).max(1e-3) * 0.05;
    let mut pixels = vec![0u8; 1100 * 700 * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (1100, 700)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let mut chart = builder(&root, title, text, 60)
            .build_cartesian_2d(
                (xmin..xmax)
                    .log_scale()
                    .with_key_points(log_ticks(xmin, xmax)),
                (ymin - dy)..(ymax + dy),
            )
            .map_err(|e| anyhow!("plot: {e}"))?;
        let mut mesh = chart.configure_mesh();
        if text {
            mesh.x_desc(x_desc).y_desc(y_desc).x_label_formatter(&|x| {
                if *x >= 10.0 {
                    format!("{x:.0}")
                } else {
                    format!("{x:.2}")
                }
            });
        } else {
            mesh.disable_x_mesh().disable_y_mesh();
        }
        mesh.draw().map_err(|e| anyhow!("plot: {e}"))?;
        for (i, se) in series.iter().enumerate() {
            let c = if i < COLORS.len() {
                COLORS[i]
            } else {
                MORE_COLORS[(i - COLORS.len()) % MORE_COLORS.len()]
            };
            let mut p: Vec<(f64, f64)> = se.points.iter().filter(ok).copied().collect();
            p.sort_by(|a, b| a.0.total_cmp(&b.0));
            // Beyond ten series the markers change shape as well as colour.
            let square = i >= COLORS.len();
            chart
                .draw_series(LineSeries::new(p.clone(), c.stroke_width(2)))
                .map_err(|e| anyhow!("plot: {e}"))?;
            let s = if square {
                chart.draw_series(p.iter().map(|&xy| {
                    EmptyElement::at(xy) + Rectangle::new([(-4, -4), (4, 4)], c.filled())
                }))
            } else {
                chart.draw_series(
                    p.iter()
                        .map(|&xy| EmptyElement::at(xy) + Circle::new((0, 0), 4, c.filled())),
                )
            }
            .map_err(|e| anyhow!("plot: {e}"))?;
            if text {
                s.label(se.label.clone()).legend(move |(x, y)| {
                    let line = PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3));
                    let mark: DynElement<BitMapBackend, (i32, i32)> = if square {
                        Rectangle::new([(x + 6, y - 4), (x + 14, y + 4)], c.filled()).into_dyn()
                    } else {
                        Circle::new((x + 10, y), 4, c.filled()).into_dyn()
                    };
                    EmptyElement::at((0, 0)) + line + mark
                });
            }
        }
        if text {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(|e| anyhow!("plot: {e}"))?;
        }
        root.present()
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    }
    save_png(path, &pixels, 1100, 700)
}

/// Tick positions on a log axis from `lo` to `hi`: 1-2-5 in each decade, or every
/// mantissa 1, 1.5, 2, 3, …, 9 when that gives fewer than four (a range within a decade,
/// such as 3.5–8.5 bits per weight, would otherwise have no tick at all).
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let within = |m: &[f64]| -> Vec<f64> {
        let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        (a..=b)
            .flat_map(|e| m.iter().map(move |&k| k * 10f64.powi(e)))
            .filter(|&x| x >= lo && x <= hi)
            .collect()
    };
    let coarse = within(&[1.0, 2.0, 5.0]);
    if coarse.len() >= 4 {
        coarse
    } else {
        within(&[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    }
}

/// Writes an RGB pixel buffer as a PNG, atomically and never over an input (see
/// `tensorjpeg_io::write_atomic`).
fn save_png(path: &Path, rgb: &[u8], w: usize, h: usize) -> Result<()> {
    let plane = w * h;
    let mut values = vec![0f32; 3 * plane];
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            values[c * plane + i] = f32::from(px[c]);
        }
    }
    let bytes = tensorjpeg_io::encode_png(&values, &[3, h, w])?;
    super::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::log_ticks;

    #[test]
    fn log_axes_always_have_ticks() {
        // Within one decade: every mantissa.
        assert_eq!(log_ticks(3.2, 8.6), vec![4.0, 5.0, 6.0, 7.0, 8.0]);
        // Over decades: 1-2-5.
        assert_eq!(
            log_ticks(12.0, 1600.0),
            vec![20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]
        );
    }
}
