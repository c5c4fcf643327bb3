//! Which tensor of a file gets which codec: per-tensor rules, what stays exact by default,
//! and how a `--bits` budget is shared ([`Allocation`]). The CLI's `compress` and the model
//! sweep build their [`TensorPlan`]s here.
//!
//! Rules are `REGEX=SPEC[@RATE]` (the regex ends at the first '='; the first rule whose regex matches a tensor's name
//! decides; `SPEC` = `exact` stores it verbatim; without `@RATE` the command's rate
//! applies). Tensors no rule names follow the selection: by default a file that holds
//! matrices keeps its 1-D tensors (norms, biases) exact, as llama.cpp does — they are a
//! fraction of a percent of the values and the model is sensitive to them.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use regex::Regex;
use tensorjpeg::{Rate, Tensor, TensorPlan};

/// How a `--bits` budget is shared among the tensors the codec compresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Allocation {
    /// Every tensor gets the same bits per value.
    #[default]
    PerTensor,
    /// One budget for all of them at one rate–distortion slope: the least total squared
    /// error (see `tensorjpeg::allocation`).
    Global,
    /// One budget at one slope of the model-weighted error: the calibrated per-tensor and
    /// per-row/column importance of [`crate::sensitivity`] ([`PlanConfig::weights`],
    /// [`PlanConfig::axes`]).
    Weighted,
    /// [`Allocation::Weighted`], and every linear layer with a recorded `E[xxᵀ]`
    /// ([`PlanConfig::grams`]) quantized with error feedback (GPTQ on the codec's grid,
    /// `tensorjpeg::quant::feedback`; with `native:tcq`, inside the trellis search,
    /// `tensorjpeg::quant::trellis_feedback`).
    Gptq,
}

impl Allocation {
    /// The name used in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Allocation::PerTensor => "per-tensor",
            Allocation::Global => "global",
            Allocation::Weighted => "weighted",
            Allocation::Gptq => "gptq",
        }
    }

    /// Whether it needs a calibration (weighted, or weighted with error feedback).
    pub fn is_calibrated(self) -> bool {
        matches!(self, Allocation::Weighted | Allocation::Gptq)
    }
}

/// What a rule does with the tensors it matches.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleAction {
    /// Store verbatim.
    Exact,
    /// This codec, at this rate (the command's rate if `None`).
    Codec(String, Option<Rate>),
}

/// `REGEX=SPEC[@RATE]`.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Matched against tensor names.
    pub pattern: Regex,
    /// What happens to a matching tensor.
    pub action: RuleAction,
}

impl std::str::FromStr for Rule {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Rule> {
        // The first '=' ends the regex (write '=' inside one as \x3d): specs and rates
        // hold '=' of their own (`native:deadzone=0.2@bits=4`).
        let (re, what) = s
            .split_once('=')
            .with_context(|| format!("rule '{s}': expected REGEX=SPEC[@RATE]"))?;
        if re.is_empty() || what.is_empty() {
            bail!("rule '{s}': expected REGEX=SPEC[@RATE], both non-empty");
        }
        let pattern = Regex::new(re)
            .with_context(|| format!("rule '{s}': '{re}' is not a valid regular expression"))?;
        let action = if what == "exact" {
            RuleAction::Exact
        } else {
            match what.rsplit_once('@') {
                Some((spec, rate)) => RuleAction::Codec(
                    spec.to_string(),
                    Some(Rate::parse(rate).with_context(|| format!("rule '{s}'"))?),
                ),
                None => RuleAction::Codec(what.to_string(), None),
            }
        };
        Ok(Rule { pattern, action })
    }
}

