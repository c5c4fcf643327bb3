//! A persisted embedding collection (`.tjv`): a [`KltIndex`], the ids of its vectors, and
//! what it was built with — the file `tensorjpeg index` and the Python `Index` share.
//!
//! ```text
//! magic    8 bytes  "TJVINDEX"
//! version  u16      1
//! fit      varint   vectors the basis was fitted on
//! codec    str      the codec's name, e.g. "klt:bytes=96:search"
//! options  varint count, then (str key, str value) × count: the options it was built with
//! writer   str      the program that wrote the file, e.g. "tensorjpeg 0.1.0"
//! ids      u8 kind  0: none (a vector's id is its position), 1: integers, 2: text
//!          kind 1: varint count, svarint × count (each id minus the previous one, the
//!                  first minus 0); kind 2: varint count, str × count
//! index    blob     the KLT index (`TJVK`, with its own checksum; n may be 0)
//! crc      u32      CRC-32 (IEEE) of everything before it
//! ```
//!
//! The id count must equal the index's vector count. Strings are length-prefixed UTF-8 (a
//! varint length, checked against the bytes present). Reading checks the magic, the
//! version and the checksum first (the common [`crate::framing`]).

use std::collections::HashMap;

use super::klt::{AppendReport, KltFit, KltIndex, KltOptions, SearchOptions};
use super::{check_rows, VectorIndex};
use crate::bytes::ByteWriter;
use crate::framing;
use crate::{Error, Result};

/// The ids of a collection's vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ids {
    /// None stored: a vector's id is its position (0, 1, …).
    Positions,
    /// One integer per vector.
    Int(Vec<i64>),
    /// One string per vector.
    Text(Vec<String>),
}

/// One vector's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Id {
    /// An integer id (or the position, for a collection without ids).
    Int(i64),
    /// A text id.
    Text(String),
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Id::Int(i) => write!(f, "{i}"),
            Id::Text(s) => f.write_str(s),
        }
    }
}

impl Ids {
    /// What the ids are: `"positions"`, `"integers"` or `"text"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Ids::Positions => "positions",
            Ids::Int(_) => "integers",
            Ids::Text(_) => "text",
        }
    }

    /// The id of the vector at `pos`.
    pub fn get(&self, pos: usize) -> Id {
        match self {
            Ids::Positions => Id::Int(pos as i64),
            Ids::Int(v) => Id::Int(v[pos]),
            Ids::Text(v) => Id::Text(v[pos].clone()),
        }
    }

    /// Appends the ids of `added` vectors to a collection of `n`: `None` keeps positions
    /// as ids (only where no ids are stored); integer ids turn positions into integers;
    /// text ids are taken only by an empty collection.
    fn extend(&mut self, n: usize, added: usize, new: Option<Ids>) -> Result<()> {
        let mismatch = |have: &str, got: &str| {
            Error::param(
                "ids of the added vectors",
                got.to_string(),
                format!("{have}, like the collection's"),
            )
        };
        match (&mut *self, new) {
            (Ids::Positions, None) => Ok(()),
            // An empty collection (a fitted codebook) takes the kind of its first ids.
            (Ids::Positions, Some(Ids::Text(v))) if n == 0 => {
                *self = Ids::Text(v);
                Ok(())
            }
            (Ids::Positions, Some(Ids::Int(v))) => {
                let mut all: Vec<i64> = (0..n as i64).collect();
                all.extend(v);
                *self = Ids::Int(all);
                Ok(())
            }
            (Ids::Int(a), Some(Ids::Int(v))) => {
                a.extend(v);
                Ok(())
            }
            (Ids::Text(a), Some(Ids::Text(v))) => {
                a.extend(v);
                Ok(())
            }
            (have, None) => Err(mismatch(have.kind(), "none given")),
            (have, Some(got)) => Err(mismatch(have.kind(), got.kind())),
        }
        .and_then(|()| self.check(n + added))
    }

    /// Checks the count and that no id repeats (a repeated id would make search results
    /// ambiguous).
    fn check(&self, n: usize) -> Result<()> {
        let count = match self {
            Ids::Positions => return Ok(()),
            Ids::Int(v) => v.len(),
            Ids::Text(v) => v.len(),
        };
        if count != n {
            return Err(Error::param(
                "number of ids",
                count,
                format!("{n} (one per vector)"),
            ));
        }
        let repeated = match self {
            Ids::Positions => None,
            Ids::Int(v) => first_repeat(v.iter()).map(|(i, j)| (i, j, v[i].to_string())),
            Ids::Text(v) => first_repeat(v.iter()).map(|(i, j)| (i, j, v[i].clone())),
        };
        match repeated {
            Some((i, j, id)) => Err(Error::param(
                "ids",
                format!("id {id:?} at vectors {i} and {j}"),
                "every id once",
            )),
            None => Ok(()),
        }
    }
}

