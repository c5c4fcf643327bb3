//! Decode limits: what a file may make the decoder allocate.
//!
//! A container declares each tensor's shape in its table, and a CRC-32 is no defence
//! against a writer that lies (anyone can recompute it). Before anything is allocated, a
//! decoder checks the declared sizes against the bytes present:
//!
//! * fixed-rate codecs (`raw`, `f16`, `bf16`, `q8_0`, `q4_0`, `q4_1`, `svd`) need exactly
//!   the bytes their shape implies, chunk by chunk (each codec's decoder);
//! * entropy-coded codecs (`native`, `jpeg`, `zstd`) can legitimately store a constant
//!   tensor in a few bytes, so no per-byte bound exists for them; for every codec the
//!   whole file is held to the [`Limits`] below, which work like libpng's user limits or
//!   a zip-bomb ratio: at most [`Limits::max_elements`] values in one tensor, and at most
//!   `max(`[`FREE_VALUES`]`, `[`Limits::max_ratio`]` × file bytes / 4)` values in the
//!   whole file.
//!
//! With the defaults a file of 1 MB decodes to at most 256 Mi values (1 GiB as f32), and
//! a real model stored at ≥ 1/32 bit per value is never refused. Both caps are raised by
//! the CLI's `--max-elements` and `--max-ratio` flags (0 = no cap); see docs/SECURITY.md.
//!
//! Allocations whose size still comes from a file go through [`try_zeroed`], which
//! reports an allocation failure as an error instead of aborting the process.

use crate::error::{Error, Result};

/// Values a file may always decode to, whatever its size (64 Mi values = 256 MiB as f32).
pub const FREE_VALUES: u64 = 1 << 26;

/// Caps applied to every file before its tensors are allocated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Most values one tensor may declare (default 2^32); 0 = no cap.
    pub max_elements: u64,
    /// Most decoded f32 bytes per byte of file, for the whole file (default 1024, i.e.
    /// 1/32 bit per value on average); 0 = no cap. A file may always decode to
    /// [`FREE_VALUES`] values.
    pub max_ratio: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_elements: 1 << 32,
            max_ratio: 1024.0,
        }
    }
}

static INSTALLED: std::sync::RwLock<Option<Limits>> = std::sync::RwLock::new(None);

impl Limits {
    /// The limits [`crate::decompress`], [`crate::decompress_with`] and
    /// [`crate::container::Container::open`] apply: those given to [`Limits::install`], else
    /// the defaults.
    pub fn configured() -> Limits {
        INSTALLED.read().ok().and_then(|g| *g).unwrap_or_default()
    }

    /// Makes `self` the process-wide limits (a command line's `--max-elements` and
    /// `--max-ratio` flags reach every decoder this way, including those inside model
    /// loaders).
    pub fn install(self) {
        if let Ok(mut g) = INSTALLED.write() {
            *g = Some(self);
        }
    }

    /// No caps at all (for files this process wrote itself).
    pub fn unlimited() -> Self {
        Limits {
            max_elements: 0,
            max_ratio: 0.0,
        }
    }

    /// `None` if `values` is within [`Limits::max_elements`], else why not ("above the cap
    /// of C values (raise it with --max-elements N, 0 = no cap)"), for readers that name
    /// the file and what they counted.
    pub fn over_element_cap(&self, values: u64) -> Option<String> {
        (self.max_elements > 0 && values > self.max_elements).then(|| {
            format!(
                "above the cap of {} values (raise it with --max-elements N, 0 = no cap)",
                self.max_elements
            )
        })
    }

    /// Checks one tensor's declared number of values.
    pub fn check_tensor(&self, tensor: &str, shape: &[usize], values: u64) -> Result<()> {
        if self.max_elements > 0 && values > self.max_elements {
            return Err(Error::Limit(format!(
                "tensor '{tensor}' declares shape {shape:?} = {values} values, above the cap of \
                 {} values per tensor (raise it with --max-elements N, 0 = no cap)",
                self.max_elements
            )));
        }
        Ok(())
    }

    /// The most values a file of `file_bytes` may decode to in total (`u64::MAX` if
    /// uncapped).
    pub fn max_total(&self, file_bytes: usize) -> u64 {
        if self.max_ratio <= 0.0 || !self.max_ratio.is_finite() {
            return u64::MAX;
        }
        let by_ratio = self.max_ratio * file_bytes as f64 / 4.0;
        if by_ratio >= u64::MAX as f64 {
            u64::MAX
        } else {
            (by_ratio as u64).max(FREE_VALUES)
        }
    }

    /// Checks the whole file's declared number of values against [`Limits::max_total`].
    pub fn check_total(&self, values: u64, file_bytes: usize) -> Result<()> {
        let cap = self.max_total(file_bytes);
        if values > cap {
            return Err(Error::Limit(format!(
                "the tensors declare {values} values in all, from {file_bytes} bytes of file: \
                 more than {cap} (at most {} decoded bytes per stored byte, or {FREE_VALUES} \
                 values); a file that lies about its shapes, or one that needs --max-ratio R \
                 (0 = no cap)",
                self.max_ratio
            )));
        }
        Ok(())
    }
}

/// A vector of `n` default values, or an error (never an abort) if it cannot be allocated.
pub fn try_zeroed<T: Clone + Default>(n: usize, what: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        Error::Limit(format!(
            "{what}: cannot allocate {n} values ({} bytes)",
            n.saturating_mul(std::mem::size_of::<T>())
        ))
    })?;
    v.resize(n, T::default());
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps() {
        let l = Limits::default();
        assert!(l.check_tensor("a", &[64, 1 << 20], 64 << 20).is_ok());
        let e = l
            .check_tensor("w", &[64, 4294967295], 64 * 4294967295)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'w'") && e.contains("--max-elements"), "{e}");
        assert_eq!(l.max_total(10), FREE_VALUES);
        assert_eq!(l.max_total(1 << 20), 256 << 20);
        assert!(l.check_total(FREE_VALUES, 100).is_ok());
        assert!(l.check_total(FREE_VALUES + 1, 100).is_err());
        let u = Limits::unlimited();
        assert!(u.check_tensor("w", &[], u64::MAX).is_ok());
        assert!(u.check_total(u64::MAX, 1).is_ok());
    }

    #[test]
    fn allocation_failure_is_an_error() {
        assert!(try_zeroed::<f32>(usize::MAX / 2, "test").is_err());
        assert_eq!(try_zeroed::<f32>(3, "test").unwrap(), vec![0.0; 3]);
    }
}