/// Everything that decides a file's plan.
#[derive(Debug, Clone, Default)]
pub struct PlanConfig {
    /// The codec spec for tensors no rule names.
    pub codec: String,
    /// The rate.
    pub rate: Rate,
    /// How a `Rate::Bits` budget is shared.
    pub allocation: Allocation,
    /// Per-tensor rules, first match wins.
    pub rules: Vec<Rule>,
    /// Only tensors whose names match are compressed (others stay exact).
    pub include: Option<Regex>,
    /// Tensors whose names match stay exact.
    pub exclude: Option<Regex>,
    /// Only tensors of at least this many dimensions are compressed; `None`: 2 if the file
    /// holds any tensor of 2 or more dimensions, else 0.
    pub min_ndim: Option<usize>,
    /// Distortion weights by tensor name for [`Allocation::Global`] (1 if absent).
    pub weights: HashMap<String, f64>,
    /// Row/column weights by tensor name for [`Allocation::Global`] (none if absent).
    pub axes: HashMap<String, tensorjpeg::AxisWeights>,
    /// Input statistics `E[xxᵀ]` by tensor name for [`Allocation::Gptq`].
    pub grams: HashMap<String, std::sync::Arc<tensorjpeg::Gram>>,
    /// Pooled tensors whose values GGUF blocks hold exactly (a matrix of a Q4_0/Q4_1/Q8_0
    /// file) are offered to the allocation as they are, entropy-coded (`q4_1:packed` etc.):
    /// kept where lossy coding would save too little. `true` re-quantizes them like any
    /// other tensor (what every sweep before session 16 did).
    pub requantize: bool,
}

/// A file's plan: one [`TensorPlan`] per tensor and the pool's bits per value.
#[derive(Debug, Clone)]
pub struct FilePlan {
    /// One per tensor, in file order.
    pub tensors: Vec<TensorPlan>,
    /// The pooled tensors' all-in bits per value (with [`Allocation::Global`]).
    pub pool_bits: Option<f64>,
}

/// Calibration sentences (embedders) or tokens (language models) for a weighted plan.
pub const CALIBRATION_LIMIT: (usize, usize) = (512, 8192);

impl PlanConfig {
    /// Whether a float tensor passes the name and rank filters (`min_ndim` unset counts as
    /// `default_min_ndim`): what `compare` and `sweep` measure.
    pub fn selects(&self, t: &Tensor, default_min_ndim: usize) -> bool {
        t.dtype.is_float()
            && t.shape.len() >= self.min_ndim.unwrap_or(default_min_ndim)
            && self.include.as_ref().is_none_or(|r| r.is_match(&t.name))
            && !self.exclude.as_ref().is_some_and(|r| r.is_match(&t.name))
    }

    /// A weighted plan needs calibration text; no other plan takes one.
    pub fn check_calibration(&self, text: Option<&std::path::Path>) -> Result<()> {
        match (self.allocation.is_calibrated(), text) {
            (true, None) => bail!(
                "--allocate {} needs --calibration TEXT",
                self.allocation.name()
            ),
            (false, Some(_)) => bail!("--calibration is for --allocate weighted or gptq"),
            _ => Ok(()),
        }
    }

    /// A plan from command-line flags: the regexes compiled (a bad one is an error naming
    /// its flag), rules and allocation as given, no weights yet.
    pub fn from_flags(
        codec: &str,
        rate: Rate,
        (include, exclude, min_ndim): (Option<&str>, Option<&str>, Option<usize>),
        rules: Vec<Rule>,
        allocation: Allocation,
    ) -> Result<PlanConfig> {
        rate.validate().context("rate option")?;
        let compile = |flag: &str, s: Option<&str>| -> Result<Option<Regex>> {
            s.map(|p| {
                Regex::new(p)
                    .with_context(|| format!("--{flag} '{p}' is not a valid regular expression"))
            })
            .transpose()
        };
        Ok(PlanConfig {
            codec: codec.to_string(),
            rate,
            allocation,
            rules,
            include: compile("include", include)?,
            exclude: compile("exclude", exclude)?,
            min_ndim,
            ..Default::default()
        })
    }

    /// Fills the weights of an [`Allocation::Weighted`] plan from a calibration of the model
    /// in `file` on `text` ([`crate::sensitivity::calibrate_file`]). Errors if a weighted
    /// plan has no text or another plan has one.
    pub fn calibrate(
        &mut self,
        file: &std::path::Path,
        tensors: &[Tensor],
        text: Option<&std::path::Path>,
        progress: &dyn crate::Progress,
    ) -> Result<()> {
        self.check_calibration(text)?;
        let Some(text) = text else {
            return Ok(());
        };
        let limit = match crate::kind::ModelKind::of(file) {
            crate::kind::ModelKind::Embedder => CALIBRATION_LIMIT.0,
            crate::kind::ModelKind::LanguageModel => CALIBRATION_LIMIT.1,
        };
        let grams = self.allocation == Allocation::Gptq;
        let imp =
            crate::sensitivity::calibrate_file(file, tensors, text, limit, grams, progress)
                .with_context(|| format!("calibrating {} on {}", file.display(), text.display()))?;
        self.weights = imp.weights;
        self.axes = imp.axes;
        self.grams = imp.grams;
        Ok(())
    }

