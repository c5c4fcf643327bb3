//! The probe's report: report.json (one row per setting), report.csv (the same columns),
//! run.json (command, model, timings, findings), report.md (tables, the seed's numbers side
//! by side, the two findings the issue asks for), PNG plots, and samples/ (every text).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde_json::{json, Value};

use super::measure::{batch_means_se, mean};
use super::plan::{Measured, Probe, Role};
use crate::report::plot::{lines, ErrSeries};
use crate::report::{csv, num, write_atomic};

/// Seed 003's reported cosines (GPT-2-large, its prompt, flattened embeddings).
pub const SEED_COSINES: [(u8, f64); 4] =
    [(95, 0.99878), (75, 0.96807), (25, 0.75703), (10, 0.5753)];

/// Positions per block for batch-means standard errors of per-token losses.
const SE_BLOCK: usize = 128;

fn row(m: &Measured, clean_ppl: f64) -> Value {
    let s = &m.setting;
    let g = &m.gen;
    let ppl = m.text.perplexity();
    json!({
        "setting": s.label(),
        "role": s.role.name(),
        "codec": s.codec,
        "quality": s.quality,
        "bits_per_value": s.bits_per_value.map(num),
        "bits_per_value_no_headers": s.bits_per_value_no_headers.map(num),
        "snr_db": s.snr_db.map(num),
        "cosine_mean": num(s.cosine_mean),
        "cosine_min": num(s.cosine_min),
        "prompt_cosine": num(s.prompt_cosine),
        "perplexity": num(ppl),
        "perplexity_rise": num(ppl / clean_ppl - 1.0),
        "nll_mean": num(mean(&m.text.nll)),
        "nll_se": num(batch_means_se(&m.text.nll, SE_BLOCK)),
        "kl": num(m.text.kl_mean()),
        "kl_se": num(batch_means_se(&m.text.kl, SE_BLOCK)),
        "top1_agreement": num(m.text.top1_agreement),
        "samples": g.samples,
        "length": num(g.length.mean),
        "distinct_1": num(g.distinct_1.mean),
        "distinct_2": num(g.distinct_2.mean),
        "distinct_2_std": num(g.distinct_2.std),
        "distinct_3": num(g.distinct_3.mean),
        "repeated_4gram_share": num(g.repeated_4gram_share.mean),
        "repeated_4gram_share_std": num(g.repeated_4gram_share.std),
        "longest_repeated_span": num(g.longest_repeated_span.mean),
        "longest_repeated_span_std": num(g.longest_repeated_span.std),
        "tokens_before_first_loop": num(g.tokens_before_first_loop.mean),
        "tokens_before_first_loop_std": num(g.tokens_before_first_loop.std),
        "loop_share": num(g.loop_share),
    })
}

/// CSV columns, in order (the keys of a report.json row).
const CSV_COLUMNS: [&str; 30] = [
    "setting",
    "role",
    "codec",
    "quality",
    "bits_per_value",
    "bits_per_value_no_headers",
    "snr_db",
    "cosine_mean",
    "cosine_min",
    "prompt_cosine",
    "perplexity",
    "perplexity_rise",
    "nll_mean",
    "nll_se",
    "kl",
    "kl_se",
    "top1_agreement",
    "samples",
    "length",
    "distinct_1",
    "distinct_2",
    "distinct_2_std",
    "distinct_3",
    "repeated_4gram_share",
    "repeated_4gram_share_std",
    "longest_repeated_span",
    "longest_repeated_span_std",
    "tokens_before_first_loop",
    "tokens_before_first_loop_std",
    "loop_share",
];

/// A quality and the relative perplexity rise it causes.
type QualityRise = Option<(u8, f64)>;

