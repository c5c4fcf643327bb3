//! Codec specs: `NAME[:OPTION[:OPTION...]]` (`native:hadamard:block=256`, `jpeg:tworow`),
//! the grammar every tensor codec's configuration is written in.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A parsed codec spec: `NAME[:OPTION[:OPTION...]]`, where an option is a bare word
/// (`dct8x8`, `tworow`) or `key=value` (`deadzone=0.2`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CodecSpec {
    /// Base name, e.g. `native`.
    pub name: String,
    /// Bare-word options, in order.
    pub flags: Vec<String>,
    /// `key=value` options, in order.
    pub kv: Vec<(String, String)>,
}

impl CodecSpec {
    /// Parses `NAME[:OPT...]`.
    pub fn parse(s: &str) -> Result<Self> {
        let mut parts = s.trim().split(':');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        if name.is_empty() {
            return Err(Error::param(
                "codec spec",
                format!("'{s}'"),
                "NAME[:OPTION...]",
            ));
        }
        let mut spec = CodecSpec {
            name,
            ..Default::default()
        };
        for p in parts {
            let p = p.trim();
            if p.is_empty() {
                return Err(Error::param(
                    "codec spec",
                    format!("'{s}' (an empty option between ':')"),
                    "NAME[:OPTION...]",
                ));
            }
            match p.split_once('=') {
                Some((k, v)) => {
                    let k = k.trim().to_ascii_lowercase();
                    if k.is_empty() || v.trim().is_empty() || spec.get(&k).is_some() {
                        return Err(Error::param(
                            "codec option",
                            format!("'{p}' in '{s}'"),
                            "key=value, each key once",
                        ));
                    }
                    spec.kv.push((k, v.trim().to_string()))
                }
                None => {
                    let f = p.to_ascii_lowercase();
                    if spec.flags.contains(&f) {
                        return Err(Error::param(
                            "codec option",
                            format!("'{p}' repeated in '{s}'"),
                            "each option once",
                        ));
                    }
                    spec.flags.push(f)
                }
            }
        }
        Ok(spec)
    }

    /// Fails if more than one of the mutually exclusive `group` (e.g. the layouts) is given.
    pub fn check_exclusive(&self, what: &str, group: &[&str]) -> Result<()> {
        let given: Vec<&str> = self
            .flags
            .iter()
            .map(String::as_str)
            .filter(|f| group.contains(f))
            .collect();
        if given.len() > 1 {
            return Err(Error::param(
                "codec option",
                format!("{} for codec '{}'", given.join(" and "), self.name),
                format!("at most one {what} of [{}]", group.join(", ")),
            ));
        }
        Ok(())
    }
    /// The value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.kv
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// The value of `key` parsed as `T`, with a range-naming error.
    pub fn get_parsed<T: std::str::FromStr>(
        &self,
        key: &'static str,
        expected: &str,
    ) -> Result<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| Error::param(key, v, expected)),
        }
    }
    /// Fails if any option is not in the allowed lists (catches typos).
    pub fn check_allowed(&self, flags: &[&str], keys: &[&str]) -> Result<()> {
        for f in &self.flags {
            if !flags.contains(&f.as_str()) {
                return Err(Error::param(
                    "codec option",
                    format!("'{f}' for codec '{}'", self.name),
                    format!(
                        "one of [{}] or key=value with key in [{}]",
                        flags.join(", "),
                        keys.join(", ")
                    ),
                ));
            }
        }
        for (k, _) in &self.kv {
            if !keys.contains(&k.as_str()) {
                return Err(Error::param(
                    "codec option",
                    format!("'{k}=' for codec '{}'", self.name),
                    format!("key in [{}]", keys.join(", ")),
                ));
            }
        }
        Ok(())
    }
}

/// `NAME`, then the bare-word options, then the `key=value` options, each after a `:`;
/// [`CodecSpec::parse`] reads it back to an equal value.
impl fmt::Display for CodecSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for flag in &self.flags {
            write!(f, ":{flag}")?;
        }
        for (k, v) in &self.kv {
            write!(f, ":{k}={v}")?;
        }
        Ok(())
    }
}

impl FromStr for CodecSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        CodecSpec::parse(s)
    }
}
