//! Seed 004's reordering: permute a model's MLP hidden units so that neighbouring weight rows
//! are alike, without changing what the model computes, then see whether a transform
//! (DCT, wavelet) finds more to compact.
//!
//! An MLP `down(act(up·x + b))` computes the same function under any permutation `π` of its
//! hidden units applied to the rows of `up` (and of its bias, and of `gate` in a gated MLP)
//! and to the columns of `down`. Groups are found by name: BERT's
//! `….intermediate.dense.{weight,bias}` with `….output.dense.weight` of the same layer;
//! llama's `blk.N.ffn_gate.weight` and `blk.N.ffn_up.weight` with `blk.N.ffn_down.weight`.
//! Orders: by the rows' L2 norm, or a greedy nearest-neighbour chain (a TSP heuristic:
//! from the largest-norm row, always the closest unvisited row next).

use anyhow::{bail, Context, Result};
use tensorjpeg::Tensor;

/// How the hidden units are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Order {
    /// By the L2 norm of each unit's input rows, largest first.
    Norm,
    /// Greedy nearest-neighbour chain over the units' input rows.
    Nearest,
}

/// One MLP: the tensors whose rows are its hidden units, and those whose columns are.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpGroup {
    /// Tensors indexed by hidden unit along their first axis (weights and biases).
    pub rows: Vec<String>,
    /// Tensors indexed by hidden unit along their last axis.
    pub cols: Vec<String>,
}

/// The MLP groups of a BERT or llama model's tensors.
pub fn mlp_groups(tensors: &[Tensor]) -> Vec<MlpGroup> {
    let has = |n: &str| tensors.iter().any(|t| t.name == n);
    let mut out = Vec::new();
    for t in tensors {
        if let Some(p) = t.name.strip_suffix(".intermediate.dense.weight") {
            let (b, down) = (
                format!("{p}.intermediate.dense.bias"),
                format!("{p}.output.dense.weight"),
            );
            if has(&down) {
                let mut rows = vec![t.name.clone()];
                if has(&b) {
                    rows.push(b);
                }
                out.push(MlpGroup {
                    rows,
                    cols: vec![down],
                });
            }
        } else if let Some(p) = t.name.strip_suffix(".ffn_up.weight") {
            let (gate, down) = (
                format!("{p}.ffn_gate.weight"),
                format!("{p}.ffn_down.weight"),
            );
            if has(&down) {
                let mut rows = vec![t.name.clone()];
                if has(&gate) {
                    rows.insert(0, gate);
                }
                out.push(MlpGroup {
                    rows,
                    cols: vec![down],
                });
            }
        }
    }
    out
}

/// The order of `n` units whose features are the rows of `x` (`n × d`).
pub fn order(x: &[f32], n: usize, d: usize, how: Order) -> Vec<usize> {
    let norm = |i: usize| tensorjpeg::kernels::dot(&x[i * d..(i + 1) * d], &x[i * d..(i + 1) * d]);
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| norm(b).total_cmp(&norm(a)).then(a.cmp(&b)));
    if how == Order::Norm || n == 0 {
        return idx;
    }
    let mut visited = vec![false; n];
    let mut chain = Vec::with_capacity(n);
    let mut cur = idx[0];
    visited[cur] = true;
    chain.push(cur);
    for _ in 1..n {
        let row = &x[cur * d..(cur + 1) * d];
        let (nc, _) = (0..n)
            .filter(|&j| !visited[j])
            .map(|j| {
                let other = &x[j * d..(j + 1) * d];
                (j, norm(j) - 2.0 * tensorjpeg::kernels::dot(row, other))
            })
            .fold(
                (usize::MAX, f32::INFINITY),
                |a, b| if b.1 < a.1 { b } else { a },
            );
        cur = nc;
        visited[cur] = true;
        chain.push(cur);
    }
    chain
}

/// `t` with the values `v` (same name, shape and dtype).
fn with_values(t: &Tensor, v: Vec<f32>) -> Tensor {
    Tensor {
        name: t.name.clone(),
        shape: t.shape.clone(),
        dtype: t.dtype.clone(),
        data: tensorjpeg::Data::F32(v),
    }
}

fn find<'a>(tensors: &'a mut [Tensor], name: &str) -> Result<&'a mut Tensor> {
    tensors
        .iter_mut()
        .find(|t| t.name == name)
        .with_context(|| format!("tensor '{name}' missing"))
}

/// Permutes every MLP group of `tensors` in place by `how`; returns the groups permuted.
pub fn reorder(tensors: &mut [Tensor], how: Order) -> Result<usize> {
    let groups = mlp_groups(tensors);
    for g in &groups {
        // The units' features: their rows in every row-indexed matrix, side by side.
        let mut feats: Vec<Vec<f32>> = Vec::new();
        let mut n = None;
        for name in &g.rows {
            let t = find(tensors, name)?;
            let units = t.shape[0];
            if *n.get_or_insert(units) != units {
                bail!(
                    "tensor '{name}': {units} rows, the group has {}",
                    n.unwrap_or(0)
                );
            }
            let v = t
                .values()
                .with_context(|| format!("tensor '{name}' is not float"))?;
            let w = v.len() / units.max(1);
            for u in 0..units {
                if feats.len() <= u {
                    feats.push(Vec::new());
                }
                if t.shape.len() == 2 {
                    feats[u].extend_from_slice(&v[u * w..(u + 1) * w]);
                }
            }
        }
        let n = n.unwrap_or(0);
        let d = feats.first().map_or(0, Vec::len);
        let flat: Vec<f32> = feats.concat();
        let perm = order(&flat, n, d, how);
        for name in &g.rows {
            let t = find(tensors, name)?;
            let v = t.values().expect("checked above");
            let w = v.len() / n.max(1);
            let p: Vec<f32> = perm
                .iter()
                .flat_map(|&u| v[u * w..(u + 1) * w].to_vec())
                .collect();
            *t = with_values(t, p);
        }
        for name in &g.cols {
            let t = find(tensors, name)?;
            if t.shape.last() != Some(&n) {
                bail!("tensor '{name}': shape {:?}, expected {n} columns", t.shape);
            }
            let v = t
                .values()
                .with_context(|| format!("tensor '{name}' is not float"))?;
            let p: Vec<f32> = v
                .chunks(n)
                .flat_map(|row| perm.iter().map(|&u| row[u]).collect::<Vec<_>>())
                .collect();
            *t = with_values(t, p);
        }
    }
    Ok(groups.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_permutations_and_the_chain_follows_neighbours() {
        // Points on a line, shuffled: the chain visits them in line order from one end.
        let pos = [5.0f32, 1.0, 9.0, 3.0, 7.0, 2.0];
        let x: Vec<f32> = pos.iter().flat_map(|&p| [p, 0.0]).collect();
        let chain = order(&x, 6, 2, Order::Nearest);
        let visited: Vec<f32> = chain.iter().map(|&i| pos[i]).collect();
        assert_eq!(visited, vec![9.0, 7.0, 5.0, 3.0, 2.0, 1.0]);
        let by_norm = order(&x, 6, 2, Order::Norm);
        assert_eq!(by_norm, vec![2, 4, 0, 3, 5, 1]);
    }
}