/// The 5 % finding: the lowest quality down to which every tested quality keeps
/// perplexity within 5 % of clean, and the first quality below it that does not.
fn threshold(codec: &[&Measured], clean_ppl: f64) -> (QualityRise, QualityRise) {
    let mut by_q: Vec<(u8, f64)> = codec
        .iter()
        .filter_map(|m| Some((m.setting.quality?, m.text.perplexity() / clean_ppl - 1.0)))
        .collect();
    by_q.sort_by_key(|x| std::cmp::Reverse(x.0));
    let mut last_ok = None;
    for &(q, rise) in &by_q {
        if rise > 0.05 {
            return (last_ok, Some((q, rise)));
        }
        last_ok = Some((q, rise));
    }
    (last_ok, None)
}

/// Paired difference of per-token NLL, codec − noise, at one quality: mean and its
/// batch-means standard error.
fn paired(codec: &Measured, noise: &Measured) -> (f64, f64) {
    let d: Vec<f64> = codec
        .text
        .nll
        .iter()
        .zip(&noise.text.nll)
        .map(|(a, b)| a - b)
        .collect();
    (mean(&d), batch_means_se(&d, SE_BLOCK))
}

struct Findings {
    text: String,
    json: Value,
}

fn findings(ms: &[Measured], codec_name: &str) -> Findings {
    let clean_ppl = ms[0].text.perplexity();
    let of =
        |role: Role| -> Vec<&Measured> { ms.iter().filter(|m| m.setting.role == role).collect() };
    let codec = of(Role::Codec);
    let noise = of(Role::Noise);
    let mut t = String::new();
    let (ok, bad) = threshold(&codec, clean_ppl);
    let thr = match (ok, bad) {
        (Some((q, r)), Some((qb, rb))) => format!(
            "Perplexity stays within 5 % of the clean model ({clean_ppl:.3}) down to quality {q} \
             ({:+.2} %); below it, at quality {qb}, it rises by {:+.1} %.",
            r * 100.0,
            rb * 100.0
        ),
        (None, Some((qb, rb))) => format!(
            "Perplexity rises by more than 5 % already at the highest quality tested ({qb}: {:+.1} %).",
            rb * 100.0
        ),
        (Some((q, r)), None) => format!(
            "Perplexity stays within 5 % of clean at every quality tested, down to {q} ({:+.2} %).",
            r * 100.0
        ),
        (None, None) => "No codec setting was measured.".to_string(),
    };
    let _ = writeln!(t, "- **5 % threshold ({codec_name})**: {thr}");
    let mut cmp = Vec::new();
    let (mut worse, mut better, mut same) = (0, 0, 0);
    for c in &codec {
        let Some(n) = noise
            .iter()
            .find(|n| n.setting.quality == c.setting.quality)
        else {
            continue;
        };
        let (d, se) = paired(c, n);
        let z = if se > 0.0 { d / se } else { f64::NAN };
        let verdict = if z > 3.0 {
            worse += 1;
            "codec worse"
        } else if z < -3.0 {
            better += 1;
            "codec better"
        } else {
            same += 1;
            "no significant difference"
        };
        cmp.push(json!({
            "quality": c.setting.quality,
            "cosine_codec": num(c.setting.cosine_mean),
            "cosine_noise": num(n.setting.cosine_mean),
            "perplexity_codec": num(c.text.perplexity()),
            "perplexity_noise": num(n.text.perplexity()),
            "kl_codec": num(c.text.kl_mean()),
            "kl_noise": num(n.text.kl_mean()),
            "delta_nll": num(d),
            "delta_nll_se": num(se),
            "verdict": verdict,
        }));
    }
    if !cmp.is_empty() {
        let _ = writeln!(
            t,
            "- **{codec_name} vs Gaussian noise at the same mean cosine**: per-token NLL \
             differences (paired over the same {} positions, standard errors by batch means of \
             {SE_BLOCK} tokens, |z| > 3 counted as a difference): the codec is worse at {worse}, \
             better at {better}, indistinguishable at {same} of {} qualities (table below).",
            ms[0].text.nll.len(),
            cmp.len()
        );
    }
    Findings {
        text: t,
        json: json!({
            "clean_perplexity": num(clean_ppl),
            "within_5_percent_down_to_quality": ok.map(|x| x.0),
            "first_quality_above_5_percent": bad.map(|x| x.0),
            "codec_vs_noise": cmp,
            "codec_worse_than_noise": worse,
            "codec_better_than_noise": better,
            "codec_same_as_noise": same,
        }),
    }
}

