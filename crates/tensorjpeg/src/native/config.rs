//! The native codec's configuration as a typed value ([`NativeConfig`]) — what a
//! `native:…` spec says, with a [`FromStr`]/[`Display`](fmt::Display) round trip — and the
//! parameter block stored with every tensor ([`Setup`]).

use std::fmt;
use std::str::FromStr;

use super::axes::AxisScales;
use crate::bytes::{ByteReader, ByteWriter};
use crate::codec::CodecSpec;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::quant::trellis::Trellis;
use crate::quant::Quantizer;
use crate::transform::klt::Klt;
use crate::transform::Transform;

const PARAMS_VERSION: u8 = 1;
/// The parameter block's version when per-row / per-column scales follow it.
const AXES_VERSION: u8 = 2;
/// The parameter block's version with a flags byte (axis scales, trellis quantization).
const FLAGS_VERSION: u8 = 3;
/// Seed of the Hadamard sign flips when the spec names none.
pub const DEFAULT_HADAMARD_SEED: u64 = 0x7e45_0a1b;
/// Tile side when the spec says `tiles` without `tile=`.
pub const DEFAULT_TILE: usize = 8;

/// Which transform the codec applies to each plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeTransform {
    /// None: coefficients are the values (the only choice under `--max-error`).
    Identity,
    /// JPEG's 2-D DCT on 8×8 blocks.
    Dct8x8,
    /// 1-D DCT along each row.
    Dct1d,
    /// Randomized Hadamard: sign flips drawn from `seed`, then Walsh–Hadamard blocks of
    /// `block` (a power of two 2..=65536; `None`: [`auto_hadamard_block`] of the row length).
    Hadamard {
        /// Seed of the sign flips.
        seed: u64,
        /// Block length.
        block: Option<usize>,
    },
    /// CDF 9/7 wavelet with `levels` levels (1..=8).
    Wavelet {
        /// Decomposition levels.
        levels: u8,
    },
    /// The KLT fitted on the tensor's rows, keeping `k` components (`None`: all), its basis
    /// stored as f16 if `f16`.
    Klt {
        /// Components kept.
        k: Option<usize>,
        /// Store the basis in f16.
        f16: bool,
    },
}

impl NativeTransform {
    /// The transform for a `rows × cols` tensor (fitting the KLT on `values`).
    pub fn resolve(&self, values: &[f32], rows: usize, cols: usize) -> Transform {
        match *self {
            NativeTransform::Identity => Transform::Identity,
            NativeTransform::Dct8x8 => Transform::Dct8x8,
            NativeTransform::Dct1d => Transform::Dct1d,
            NativeTransform::Hadamard { seed, block } => Transform::Hadamard {
                seed,
                block: block.unwrap_or_else(|| auto_hadamard_block(cols)),
            },
            NativeTransform::Wavelet { levels } => Transform::Wavelet { levels },
            NativeTransform::Klt { k, f16 } => {
                let k = k.unwrap_or(cols).min(cols).max(1);
                Transform::Klt(Klt::fit(values, rows, cols, k, f16))
            }
        }
    }

    /// The spec word of the transform (`identity`, `dct8x8`, …).
    pub fn name(&self) -> &'static str {
        match self {
            NativeTransform::Identity => "identity",
            NativeTransform::Dct8x8 => "dct8x8",
            NativeTransform::Dct1d => "dct1d",
            NativeTransform::Hadamard { .. } => "hadamard",
            NativeTransform::Wavelet { .. } => "wavelet",
            NativeTransform::Klt { .. } => "klt",
        }
    }
}

/// Default Hadamard block for rows of `cols`: the largest power of two dividing `cols`
/// (so rows need no padding, which would add coefficients), at most 1024; rows of odd length
/// fall back to blocks of 64 with padding.
pub fn auto_hadamard_block(cols: usize) -> usize {
    let p = 1usize << cols.max(1).trailing_zeros().min(10);
    if p >= 8 {
        p
    } else {
        64
    }
}

