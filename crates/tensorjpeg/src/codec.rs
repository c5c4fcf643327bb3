//! The codec seam: every way of storing a tensor — the native pipeline, the literal JPEG
//! backend, the baselines (casts, GGUF-style block quantizers, SVD, zstd) — is a [`Codec`].
//! The container stores the codec's name, its parameter bytes and its chunks; decoding looks
//! the name up in a [`Registry`].

use crate::error::{Error, Result};
pub use crate::spec::CodecSpec;

/// How the size/quality trade-off is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Rate {
    /// The codec's own default.
    #[default]
    Default,
    /// JPEG-like quality, 1..=100 (higher is better). See `docs/FORMAT.md` for the mapping.
    Quality(u8),
    /// Target all-in bits per value (reached by search; the achieved figure is reported).
    Bits(f64),
    /// Target signal-to-noise ratio in dB (reached by search; the achieved figure is reported).
    Snr(f64),
    /// A guaranteed bound on every element's absolute error (verified after decoding).
    MaxError(f64),
}

impl Rate {
    /// Parses `q=Q` (or `quality=Q`), `bits=B`, `snr=DB` or `maxerr=E` (or `max-error=E`),
    /// and checks the range ([`Rate::validate`]).
    pub fn parse(s: &str) -> Result<Rate> {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| Error::param("rate", s, "q=Q, bits=B, snr=DB or maxerr=E"))?;
        let x: f64 = v
            .trim()
            .parse()
            .map_err(|_| Error::param("rate", s, "a number after '='"))?;
        let rate = match k.trim() {
            "q" | "quality" => {
                if !(1.0..=100.0).contains(&x) || x.fract() != 0.0 {
                    return Err(Error::param("quality", v.trim(), "an integer 1..=100"));
                }
                Rate::Quality(x as u8)
            }
            "bits" => Rate::Bits(x),
            "snr" => Rate::Snr(x),
            "maxerr" | "max-error" => Rate::MaxError(x),
            _ => return Err(Error::param("rate kind", k, "bits, q, snr or maxerr")),
        };
        rate.validate()?;
        Ok(rate)
    }

    /// The form [`Rate::parse`] reads (`default` for [`Rate::Default`]).
    pub fn label(&self) -> String {
        match self {
            Rate::Default => "default".into(),
            Rate::Quality(q) => format!("q={q}"),
            Rate::Bits(b) => format!("bits={}", short(*b)),
            Rate::Snr(s) => format!("snr={}", short(*s)),
            Rate::MaxError(e) => format!("maxerr={}", short(*e)),
        }
    }

    /// Checks the parameter ranges, naming the valid range in the error.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Rate::Default => Ok(()),
            Rate::Quality(q) if (1..=100).contains(&q) => Ok(()),
            Rate::Quality(q) => Err(Error::param("quality", q, "1..=100")),
            Rate::Bits(b) if b.is_finite() && b > 0.0 && b <= 32.0 => Ok(()),
            Rate::Bits(b) => Err(Error::param("bits per value", b, "a number in (0, 32]")),
            Rate::Snr(s) if s.is_finite() && s > 0.0 && s <= 200.0 => Ok(()),
            Rate::Snr(s) => Err(Error::param("snr", s, "a number of dB in (0, 200]")),
            Rate::MaxError(e) if e.is_finite() && e > 0.0 => Ok(()),
            Rate::MaxError(e) => Err(Error::param("max error", e, "a finite number > 0")),
        }
    }
}

/// `x` as [`Rate::parse`] reads it, in exponent form when very small or large.
fn short(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-4 || x.abs() >= 1e6) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// What a codec produced for one tensor.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    /// Codec parameters needed to decode (stored in the tensor's header entry, checksummed).
    pub params: Vec<u8>,
    /// Independently decodable chunks, each checksummed by the container.
    pub chunks: Vec<Vec<u8>>,
    /// Measurements for reports, e.g. `("jpeg_header_bytes", 612.0)` or `("step", 0.01)`.
    pub stats: Vec<(String, f64)>,
}

impl Encoded {
    /// Bytes of parameters and chunks together (the container adds its own per-entry bytes).
    pub fn payload_bytes(&self) -> usize {
        self.params.len() + self.chunks.iter().map(Vec::len).sum::<usize>()
    }
}