fn f(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        _ => "–".into(),
    }
}

fn markdown(probe: &Probe, fi: &Findings) -> String {
    let ms = &probe.measured;
    let a = &probe.config;
    let p = &probe.plan;
    let clean_ppl = ms[0].text.perplexity();
    let mut s = String::new();
    let _ = writeln!(s, "# Embedding-pathway probe (seed 003)\n");
    let _ = writeln!(s, "- model: {}", probe.model);
    let _ = writeln!(
        s,
        "- codec on the input embeddings: `{}` at qualities {:?}; controls: {}",
        a.codec,
        p.qualities,
        if !a.controls {
            "none".to_string()
        } else {
            format!(
                "Gaussian noise at the codec's mean cosine, `{}` at the codec's bits per value (headers excluded)",
                a.control_codec
            )
        }
    );
    let _ = writeln!(
        s,
        "- held-out text: last {} tokens of {} (windows of {} tokens)",
        probe.text_tokens,
        p.text.display(),
        a.ctx
    );
    let _ = writeln!(
        s,
        "- sampling: {} prompts × {} samples × ≤ {} new tokens, temperature {}, top-k {}, top-p {}, seed {} (sample i draws the same random stream under every setting)",
        p.prompts.len(),
        p.samples,
        p.sampling.max_tokens,
        p.sampling.temperature,
        p.sampling.top_k,
        p.sampling.top_p,
        p.sampling.seed
    );
    let t = &probe.timing;
    let _ = writeln!(
        s,
        "- time: {:.0} s in all (load {:.1}, tables {:.1}, perplexity {:.1} at {:.0} tokens/s, generation {:.1} at {:.0} sequence-steps/s)\n",
        t.total, t.load, t.tables, t.perplexity, t.perplexity_tokens_per_s, t.generation, t.generation_rows_per_s
    );
    let _ = writeln!(s, "## Findings\n\n{}", fi.text);
    let _ = writeln!(s, "## All settings\n");
    let _ = writeln!(
        s,
        "Cosine: per token over the whole vocabulary (mean, min) and seed 003's figure (the \
         flattened embeddings of the first prompt). Perplexity ± one standard error (batch \
         means). Generation statistics are means over all samples (± standard deviation).\n"
    );
    let _ = writeln!(
        s,
        "| setting | bits/value (all-in / no headers) | cosine mean / min | prompt cosine | perplexity | Δ ppl | KL (nats) | top-1 | distinct-2 | repeated 4-grams | longest repeat | tokens before loop | looped |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for m in ms.iter() {
        let st = &m.setting;
        let g = &m.gen;
        let ppl = m.text.perplexity();
        let se = batch_means_se(&m.text.nll, SE_BLOCK);
        let _ = writeln!(
            s,
            "| {} | {} / {} | {:.5} / {:.4} | {:.5} | {:.3} ± {:.3} | {:+.1} % | {:.4} | {:.3} | {:.3} ± {:.3} | {:.3} ± {:.3} | {:.1} ± {:.1} | {:.0} ± {:.0} | {:.0} % |",
            st.label(),
            f(st.bits_per_value, 3),
            f(st.bits_per_value_no_headers, 3),
            st.cosine_mean,
            st.cosine_min,
            st.prompt_cosine,
            ppl,
            ppl * se,
            (ppl / clean_ppl - 1.0) * 100.0,
            m.text.kl_mean(),
            m.text.top1_agreement,
            g.distinct_2.mean,
            g.distinct_2.std,
            g.repeated_4gram_share.mean,
            g.repeated_4gram_share.std,
            g.longest_repeated_span.mean,
            g.longest_repeated_span.std,
            g.tokens_before_first_loop.mean,
            g.tokens_before_first_loop.std,
            g.loop_share * 100.0
        );
    }
    if let Some(Value::Array(cmp)) = fi.json.get("codec_vs_noise") {
        let _ = writeln!(s, "\n## Codec vs noise at matched cosine\n");
        let _ = writeln!(
            s,
            "| quality | cosine codec / noise | perplexity codec / noise | KL codec / noise | Δ NLL codec − noise (nats/token) | verdict |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        for c in cmp {
            let g = |k: &str| c[k].as_f64();
            let _ = writeln!(
                s,
                "| {} | {} / {} | {} / {} | {} / {} | {} ± {} | {} |",
                c["quality"],
                f(g("cosine_codec"), 5),
                f(g("cosine_noise"), 5),
                f(g("perplexity_codec"), 3),
                f(g("perplexity_noise"), 3),
                f(g("kl_codec"), 4),
                f(g("kl_noise"), 4),
                f(g("delta_nll"), 4),
                f(g("delta_nll_se"), 4),
                c["verdict"].as_str().unwrap_or("")
            );
        }
    }
    let _ = writeln!(s, "\n## Seed 003's cosines beside ours\n");
    let _ = writeln!(
        s,
        "Seed 003 ran GPT-2-large (vocabulary 50,257, width 1,280) and printed one cosine per \
         run: its prompt's embeddings flattened, JPEG-processed vs original. Ours are for {} \
         ({}), same prompt and measure; widths differ, so the two-row images differ in size \
         (the JPEG block grid sees 2 × width/2 pixels).\n",
        probe.arch, probe.model
    );
    let _ = writeln!(
        s,
        "| quality | seed 003 (GPT-2-large) | ours: prompt cosine | ours: mean over vocabulary |"
    );
    let _ = writeln!(s, "|---|---|---|---|");
    for (q, c) in SEED_COSINES {
        let ours = ms
            .iter()
            .find(|m| m.setting.role == Role::Codec && m.setting.quality == Some(q));
        let _ = writeln!(
            s,
            "| {q} | {c} | {} | {} |",
            f(ours.map(|m| m.setting.prompt_cosine), 5),
            f(ours.map(|m| m.setting.cosine_mean), 5)
        );
    }
    let _ = writeln!(
        s,
        "\n## Files\n\n- report.json / report.csv: one row per setting; run.json: command, timings, findings\n- perplexity.png, kl.png, repetition.png, distinct2.png: against quality, controls on the same axes\n- samples/SETTING.txt: every generated text, by prompt and sample index"
    );
    s
}