/// How the quantizer step varies inside a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StepMode {
    /// One step for the whole tensor.
    #[default]
    Tensor,
    /// One step per plane, scaled by the plane's RMS (a byte per plane; not with
    /// `--max-error`).
    Block,
}

/// Everything the native codec can be told: `native[:LAYOUT][:TRANSFORM][:key=value…]`
/// as a value. `NativeConfig::default()` is plain `native` (matrix layout, no transform,
/// round-to-nearest, one step per tensor).
#[derive(Debug, Clone, PartialEq)]
pub struct NativeConfig {
    /// How the 2-D view is cut into planes.
    pub layout: Layout,
    /// The transform applied to each plane.
    pub transform: NativeTransform,
    /// Dead-zone rounding offset θ in [0, 0.5) (see [`crate::quant`]).
    pub deadzone: f32,
    /// Reconstruction offset δ toward zero in [0, 0.5).
    pub recon: f32,
    /// One step per tensor or per plane.
    pub step: StepMode,
    /// Trellis-coded quantization ([`crate::quant::trellis`]) instead of scalar rounding,
    /// on a trellis of that many states (`tcq`, `tcq:states=N`).
    pub trellis: Option<Trellis>,
}

impl Default for NativeConfig {
    fn default() -> Self {
        NativeConfig {
            layout: Layout::Matrix,
            transform: NativeTransform::Identity,
            deadzone: 0.0,
            recon: 0.0,
            step: StepMode::Tensor,
            trellis: None,
        }
    }
}

impl NativeConfig {
    /// Parses a `native:…` spec (the name must be `native`).
    pub fn from_spec(spec: &CodecSpec) -> Result<Self> {
        if spec.name != "native" {
            return Err(Error::param("codec", &spec.name, "native"));
        }
        spec.check_allowed(
            &[
                "matrix", "rows", "tiles", "tworow", "identity", "dct8x8", "dct1d", "hadamard",
                "wavelet", "klt", "f16basis", "tcq",
            ],
            &[
                "deadzone", "recon", "step", "tile", "levels", "seed", "block", "k", "states",
            ],
        )?;
        spec.check_exclusive("layout", &["matrix", "rows", "tiles", "tworow"])?;
        spec.check_exclusive(
            "transform",
            &["identity", "dct8x8", "dct1d", "hadamard", "wavelet", "klt"],
        )?;
        let mut c = NativeConfig::default();
        let tile: usize = spec
            .get_parsed("tile", "an integer 1..=65536")?
            .unwrap_or(DEFAULT_TILE);
        for f in &spec.flags {
            match f.as_str() {
                "matrix" => c.layout = Layout::Matrix,
                "rows" => c.layout = Layout::Rows,
                "tiles" => c.layout = Layout::Tiles(tile),
                "tworow" => c.layout = Layout::TwoRow,
                "tcq" => {
                    let states: usize = spec
                        .get_parsed("states", "4, 8, 16, 32 or 64")?
                        .unwrap_or(4);
                    c.trellis = Some(
                        Trellis::with_states(states)
                            .ok_or_else(|| Error::param("states", states, "4, 8, 16, 32 or 64"))?,
                    );
                }
                "identity" => c.transform = NativeTransform::Identity,
                "dct8x8" => c.transform = NativeTransform::Dct8x8,
                "dct1d" => c.transform = NativeTransform::Dct1d,
                "hadamard" => {
                    c.transform = NativeTransform::Hadamard {
                        seed: spec
                            .get_parsed("seed", "an unsigned integer")?
                            .unwrap_or(DEFAULT_HADAMARD_SEED),
                        block: spec.get_parsed("block", "a power of two 2..=65536")?,
                    }
                }
                "wavelet" => {
                    c.transform = NativeTransform::Wavelet {
                        levels: spec.get_parsed("levels", "an integer 1..=8")?.unwrap_or(3),
                    }
                }
                "klt" => {
                    c.transform = NativeTransform::Klt {
                        k: spec.get_parsed("k", "a positive integer")?,
                        f16: spec.flags.iter().any(|f| f == "f16basis"),
                    }
                }
                _ => {}
            }
        }
        if c.trellis.is_none() && spec.get("states").is_some() {
            return Err(Error::unsupported(
                "native",
                "states= sets the trellis of tcq: add tcq",
            ));
        }
        if !matches!(c.layout, Layout::Tiles(_)) && spec.get("tile").is_some() {
            // `tile=` without `tiles` is accepted and ignored, as before; it still has to
            // be in range.
            if !(1..=65536).contains(&tile) {
                return Err(Error::param("tile", tile, "1..=65536"));
            }
        }
        c.deadzone = spec
            .get_parsed("deadzone", "a number in [0, 0.5)")?
            .unwrap_or(0.0);
        c.recon = spec
            .get_parsed("recon", "a number in [0, 0.5)")?
            .unwrap_or(0.0);
        c.step = match spec.get("step") {
            None | Some("tensor") => StepMode::Tensor,
            Some("block") => StepMode::Block,
            Some(v) => return Err(Error::param("step", v, "tensor or block")),
        };
        c.validate()?;
        Ok(c)
    }