    /// The exact alternative a pooled tensor is offered ([`PlanConfig::requantize`]).
    fn keep(&self, t: &Tensor) -> Option<String> {
        if self.requantize {
            return None;
        }
        let kind = tensorjpeg::baselines::ggml_packed::exact_kind(t.values()?, &t.shape)?;
        Some(format!("{}:packed", kind.name()))
    }

    /// The plan for `tensors`. A global allocation needs `--bits`; a rule whose codec does
    /// not parse is an error naming the rule.
    pub fn plan(&self, tensors: &[Tensor], registry: &tensorjpeg::Registry) -> Result<FilePlan> {
        self.rate.validate().context("rate")?;
        registry
            .build(&self.codec)
            .with_context(|| format!("codec '{}'", self.codec))?;
        for r in &self.rules {
            if let RuleAction::Codec(spec, _) = &r.action {
                registry
                    .build(spec)
                    .with_context(|| format!("rule '{}={spec}'", r.pattern))?;
            }
        }
        let global = self.allocation != Allocation::PerTensor;
        let weighted = self.allocation.is_calibrated();
        let feedback = self.allocation == Allocation::Gptq;
        if weighted && self.weights.is_empty() && self.axes.is_empty() {
            // Calibration gave nothing to weight by.
            bail!("the weighted allocation needs a calibration (per-tensor weights)");
        }
        let pool_bits = match (global, self.rate) {
            (false, _) => None,
            (true, Rate::Bits(b)) => Some(b),
            (true, r) => bail!(
                "the global allocation shares a --bits budget; the rate is {}",
                r.label()
            ),
        };
        // Unless told otherwise, a file that holds matrices keeps its vectors exact.
        let default_min_ndim = if tensors.iter().any(|t| t.shape.len() >= 2) {
            2
        } else {
            0
        };
        let plans = tensors
            .iter()
            .map(|t| {
                if !t.dtype.is_float() {
                    return TensorPlan::Verbatim;
                }
                if let Some(r) = self.rules.iter().find(|r| r.pattern.is_match(&t.name)) {
                    return match &r.action {
                        RuleAction::Exact => TensorPlan::Verbatim,
                        RuleAction::Codec(spec, rate) => TensorPlan::Own {
                            codec: spec.clone(),
                            rate: rate.unwrap_or(self.rate),
                        },
                    };
                }
                match (self.selects(t, default_min_ndim), global) {
                    (false, _) => TensorPlan::Verbatim,
                    (true, false) => TensorPlan::Own {
                        codec: self.codec.clone(),
                        rate: self.rate,
                    },
                    (true, true) if weighted => TensorPlan::Pool {
                        codec: self.codec.clone(),
                        weight: self.weights.get(&t.name).copied().unwrap_or(1.0),
                        axes: self.axes.get(&t.name).cloned(),
                        gram: self
                            .grams
                            .get(&t.name)
                            .filter(|_| feedback)
                            .filter(|g| t.shape.len() == 2 && g.dim() == t.shape[1])
                            .cloned(),
                        keep: self.keep(t),
                    },
                    (true, true) => TensorPlan::Pool {
                        codec: self.codec.clone(),
                        weight: 1.0,
                        axes: None,
                        gram: None,
                        keep: self.keep(t),
                    },
                }
            })
            .collect();
        Ok(FilePlan {
            tensors: plans,
            pool_bits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, shape: Vec<usize>) -> Tensor {
        let n = shape.iter().product();
        Tensor::from_f32(name, shape, vec![0.5; n]).unwrap()
    }

    #[test]
    fn rules_parse() {
        let r: Rule = "attn\\.(q|k)=native@bits=6".parse().unwrap();
        assert!(r.pattern.is_match("layer.0.attn.q"));
        assert_eq!(
            r.action,
            RuleAction::Codec("native".into(), Some(Rate::Bits(6.0)))
        );
        let r: Rule = "norm=exact".parse().unwrap();
        assert_eq!(r.action, RuleAction::Exact);
        let r: Rule = "emb=q8_0".parse().unwrap();
        assert_eq!(r.action, RuleAction::Codec("q8_0".into(), None));
        let r: Rule = "a\\x3db=native:deadzone=0.2@q=90".parse().unwrap();
        assert!(r.pattern.is_match("a=b"));
        assert_eq!(
            r.action,
            RuleAction::Codec("native:deadzone=0.2".into(), Some(Rate::Quality(90)))
        );
        for bad in ["", "x", "=native", "x=", "(=native", "x=native@bits=-1"] {
            assert!(bad.parse::<Rule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn matrices_on_a_gguf_grid_are_offered_as_they_are_unless_requantized() {
        let reg = tensorjpeg::default_registry();
        let v: Vec<f32> = (0..64 * 96)
            .map(|i| ((i * 7919) % 211) as f32 * 1e-3)
            .collect();
        let q = reg.build("q4_1").unwrap();
        let e = q.encode(&v, &[64, 96], Rate::Default).unwrap();
        let chunks: Vec<&[u8]> = e.chunks.iter().map(Vec::as_slice).collect();
        let grid = q.decode(&e.params, &chunks, &[64, 96]).unwrap();
        let ts = vec![
            Tensor::from_f32("a.weight", vec![64, 96], grid).unwrap(),
            Tensor::from_f32("b.weight", vec![64, 96], v).unwrap(),
        ];
        let mut cfg = PlanConfig {
            codec: "native".into(),
            rate: Rate::Bits(4.0),
            allocation: Allocation::Global,
            ..Default::default()
        };
        let keeps = |cfg: &PlanConfig| -> Vec<Option<String>> {
            cfg.plan(&ts, &reg)
                .unwrap()
                .tensors
                .into_iter()
                .map(|p| match p {
                    TensorPlan::Pool { keep, .. } => keep,
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        assert_eq!(keeps(&cfg), vec![Some("q4_1:packed".to_string()), None]);
        cfg.requantize = true;
        assert_eq!(keeps(&cfg), vec![None, None]);
    }

    #[test]
    fn model_files_keep_vectors_exact_and_rules_win() {
        let ts = vec![
            t("emb.weight", vec![8, 4]),
            t("ln.weight", vec![4]),
            t("fc.weight", vec![4, 4]),
            t("fc.bias", vec![4]),
        ];
        let reg = tensorjpeg::default_registry();
        let mut cfg = PlanConfig {
            codec: "native".into(),
            rate: Rate::Bits(4.0),
            ..Default::default()
        };
        let p = cfg.plan(&ts, &reg).unwrap();
        assert!(matches!(p.tensors[0], TensorPlan::Own { .. }));
        assert_eq!(p.tensors[1], TensorPlan::Verbatim);
        assert_eq!(p.tensors[3], TensorPlan::Verbatim);
        // A lone vector is compressed.
        let p = cfg.plan(&ts[1..2], &reg).unwrap();
        assert!(matches!(p.tensors[0], TensorPlan::Own { .. }));
        cfg.rules = vec!["^emb=q8_0".parse().unwrap(), "fc=exact".parse().unwrap()];
        cfg.allocation = Allocation::Global;
        cfg.weights.insert("fc.weight".into(), 2.0);
        let p = cfg.plan(&ts, &reg).unwrap();
        assert_eq!(
            p.tensors[0],
            TensorPlan::Own {
                codec: "q8_0".into(),
                rate: Rate::Bits(4.0)
            }
        );
        assert_eq!(p.tensors[2], TensorPlan::Verbatim);
        assert_eq!(p.pool_bits, Some(4.0));
        cfg.rules.clear();
        let p = cfg.plan(&ts, &reg).unwrap();
        assert_eq!(
            p.tensors[2],
            TensorPlan::Pool {
                codec: "native".into(),
                weight: 1.0,
                axes: None,
                gram: None,
                keep: None,
            }
        );
        cfg.rate = Rate::Quality(90);
        assert!(cfg
            .plan(&ts, &reg)
            .unwrap_err()
            .to_string()
            .contains("--bits"));
        cfg.rate = Rate::Bits(4.0);
        cfg.rules = vec!["x=nosuch".parse().unwrap()];
        assert!(format!("{:#}", cfg.plan(&ts, &reg).unwrap_err()).contains("rule 'x=nosuch'"));
    }
}