fn plots(out: &Path, ms: &[Measured], codec_name: &str) -> Result<()> {
    let clean = &ms[0];
    let series = |y: &dyn Fn(&Measured) -> (f64, f64)| -> Vec<ErrSeries> {
        [Role::Codec, Role::Noise, Role::Control]
            .iter()
            .filter_map(|&role| {
                let pts: Vec<(f64, f64, f64)> = ms
                    .iter()
                    .filter(|m| m.setting.role == role)
                    .filter_map(|m| {
                        let (v, e) = y(m);
                        Some((f64::from(m.setting.quality?), v, e))
                    })
                    .collect();
                let first = ms.iter().find(|m| m.setting.role == role)?;
                let label = match role {
                    Role::Codec => codec_name.to_string(),
                    Role::Noise => "Gaussian noise, same cosine".into(),
                    _ => format!("{}, same bits", first.setting.codec),
                };
                Some(ErrSeries { label, points: pts })
            })
            .collect()
    };
    let lnppl = |m: &Measured| {
        let se = batch_means_se(&m.text.nll, SE_BLOCK);
        (
            mean(&m.text.nll) / std::f64::consts::LN_10,
            se / std::f64::consts::LN_10,
        )
    };
    lines(
        &out.join("perplexity.png"),
        "Perplexity on held-out text vs quality (± 1 s.e.)",
        ("codec quality", "log10 perplexity"),
        &series(&lnppl),
        Some(("clean model", lnppl(clean).0)),
    )?;
    let kl = |m: &Measured| (m.text.kl_mean(), batch_means_se(&m.text.kl, SE_BLOCK));
    lines(
        &out.join("kl.png"),
        "KL(clean || altered) of next-token distributions (± 1 s.e.)",
        ("codec quality", "KL, nats per token"),
        &series(&kl),
        Some(("clean model", 0.0)),
    )?;
    let rep = |m: &Measured| {
        (
            m.gen.repeated_4gram_share.mean,
            m.gen.repeated_4gram_share.std,
        )
    };
    lines(
        &out.join("repetition.png"),
        "Share of repeated 4-grams in samples (± 1 s.d. over samples)",
        ("codec quality", "repeated 4-gram share"),
        &series(&rep),
        Some(("clean model", rep(clean).0)),
    )?;
    let d2 = |m: &Measured| (m.gen.distinct_2.mean, m.gen.distinct_2.std);
    lines(
        &out.join("distinct2.png"),
        "Distinct bigrams / bigrams in samples (± 1 s.d. over samples)",
        ("codec quality", "distinct-2"),
        &series(&d2),
        Some(("clean model", d2(clean).0)),
    )?;
    Ok(())
}