    /// Checks every field's range, naming the valid one.
    pub fn validate(&self) -> Result<()> {
        if let Layout::Tiles(t) = self.layout {
            if !(1..=65536).contains(&t) {
                return Err(Error::param("tile", t, "1..=65536"));
            }
        }
        match self.transform {
            NativeTransform::Hadamard {
                block: Some(block), ..
            } if !(block.is_power_of_two() && (2..=65536).contains(&block)) => {
                return Err(Error::param("block", block, "a power of two 2..=65536"));
            }
            NativeTransform::Wavelet { levels } if !(1..=8).contains(&levels) => {
                return Err(Error::param("levels", levels, "1..=8"));
            }
            NativeTransform::Klt { k: Some(0), .. } => {
                return Err(Error::param("k", 0, "a positive integer"));
            }
            NativeTransform::Klt { .. }
                if !matches!(self.layout, Layout::Matrix | Layout::Rows) =>
            {
                return Err(Error::unsupported(
                    "native",
                    "the klt transform needs the matrix or rows layout",
                ));
            }
            _ => {}
        }
        for (what, v) in [("deadzone", self.deadzone), ("recon", self.recon)] {
            if !(0.0..0.5).contains(&v) {
                return Err(Error::param(what, v, "a number in [0, 0.5)"));
            }
        }
        Ok(())
    }
}

/// The spec [`NativeConfig::from_spec`] reads back to the same value: `native`, then the
/// layout and transform unless they are the defaults, then the non-default options.
impl fmt::Display for NativeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("native")?;
        match self.layout {
            Layout::Matrix => {}
            Layout::Tiles(t) if t == DEFAULT_TILE => f.write_str(":tiles")?,
            Layout::Tiles(t) => write!(f, ":tiles:tile={t}")?,
            l => write!(f, ":{}", l.name())?,
        }
        if self.transform != NativeTransform::Identity {
            write!(f, ":{}", self.transform.name())?;
        }
        match self.transform {
            NativeTransform::Hadamard { seed, block } => {
                if seed != DEFAULT_HADAMARD_SEED {
                    write!(f, ":seed={seed}")?;
                }
                if let Some(b) = block {
                    write!(f, ":block={b}")?;
                }
            }
            NativeTransform::Wavelet { levels } if levels != 3 => write!(f, ":levels={levels}")?,
            NativeTransform::Klt { k, f16 } => {
                if let Some(k) = k {
                    write!(f, ":k={k}")?;
                }
                if f16 {
                    f.write_str(":f16basis")?;
                }
            }
            _ => {}
        }
        if self.deadzone != 0.0 {
            write!(f, ":deadzone={}", self.deadzone)?;
        }
        if self.recon != 0.0 {
            write!(f, ":recon={}", self.recon)?;
        }
        if self.step == StepMode::Block {
            f.write_str(":step=block")?;
        }
        if let Some(tr) = self.trellis {
            f.write_str(":tcq")?;
            if tr != Trellis::FOUR {
                write!(f, ":states={}", tr.states())?;
            }
        }
        Ok(())
    }
}