/// Positions of the first id seen twice.
fn first_repeat<'a, T: std::hash::Hash + Eq + 'a>(
    ids: impl Iterator<Item = &'a T>,
) -> Option<(usize, usize)> {
    let mut seen = HashMap::new();
    for (j, id) in ids.enumerate() {
        if let Some(&i) = seen.get(id) {
            return Some((i, j));
        }
        seen.insert(id, j);
    }
    None
}

/// A search hit: the vector's position, its id and its score (`q·x̂`; a cosine with the
/// reconstruction for a unit-norm collection).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Position of the vector in the collection.
    pub position: usize,
    /// Its id.
    pub id: Id,
    /// Its score.
    pub score: f32,
}

/// What a collection was built with (kept in its file).
#[derive(Debug, Clone, PartialEq)]
pub struct BuildInfo {
    /// Vectors the basis was fitted on.
    pub fit_vectors: u64,
    /// The codec's name.
    pub codec: String,
    /// The options it was built with, as `(key, value)` text.
    pub options: Vec<(String, String)>,
    /// The program that wrote the file.
    pub writer: String,
}

/// A persisted, searchable embedding collection (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    /// The compressed vectors.
    pub index: KltIndex,
    /// Their ids.
    pub ids: Ids,
    /// What it was built with.
    pub info: BuildInfo,
}

/// Options of [`Collection::build`].
#[derive(Debug, Clone, PartialEq)]
pub struct BuildOptions {
    /// All-in bytes per vector of the index (codebook amortised over the collection).
    pub bytes_per_vector: f64,
    /// Give the index a coarse code, so that search scans it and rescores a shortlist
    /// (the default; off: smaller, and every search decodes every vector).
    pub searchable: bool,
}

impl Collection {
    /// Fits the basis on `fit` (or on `vectors` when `None`), codes `vectors` (row-major,
    /// `dim` wide) at `opts.bytes_per_vector` all-in, and attaches `ids` (`None`: ids are
    /// positions).
    pub fn build(
        vectors: &[f32],
        dim: usize,
        fit: Option<&[f32]>,
        ids: Option<Ids>,
        opts: &BuildOptions,
    ) -> Result<Collection> {
        Self::build_with(vectors, dim, fit, ids, opts, false)
    }

    /// [`Collection::build`]; `exclude_codebook`: the rate counts each vector's bytes only
    /// ([`KltOptions::exclude_codebook`]).
    fn build_with(
        vectors: &[f32],
        dim: usize,
        fit: Option<&[f32]>,
        ids: Option<Ids>,
        opts: &BuildOptions,
        exclude_codebook: bool,
    ) -> Result<Collection> {
        let n = check_rows(vectors, dim, "vectors")?;
        let train = fit.unwrap_or(vectors);
        let fit_n = check_rows(train, dim, "fit set")?;
        let mut ko = KltOptions {
            bytes_per_vector: Some(opts.bytes_per_vector),
            exclude_codebook,
            ..KltOptions::default()
        };
        if opts.searchable {
            ko.coarse_components = KltOptions::SEARCH_COARSE_COMPONENTS;
        }
        let index = KltFit::fit(train, dim)?.encode(vectors, dim, &ko)?;
        let ids = ids.unwrap_or(Ids::Positions);
        ids.check(n)?;
        let codec = super::klt::KltCodec {
            opts: ko.clone(),
            search: SearchOptions::default(),
        };
        let options = vec![
            ("bytes_per_vector_target", opts.bytes_per_vector.to_string()),
            ("exponent", ko.exponent.to_string()),
            ("rounding", ko.rounding.to_string()),
            ("min_ratio", ko.min_ratio.to_string()),
            ("basis_precision", ko.basis_precision.to_string()),
            ("coarse_components", ko.coarse_components.to_string()),
            ("coarse_max_width", ko.coarse_max_width.to_string()),
            ("codebook_counted", (!exclude_codebook).to_string()),
        ];
        Ok(Collection {
            index,
            ids,
            info: BuildInfo {
                fit_vectors: fit_n as u64,
                codec: super::VectorCodec::name(&codec),
                options: options
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                writer: format!("tensorjpeg {}", env!("CARGO_PKG_VERSION")),
            },
        })
    }