/// One way of storing a float tensor.
///
/// `encode` sees the values as a row-major array of `shape`; `decode` must return exactly
/// `shape.iter().product()` values and must reject (never mis-decode) bytes it did not write.
/// Non-finite values never reach a codec: the container stores them as exceptions.
pub trait Codec: Send + Sync {
    /// The name stored in the container and looked up in the [`Registry`] (e.g. `"native"`).
    fn name(&self) -> &'static str;
    /// Encodes `values` (of `shape`) at `rate`.
    fn encode(&self, values: &[f32], shape: &[usize], rate: Rate) -> Result<Encoded>;
    /// Encodes `values` so that the whole stored entry — the container's record for it
    /// included — takes at most `budget.bits` bits, or as few as the codec can (the caller
    /// reports a miss). The default runs [`fit_budget`] over [`Codec::encode`]; a codec
    /// that searches its own step counts the record inside that search instead.
    fn encode_within(&self, values: &[f32], shape: &[usize], budget: &Budget) -> Result<Encoded> {
        fit_budget(self, values, shape, budget)
    }
    /// Decodes what `encode` produced.
    fn decode(&self, params: &[u8], chunks: &[&[u8]], shape: &[usize]) -> Result<Vec<f32>>;
    /// True if the codec's output is bit-exact (no rate applies).
    fn lossless(&self) -> bool {
        false
    }
    /// The tensor analysed once for a step-controlled rate, if this codec's rate is one
    /// quantizer step (the native codec): what a file-level allocator needs to give every
    /// tensor the same rate–distortion slope ([`crate::allocation`]). `None` otherwise.
    /// `axes`, if given, weights the squared error along rows and columns (the native
    /// codec stores them as scales; see `native/axes.rs`).
    fn step_search(
        &self,
        values: &[f32],
        shape: &[usize],
        axes: Option<&AxisWeights>,
    ) -> Option<Result<Box<dyn StepSearch>>> {
        let _ = (values, shape, axes);
        None
    }
}

/// Distortion weights along the rows and/or columns of a tensor's 2-D view (`rows =` the
/// product of all dimensions but the last, `cols =` the last). Each must be finite and
/// ≥ 0 with a positive sum; a zero weight gets the coarsest scale.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AxisWeights {
    /// One weight per row, or none.
    pub rows: Option<Vec<f32>>,
    /// One weight per column, or none.
    pub cols: Option<Vec<f32>>,
}

/// One tensor, analysed once, whose size and error are set by an absolute quantizer step
/// ([`Codec::step_search`]). Bits are the entropy coder's own cost estimate (within a few
/// bytes of the real size).
pub trait StepSearch: Send + Sync {
    /// The RMS of the tensor's coefficients: a natural unit for its step.
    fn unit(&self) -> f64;
    /// Estimated all-in bits of the stored entry at `step`, its record costed by `record`.
    fn bits_at(&self, step: f64, record: &dyn RecordCost) -> f64;
    /// Encodes at `step`.
    fn encode_at(&self, step: f64) -> Result<Encoded>;
    /// From now on, [`StepSearch::encode_at`] quantizes with error feedback through the
    /// layer's input statistics `gram` ([`crate::quant::feedback`]: GPTQ on the codec's own
    /// grid). Codecs that cannot say so.
    fn set_feedback(&mut self, gram: &crate::quant::feedback::Gram) -> Result<()> {
        let _ = gram;
        Err(Error::unsupported(
            "step search",
            "error feedback needs the native codec with the identity transform",
        ))
    }
    /// With feedback set: the layer's output error (`Σᵢ ΔWᵢ H ΔWᵢᵀ`, damped `H`) of the
    /// encoding at `step` with feedback over that without, on the calibration statistics —
    /// how much less each unit of plain quantization error costs this tensor. `None`
    /// without feedback.
    fn feedback_gain(&self, step: f64) -> Result<Option<f64>> {
        let _ = step;
        Ok(None)
    }
}

/// What the container stores for an entry beyond its codec's parameters and chunks: the
/// table record (name, dtype, shape, codec name, the parameter and chunk length fields,
/// chunk CRCs, exceptions).
pub trait RecordCost: Sync {
    /// Bytes of the record for parameters of `params` bytes and chunks of `chunks` bytes.
    fn bytes(&self, params: usize, chunks: &[usize]) -> usize;
}

/// An all-in size budget for one stored entry (`--bits` × the number of values).
#[derive(Clone, Copy)]
pub struct Budget<'a> {
    /// Bits the entry may take: record, parameters and chunks.
    pub bits: f64,
    /// What the record costs.
    pub record: &'a dyn RecordCost,
}

impl std::fmt::Debug for Budget<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget").field("bits", &self.bits).finish()
    }
}

impl Budget<'_> {
    /// All-in bytes of `enc` once stored.
    pub fn stored_bytes(&self, enc: &Encoded) -> usize {
        let lens: Vec<usize> = enc.chunks.iter().map(Vec::len).collect();
        enc.payload_bytes() + self.record.bytes(enc.params.len(), &lens)
    }

    /// All-in bits per value of `enc` for `n` values.
    pub fn bits_per_value(&self, enc: &Encoded, n: usize) -> f64 {
        self.stored_bytes(enc) as f64 * 8.0 / n.max(1) as f64
    }
}