impl FromStr for NativeConfig {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        NativeConfig::from_spec(&CodecSpec::parse(s)?)
    }
}

/// Everything the decoder needs, as stored in the tensor's parameter block: `u8 version,
/// u8 layout, varint tile, transform params, f32 step, f32 deadzone, f32 recon, u8
/// step_mode, varint chunk_target`, in version 3 `u8 flags` (bit 0 axis scales, bit 1
/// trellis quantization, bits 2–4 the trellis's `log2(states) − 2`), then in version 2 (or
/// 3 with bit 0) the axis scales.
pub(super) struct Setup {
    pub(super) layout: Layout,
    pub(super) transform: Transform,
    pub(super) quant: Quantizer,
    pub(super) per_block: bool,
    pub(super) chunk_target: usize,
    /// Per-row / per-column scales (version 2, or 3 with flag bit 0).
    pub(super) axes: Option<AxisScales>,
    /// Trellis-coded quantization (version 3 with flag bit 1; its states in bits 2–4).
    pub(super) trellis: Option<Trellis>,
}

impl Setup {
    /// The parameter block.
    pub(super) fn write(&self) -> Vec<u8> {
        let mut w = ByteWriter::new();
        // Version 1 unless axis scales or the trellis are stored: files without them keep
        // their bytes (version 2 when only axis scales are).
        w.u8(match (self.trellis.is_some(), self.axes.is_some()) {
            (true, _) => FLAGS_VERSION,
            (false, true) => AXES_VERSION,
            (false, false) => PARAMS_VERSION,
        });
        w.u8(self.layout.id());
        w.varint(match self.layout {
            Layout::Tiles(t) => t as u64,
            _ => 0,
        });
        self.transform.write_params(&mut w);
        w.f32(self.quant.step);
        w.f32(self.quant.deadzone);
        w.f32(self.quant.recon);
        w.u8(self.per_block as u8);
        w.varint(self.chunk_target as u64);
        if let Some(tr) = self.trellis {
            w.u8(u8::from(self.axes.is_some()) | 2 | (tr.code() << 2));
        }
        if let Some(a) = &self.axes {
            a.write(&mut w);
        }
        w.into_inner()
    }

