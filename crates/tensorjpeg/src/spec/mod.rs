//! Every spec grammar, each a typed value with a [`FromStr`]/[`Display`](std::fmt::Display)
//! round trip:
//!
//! * [`CodecSpec`] — a tensor codec, `NAME[:OPTION…]` (`native:hadamard:block=256`); the
//!   native codec's options typed as [`crate::native::NativeConfig`];
//! * [`SpecRates`] — a codec at some rates, `SPEC[@KEY=V[/V…]]` (below);
//! * [`VectorSpec`] — a vector codec for embedding collections (`pq:m=48`, `klt:bytes=24`).
//!
//! "A codec at some rates": `SPEC[@KEY=V[/V…]]`, e.g.
//! `native:hadamard@bits=2/3/4`, `jpeg:tworow@q=95/75`, `q4_0` — what `sweep --codecs`
//! lists and what `--embed-codec` / `--weight-codec` take (one rate). `SPEC` is a
//! [`CodecSpec`] string, `KEY` one of [`Rate::parse`]'s keys (`q`,
//! `bits`, `snr`, `maxerr`). [`FromStr`] and [`Display`](std::fmt::Display) round-trip.

use std::fmt;
use std::str::FromStr;

use crate::codec::Rate;
use crate::error::{Error, Result};

mod codec;
mod vector;

pub use codec::CodecSpec;
pub use vector::{VectorSpec, FAMILIES};

/// A codec spec and the rates asked for it (none: the codec's defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct SpecRates {
    /// The codec spec (before `@`), trimmed.
    pub spec: String,
    /// The rates after `@`, in order; empty without `@`.
    pub rates: Vec<Rate>,
}

impl SpecRates {
    /// The one rate of a `SPEC[@RATE]` ([`Rate::Default`] without `@`); an error for a list.
    pub fn single(&self) -> Result<Rate> {
        match self.rates[..] {
            [] => Ok(Rate::Default),
            [r] => Ok(r),
            _ => Err(Error::param(
                "rate",
                format!("{} rates for '{}'", self.rates.len(), self.spec),
                "one rate (SPEC@KEY=V)",
            )),
        }
    }
}

impl FromStr for SpecRates {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        let Some((spec, list)) = s.split_once('@') else {
            return Ok(SpecRates {
                spec: s.to_string(),
                rates: Vec::new(),
            });
        };
        let (key, values) = list.split_once('=').ok_or_else(|| {
            Error::param(
                "rate list",
                format!("'{list}'"),
                "bits=..., q=..., snr=... or maxerr=...",
            )
        })?;
        let rates = values
            .split('/')
            .map(|v| Rate::parse(&format!("{key}={v}")))
            .collect::<Result<Vec<_>>>()?;
        Ok(SpecRates {
            spec: spec.trim().to_string(),
            rates,
        })
    }
}

impl fmt::Display for SpecRates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spec)?;
        let labels: Vec<String> = self.rates.iter().map(Rate::label).collect();
        let mut key: Option<&str> = None;
        for l in &labels {
            let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
            if key == Some(k) {
                write!(f, "/{v}")?;
            } else {
                // The parser gives one key per list; another key would start a new group.
                write!(f, "@{k}={v}")?;
                key = Some(k);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in [
            "native",
            "native:hadamard@bits=2/3/4",
            "jpeg:tworow@q=95/75",
            "svd@snr=20",
            "native@maxerr=0.001/0.01",
        ] {
            let p: SpecRates = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
            assert_eq!(p.to_string().parse::<SpecRates>().unwrap(), p);
        }
        let p: SpecRates = " jpeg @q=95/75".parse().unwrap();
        assert_eq!(p.spec, "jpeg");
        assert_eq!(p.rates, vec![Rate::Quality(95), Rate::Quality(75)]);
        assert_eq!(
            "q4_0".parse::<SpecRates>().unwrap().single().unwrap(),
            Rate::Default
        );
        assert_eq!(
            "jpeg@q=50".parse::<SpecRates>().unwrap().single().unwrap(),
            Rate::Quality(50)
        );
    }

    #[test]
    fn bad_lists_are_errors() {
        for s in ["jpeg@95", "jpeg@q=95/x", "jpeg@q=500", "native@speed=3"] {
            assert!(s.parse::<SpecRates>().is_err(), "{s}");
        }
        assert!("jpeg@q=95/75"
            .parse::<SpecRates>()
            .unwrap()
            .single()
            .is_err());
    }
}