/// Meets `budget` with any codec's own `Rate::Bits` search (which counts parameters and
/// chunks only): asks for the budget less a guess of the record — chunks of about 2^17
/// values with 3-byte length fields and a 24-byte parameter block — then, while the stored
/// entry is over budget, for a little less by the overshoot (at most four more times).
pub fn fit_budget<C: Codec + ?Sized>(
    codec: &C,
    values: &[f32],
    shape: &[usize],
    budget: &Budget,
) -> Result<Encoded> {
    if values.is_empty() {
        // Nothing to budget: the entry is its record.
        return codec.encode(values, shape, Rate::Default);
    }
    let n = values.len() as f64;
    let chunks = values.len().div_ceil(1 << 17).max(1);
    let guess = budget.record.bytes(24, &vec![1 << 14; chunks]) + 24;
    let mut target = (budget.bits / n - guess as f64 * 8.0 / n).max(1e-3);
    let mut enc = codec.encode(values, shape, Rate::Bits(target))?;
    for _ in 0..4 {
        let total = budget.stored_bytes(&enc) as f64 * 8.0;
        if total <= budget.bits || target <= 1e-3 {
            break;
        }
        target = (target - (total - budget.bits) / n - 1e-4).max(1e-3);
        enc = codec.encode(values, shape, Rate::Bits(target))?;
    }
    Ok(enc)
}

/// Builds a codec from a spec, or returns `None` if the name is not this factory's.
pub type CodecFactory = fn(&CodecSpec) -> Option<Result<Box<dyn Codec>>>;

/// Maps codec specs (for encoding) and stored names (for decoding) to codecs. Other crates
/// add their codecs (e.g. candle's K-quants) with [`Registry::with`].
#[derive(Clone)]
pub struct Registry {
    factories: Vec<CodecFactory>,
    names: Vec<&'static str>,
}

impl Registry {
    /// An empty registry.
    pub fn empty() -> Self {
        Registry {
            factories: Vec::new(),
            names: Vec::new(),
        }
    }
    /// Adds a factory answering to `names`.
    pub fn with(mut self, names: &[&'static str], f: CodecFactory) -> Self {
        self.factories.push(f);
        self.names.extend_from_slice(names);
        self
    }
    /// The codec names this registry knows.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }
    /// Builds the codec a spec string names.
    pub fn build(&self, spec: &str) -> Result<Box<dyn Codec>> {
        let parsed = CodecSpec::parse(spec)?;
        self.build_spec(&parsed)
    }
    /// Builds the codec a parsed spec names.
    pub fn build_spec(&self, spec: &CodecSpec) -> Result<Box<dyn Codec>> {
        for f in &self.factories {
            if let Some(r) = f(spec) {
                return r;
            }
        }
        Err(Error::UnknownCodec(
            spec.name.clone(),
            self.names.join(", "),
        ))
    }
}

/// Codecs registered by other crates for the whole process ([`register`]).
static REGISTERED: std::sync::RwLock<Vec<(&'static [&'static str], CodecFactory)>> =
    std::sync::RwLock::new(Vec::new());

/// Registers a codec factory answering to `names` for the whole process: from then on
/// [`crate::default_registry`] — and so [`crate::compress`] and [`crate::decompress`] — know
/// it. Crates with codecs outside this one (candle's K-quants in `tensorjpeg-io`) register
/// them this way, so one `decompress` reads every container. Registering the same factory
/// twice has no effect.
pub fn register(names: &'static [&'static str], factory: CodecFactory) {
    let mut r = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    if !r.iter().any(|(n, _)| *n == names) {
        r.push((names, factory));
    }
}

/// The codecs registered with [`register`], added to `registry`.
pub(crate) fn with_registered(mut registry: Registry) -> Registry {
    let r = REGISTERED.read().unwrap_or_else(|e| e.into_inner());
    for (names, f) in r.iter() {
        registry = registry.with(names, *f);
    }
    registry
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("names", &self.names)
            .finish()
    }
}

#[cfg(test)]
mod rate_tests {
    use super::Rate;

    #[test]
    fn rates_parse_and_print_back() {
        for r in [
            Rate::Quality(95),
            Rate::Bits(4.5),
            Rate::Snr(30.0),
            Rate::MaxError(1e-3),
            Rate::MaxError(1e-300),
            Rate::Bits(1e-5),
        ] {
            assert_eq!(Rate::parse(&r.label()).unwrap(), r);
        }
        for bad in ["q=0", "q=101", "q=9.5", "bits=-1", "x=1", "q", "q=abc"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
        assert!(Rate::parse("q=101")
            .unwrap_err()
            .to_string()
            .contains("1..=100"));
    }
}