fn samples(out: &Path, probe: &Probe) -> Result<()> {
    let ms = &probe.measured;
    let dir = out.join("samples");
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    for m in ms {
        let mut s = String::new();
        for (pi, texts) in m.texts.iter().enumerate() {
            for (i, t) in texts.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "=== prompt {} sample {i}\n{}{}\n",
                    pi + 1,
                    probe.plan.prompts[pi],
                    t
                );
            }
        }
        write_atomic(
            &dir.join(format!("{}.txt", m.setting.label())),
            s.as_bytes(),
        )?;
    }
    Ok(())
}

/// Writes every file of the report of `probe` into `out` (an existing directory).
pub fn write(out: &Path, probe: &Probe) -> Result<()> {
    let ms = &probe.measured;
    let clean_ppl = ms[0].text.perplexity();
    let rows: Vec<Value> = ms.iter().map(|m| row(m, clean_ppl)).collect();
    write_atomic(
        &out.join("report.json"),
        serde_json::to_string_pretty(&rows)?.as_bytes(),
    )?;
    write_atomic(&out.join("report.csv"), csv(&CSV_COLUMNS, &rows).as_bytes())?;
    let fi = findings(ms, &probe.config.codec);
    let t = &probe.timing;
    let run = json!({
        "command": probe.config.command,
        "model": probe.model,
        "codec": probe.config.codec,
        "control_codec": if probe.config.controls { json!(probe.config.control_codec) } else { Value::Null },
        "qualities": probe.plan.qualities,
        "prompts": probe.plan.prompts,
        "samples": probe.plan.samples,
        "max_tokens": probe.plan.sampling.max_tokens,
        "temperature": probe.plan.sampling.temperature,
        "top_k": probe.plan.sampling.top_k,
        "top_p": probe.plan.sampling.top_p,
        "seed": probe.plan.sampling.seed,
        "text": probe.plan.text.display().to_string(),
        "text_tokens": probe.text_tokens,
        "ctx": probe.config.ctx,
        "findings": fi.json,
        "seed_003_cosines": SEED_COSINES.iter().map(|(q, c)| json!({"quality": q, "cosine": c})).collect::<Vec<_>>(),
        "timing_s": {
            "load": t.load, "tables": t.tables, "perplexity": t.perplexity,
            "generation": t.generation, "total": t.total,
        },
        "perplexity_tokens_per_s": num(t.perplexity_tokens_per_s),
        "generated_tokens": t.generated_tokens,
        "generation_sequence_steps_per_s": num(t.generation_rows_per_s),
    });
    write_atomic(
        &out.join("run.json"),
        serde_json::to_string_pretty(&run)?.as_bytes(),
    )?;
    write_atomic(&out.join("report.md"), markdown(probe, &fi).as_bytes())?;
    plots(out, ms, &probe.config.codec)?;
    samples(out, probe)?;
    Ok(())
}