    /// A codebook fitted on `train` (row-major, `dim` wide) — basis, quantizers and models —
    /// holding no vector: [`Collection::add`] codes vectors with it. What a sharded job
    /// fits once and broadcasts; collections grown from one codebook merge
    /// ([`KltIndex::extend_from`]). The rate is controlled on `train` with the codebook
    /// *not* counted: `opts.bytes_per_vector` is what each added vector costs (its code,
    /// stream and length), which the collection's all-in size approaches as it grows —
    /// counting the codebook against a small fit set would code every later vector far
    /// below the budget.
    pub fn fit(train: &[f32], dim: usize, opts: &BuildOptions) -> Result<Collection> {
        let mut c = Collection::build_with(train, dim, None, None, opts, true)?;
        c.index = c.index.codebook();
        Ok(c)
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when the collection holds no vector.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Dimension of the vectors.
    pub fn dim(&self) -> usize {
        self.index.dim()
    }

    /// Codes `vectors` with the collection's frozen codebook (never refitted) and appends
    /// them with their `ids` (which must be of the kind the collection has; `None` for a
    /// collection whose ids are positions). Nothing changes on an error.
    pub fn add(&mut self, vectors: &[f32], ids: Option<Ids>) -> Result<AppendReport> {
        if !vectors.is_empty() && !vectors.len().is_multiple_of(self.dim()) {
            return Err(Error::BadTensor {
                tensor: "added vectors".into(),
                msg: format!(
                    "{} values do not split into vectors of the collection's dimension {}",
                    vectors.len(),
                    self.dim()
                ),
            });
        }
        let added = vectors.len() / self.dim();
        let mut new_ids = self.ids.clone();
        new_ids.extend(self.len(), added, ids)?;
        // `append` checks everything before it changes the index.
        let rep = self.index.append(vectors)?;
        self.ids = new_ids;
        Ok(rep)
    }

    /// Appends the vectors and ids of `other`, which must share this collection's codebook
    /// (shards coded from one [`Collection::fit`]) and id kind, with no id in both. Nothing
    /// changes on an error.
    pub fn merge(&mut self, other: &Collection) -> Result<()> {
        let theirs = match &other.ids {
            Ids::Positions => None,
            ids => Some(ids.clone()),
        };
        let mut ids = self.ids.clone();
        ids.extend(self.len(), other.len(), theirs)?;
        // Checks the codebook before it changes anything.
        self.index.extend_from(&other.index)?;
        self.ids = ids;
        Ok(())
    }

    /// The `k` best vectors for each query (row-major, `dim()` wide), best first: a scan
    /// of the coarse codes and an exact rescoring of `shortlist` candidates per query
    /// (every vector, for an index without a coarse code). Queries run in parallel.
    pub fn search(&self, queries: &[f32], k: usize, shortlist: usize) -> Result<Vec<Vec<Hit>>> {
        use rayon::prelude::*;
        let dim = self.dim();
        if !queries.len().is_multiple_of(dim) {
            return Err(Error::BadTensor {
                tensor: "queries".into(),
                msg: format!(
                    "{} values do not split into queries of the collection's dimension {dim}",
                    queries.len()
                ),
            });
        }
        let opts = SearchOptions::shortlist(shortlist.max(k));
        queries
            .par_chunks(dim)
            .map(|q| {
                Ok(self
                    .index
                    .search_scored(q, k, &opts)?
                    .into_iter()
                    .map(|(p, score)| Hit {
                        position: p as usize,
                        id: self.ids.get(p as usize),
                        score,
                    })
                    .collect())
            })
            .collect()
    }

    /// Position of every id (for decoding by id).
    pub fn positions(&self) -> HashMap<Id, usize> {
        (0..self.len()).map(|p| (self.ids.get(p), p)).collect()
    }

    /// Decodes the vectors at `positions` into a row-major array.
    pub fn decode(&self, positions: &[usize]) -> Result<Vec<f32>> {
        let dim = self.dim();
        let mut out = vec![0.0f32; positions.len() * dim];
        for (&p, o) in positions.iter().zip(out.chunks_exact_mut(dim)) {
            if p >= self.len() {
                return Err(Error::param(
                    "vector position",
                    p,
                    format!("< {} (the collection's size)", self.len()),
                ));
            }
            self.index.decode(p, o)?;
        }
        Ok(out)
    }

    /// Decodes every vector (row-major).
    pub fn decode_all(&self) -> Result<Vec<f32>> {
        use rayon::prelude::*;
        let dim = self.dim();
        let mut out = vec![0.0f32; self.len() * dim];
        out.par_chunks_mut(dim)
            .enumerate()
            .try_for_each(|(p, o)| self.index.decode(p, o))?;
        Ok(out)
    }

    /// Serializes the collection (see the module documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = framing::EMBEDDING_INDEX.start();
        w.varint(self.info.fit_vectors);
        w.str(&self.info.codec);
        w.varint(self.info.options.len() as u64);
        for (k, v) in &self.info.options {
            w.str(k);
            w.str(v);
        }
        w.str(&self.info.writer);
        write_ids(&self.ids, &mut w);
        w.blob(&self.index.to_bytes());
        framing::Framing::seal(w)
    }