    /// Reads a parameter block; anything out of range is an error.
    pub(super) fn read(p: &[u8]) -> Result<Setup> {
        let mut r = ByteReader::new(p, "native codec params");
        let v = r.u8()?;
        if !(PARAMS_VERSION..=FLAGS_VERSION).contains(&v) {
            return Err(Error::corrupt(format!(
                "native params version {v} (expected {PARAMS_VERSION} to {FLAGS_VERSION})"
            )));
        }
        let layout_id = r.u8()?;
        let tile = r.varint_max("tile", 65536)? as usize;
        let layout = Layout::from_id(layout_id, tile)?;
        let transform = Transform::read_params(&mut r)?;
        let step = r.f32()?;
        let deadzone = r.f32()?;
        let recon = r.f32()?;
        if !(step.is_finite()
            && step > 0.0
            && (0.0..0.5).contains(&deadzone)
            && (0.0..0.5).contains(&recon))
        {
            return Err(Error::corrupt(format!(
                "native quantizer step {step}, deadzone {deadzone}, recon {recon} out of range"
            )));
        }
        let per_block = match r.u8()? {
            0 => false,
            1 => true,
            x => return Err(Error::corrupt(format!("native step mode {x}"))),
        };
        let chunk_target = r.varint_max("chunk target", 1 << 30)? as usize;
        let flags = match v {
            FLAGS_VERSION => match r.u8()? {
                f if f & 2 != 0 && f >> 5 == 0 && Trellis::from_code(f >> 2).is_some() => f,
                f => return Err(Error::corrupt(format!("native params flags {f:#04x}"))),
            },
            AXES_VERSION => 1,
            _ => 0,
        };
        let axes = if flags & 1 != 0 {
            Some(AxisScales::read(&mut r)?)
        } else {
            None
        };
        r.finish()?;
        Ok(Setup {
            layout,
            transform,
            quant: Quantizer {
                step,
                deadzone,
                recon,
            },
            per_block,
            chunk_target: chunk_target.max(1),
            axes,
            trellis: if flags & 2 != 0 {
                Trellis::from_code(flags >> 2)
            } else {
                None
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_through_the_typed_config() {
        for spec in [
            "native",
            "native:rows",
            "native:tiles",
            "native:tiles:tile=16",
            "native:tworow:dct8x8",
            "native:dct1d:deadzone=0.2:recon=0.05",
            "native:hadamard",
            "native:hadamard:seed=7:block=256",
            "native:wavelet:levels=5",
            "native:rows:klt:k=8:f16basis",
            "native:step=block",
            "native:rows:tcq",
            "native:dct8x8:step=block:tcq",
            "native:tcq:states=32",
            "native:rows:tcq:states=8",
        ] {
            let c: NativeConfig = spec.parse().unwrap();
            assert_eq!(c.to_string(), spec, "display of {spec}");
            assert_eq!(c.to_string().parse::<NativeConfig>().unwrap(), c, "{spec}");
        }
        // Defaults spelled out parse to the same value and print canonically.
        let c: NativeConfig = "native:matrix:identity:step=tensor:levels=3"
            .parse()
            .unwrap();
        assert_eq!(c, NativeConfig::default());
        assert_eq!(c.to_string(), "native");
    }

    /// The trellis's state count travels in the flags byte; a count no decoder knows, or
    /// flag bits that mean nothing, are corrupt input.
    #[test]
    fn the_trellis_states_round_trip_and_bad_flags_are_refused() {
        let setup = |trellis| Setup {
            layout: Layout::Matrix,
            transform: Transform::Identity,
            quant: Quantizer::uniform(0.5),
            per_block: false,
            chunk_target: 1024,
            axes: None,
            trellis,
        };
        for &n in &Trellis::STATES {
            let tr = Trellis::with_states(n);
            let bytes = setup(tr).write();
            assert_eq!(Setup::read(&bytes).unwrap().trellis, tr, "{n} states");
        }
        // Four states: the flags byte is what it was before state counts existed.
        let four = setup(Some(Trellis::FOUR)).write();
        assert_eq!(*four.last().unwrap(), 2);
        for bad in [0u8, 1, 2 | (5 << 2), 2 | (7 << 2), 2 | 0x20, 0x80 | 2] {
            let mut b = four.clone();
            *b.last_mut().unwrap() = bad;
            let e = Setup::read(&b)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains("flags"), "{bad:#04x}: {e}");
        }
    }

    #[test]
    fn out_of_range_fields_are_named() {
        for (spec, what) in [
            ("native:tiles:tile=0", "tile"),
            ("native:hadamard:block=3", "block"),
            ("native:wavelet:levels=9", "levels"),
            ("native:klt:k=0", "k"),
            ("native:deadzone=0.5", "deadzone"),
            ("native:recon=-0.1", "recon"),
            ("native:step=row", "step"),
            ("native:tiles:klt", "klt"),
            ("native:tcq:states=12", "states"),
            ("native:states=8", "tcq"),
        ] {
            let e = spec.parse::<NativeConfig>().unwrap_err().to_string();
            assert!(e.contains(what), "{spec}: {e}");
        }
    }
}