    /// Reads a collection written by [`Collection::to_bytes`]; errors (never panics) on a
    /// wrong magic, a newer version, a checksum mismatch or inconsistent contents.
    pub fn from_bytes(bytes: &[u8]) -> Result<Collection> {
        let mut r = framing::EMBEDDING_INDEX.open_sealed(bytes)?;
        let fit_vectors = r.varint()?;
        let codec = r.str()?.to_string();
        let count = r.len("option count")?;
        let mut options = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            options.push((r.str()?.to_string(), r.str()?.to_string()));
        }
        let writer = r.str()?.to_string();
        let ids = match r.u8()? {
            0 => Ids::Positions,
            1 => {
                let c = r.len("id count")?;
                let mut v = Vec::with_capacity(c);
                let mut prev = 0i64;
                for _ in 0..c {
                    prev = prev.wrapping_add(r.svarint()?);
                    v.push(prev);
                }
                Ids::Int(v)
            }
            2 => {
                let c = r.len("id count")?;
                let mut v = Vec::with_capacity(c);
                for _ in 0..c {
                    v.push(r.str()?.to_string());
                }
                Ids::Text(v)
            }
            k => return Err(Error::corrupt(format!("embedding index: id kind {k}"))),
        };
        let index = KltIndex::from_bytes(r.blob()?)?;
        r.finish()?;
        ids.check(index.len())
            .map_err(|e| Error::corrupt(format!("embedding index: {e}")))?;
        Ok(Collection {
            index,
            ids,
            info: BuildInfo {
                fit_vectors,
                codec,
                options,
                writer,
            },
        })
    }
}

fn write_ids(ids: &Ids, w: &mut ByteWriter) {
    match ids {
        Ids::Positions => w.u8(0),
        Ids::Int(v) => {
            w.u8(1);
            w.varint(v.len() as u64);
            let mut prev = 0i64;
            for &id in v {
                w.svarint(id.wrapping_sub(prev));
                prev = id;
            }
        }
        Ids::Text(v) => {
            w.u8(2);
            w.varint(v.len() as u64);
            for s in v {
                w.str(s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> BuildOptions {
        BuildOptions {
            bytes_per_vector: 24.0,
            searchable: true,
        }
    }

    #[test]
    fn round_trips_searches_and_grows_with_ids() {
        let dim = 40;
        let x = crate::rng::correlated_unit_vectors(700, dim, 11);
        let ids = Ids::Text((0..500).map(|i| format!("doc-{i}")).collect());
        let mut c = Collection::build(&x[..500 * dim], dim, Some(&x), Some(ids), &opts()).unwrap();
        assert_eq!(c.info.fit_vectors, 700);
        assert!(c.index.bytes_per_vector() <= 24.0);
        let back = Collection::from_bytes(&c.to_bytes()).unwrap();
        assert_eq!(back, c);
        let hits = c.search(&x[7 * dim..9 * dim], 3, 100).unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0][0].id, Id::Text("doc-7".into()));
        assert_eq!(hits[1][0].position, 8);
        // Growing: ids of the same kind, checked; the codebook is kept.
        let crc = c.index.codebook_crc();
        let more = Ids::Text((500..700).map(|i| format!("doc-{i}")).collect());
        c.add(&x[500 * dim..], Some(more)).unwrap();
        assert_eq!(c.len(), 700);
        assert_eq!(c.index.codebook_crc(), crc);
        let hits = c.search(&x[650 * dim..651 * dim], 1, 100).unwrap();
        assert_eq!(hits[0][0].id, Id::Text("doc-650".into()));
        let e = c.add(&x[..dim], None).unwrap_err().to_string();
        assert!(e.contains("none given") && e.contains("text"), "{e}");
        let dup = Ids::Text(vec!["doc-3".into()]);
        let e = c.add(&x[..dim], Some(dup)).unwrap_err().to_string();
        assert!(e.contains("doc-3") && e.contains("700"), "{e}");
        assert_eq!(c.len(), 700, "a refused add changes nothing");
        let e = c.search(&x[..dim - 1], 1, 10).unwrap_err().to_string();
        assert!(e.contains("dimension 40"), "{e}");
        // Decoding by position.
        let d = c.decode(&[3, 650]).unwrap();
        assert!(crate::kernels::dot(&d[..dim], &x[3 * dim..4 * dim]) > 0.9);
        assert!(c.decode(&[700]).is_err());
        assert_eq!(c.decode_all().unwrap().len(), 700 * dim);
        // Merging: the codebook and the ids are checked, nothing changes on an error.
        let mut shard = Collection::fit(&x, dim, &opts()).unwrap();
        shard
            .add(&x[..dim], Some(Ids::Text(vec!["other".into()])))
            .unwrap();
        let before = c.clone();
        let e = c.merge(&shard).unwrap_err().to_string();
        assert!(e.contains("codebook"), "{e}");
        let mut same = c.clone();
        same.index = c.index.codebook();
        same.ids = Ids::Positions;
        same.add(&x[..dim], Some(Ids::Text(vec!["doc-9".into()])))
            .unwrap();
        assert!(c.merge(&same).unwrap_err().to_string().contains("doc-9"));
        assert_eq!(c, before);
        same.ids = Ids::Text(vec!["new".into()]);
        c.merge(&same).unwrap();
        assert_eq!(c.len(), 701);
        assert_eq!(c.ids.get(700), Id::Text("new".into()));
    }

    #[test]
    fn a_fitted_codebook_grows_like_a_built_collection() {
        let dim = 32;
        let x = crate::rng::correlated_unit_vectors(500, dim, 14);
        let mut c = Collection::fit(&x, dim, &opts()).unwrap();
        assert!(c.is_empty());
        assert_eq!(c.info.fit_vectors, 500);
        let back = Collection::from_bytes(&c.to_bytes()).unwrap();
        assert_eq!(back, c);
        c.add(&x, None).unwrap();
        let built = Collection::build_with(&x, dim, None, None, &opts(), true).unwrap();
        assert_eq!(c.index.to_bytes(), built.index.to_bytes());
    }

    #[test]
    fn a_fitted_codebook_spends_the_budget_on_each_added_vector() {
        let dim = 32;
        let x = crate::rng::correlated_unit_vectors(2200, dim, 15);
        let (train, rest) = x.split_at(200 * dim);
        // The codebook fitted on 200 vectors, then 2,000 others added: each costs about
        // the budget, and the all-in size approaches it.
        let mut c = Collection::fit(train, dim, &opts()).unwrap();
        c.add(rest, None).unwrap();
        let per = c.index.vector_bytes_per_vector();
        assert!(
            (0.8 * 24.0..=1.05 * 24.0).contains(&per),
            "{per} bytes per vector"
        );
        assert!(c.index.bytes_per_vector() > per);
        // Counting the codebook against the 200 fitted vectors (what `build` does) would
        // have coded every added vector far below the budget.
        let mut small = Collection::build(train, dim, None, None, &opts()).unwrap();
        assert!(small.index.bytes_per_vector() <= 24.0);
        small.add(rest, None).unwrap();
        let old = small.index.vector_bytes_per_vector();
        assert!(old < 0.8 * per, "{old} vs {per}");
        assert!(c
            .info
            .options
            .contains(&("codebook_counted".to_string(), "false".to_string())));
    }

    #[test]
    fn positions_become_integer_ids_and_damage_is_detected() {
        let dim = 24;
        let x = crate::rng::correlated_unit_vectors(300, dim, 12);
        let mut c = Collection::build(&x[..200 * dim], dim, None, None, &opts()).unwrap();
        assert_eq!(c.ids, Ids::Positions);
        c.add(&x[200 * dim..], Some(Ids::Int((1000..1100).collect())))
            .unwrap();
        assert_eq!(c.ids.get(5), Id::Int(5));
        assert_eq!(c.ids.get(250), Id::Int(1050));
        let bytes = c.to_bytes();
        assert_eq!(Collection::from_bytes(&bytes).unwrap(), c);
        for at in [10, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert!(Collection::from_bytes(&bad).is_err(), "flip at {at}");
        }
        assert!(Collection::from_bytes(&bytes[..bytes.len() - 9]).is_err());
        assert!(Collection::from_bytes(&c.index.to_bytes()).is_err());
    }
}
