//! The classifier of the digits task (`digits.rs`): a brute-force 3-nearest-neighbour
//! vote under squared Euclidean distance ([`knn3`]) and its accuracy over a test set
//! ([`accuracy`], queries in parallel).

use rayon::prelude::*;

/// The label of query `q` by its 3 nearest train points (`dim` values each, squared
/// Euclidean distance, earlier point first on equal distance): the majority label, a tie
/// going to the nearest neighbour's label. Fewer neighbours if there are fewer points.
///
/// # Panics
/// If `train` is empty.
pub fn knn3(train: &[f32], labels: &[u8], dim: usize, q: &[f32]) -> u8 {
    let mut best = [(f32::INFINITY, usize::MAX); 3];
    for (i, p) in train.chunks_exact(dim).enumerate() {
        let d: f32 = p.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum();
        if d < best[2].0 {
            let mut j = 2;
            while j > 0 && d < best[j - 1].0 {
                best[j] = best[j - 1];
                j -= 1;
            }
            best[j] = (d, i);
        }
    }
    let near: Vec<u8> = best
        .iter()
        .filter(|b| b.1 != usize::MAX)
        .map(|b| labels[b.1])
        .collect();
    let votes = |l: u8| near.iter().filter(|&&m| m == l).count();
    let top = near.iter().map(|&l| votes(l)).max().expect("a train point");
    *near.iter().find(|&&l| votes(l) == top).expect("a label")
}

/// Fraction of the test points (`dim` values each) that [`knn3`] labels right.
pub fn accuracy(train: &[f32], train_y: &[u8], test: &[f32], test_y: &[u8], dim: usize) -> f64 {
    let right: usize = test
        .par_chunks_exact(dim)
        .zip(test_y.par_iter())
        .filter(|(q, &y)| knn3(train, train_y, dim, q) == y)
        .count();
    right as f64 / test_y.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knn3_votes_and_breaks_ties_by_the_nearest() {
        // 1-D points: labels 1, 2, 2, 3 at 0, 1, 2, 10.
        let train = [0.0, 1.0, 2.0, 10.0];
        let y = [1, 2, 2, 3];
        assert_eq!(knn3(&train, &y, 1, &[0.1]), 2); // neighbours 1, 2, 2: majority
        assert_eq!(knn3(&train, &y, 1, &[-5.0]), 2);
        // All three differ: the nearest wins.
        let y3 = [1, 2, 3, 4];
        assert_eq!(knn3(&train, &y3, 1, &[0.1]), 1);
        assert_eq!(knn3(&train, &y3, 1, &[1.9]), 3);
        // Two points, one vote each: the nearest; equal distances: the earlier point.
        assert_eq!(knn3(&[0.0, 0.0, 4.0, 4.0], &[7, 8], 2, &[3.0, 3.0]), 8);
        assert_eq!(knn3(&[0.0, 2.0], &[5, 6], 1, &[1.0]), 5);
        let acc = accuracy(&train, &y, &[0.1, 9.0, 2.0], &[2, 3, 1], 1);
        assert!((acc - 1.0 / 3.0).abs() < 1e-12, "{acc}"); // 9.0 → 2, 2.0 → 2
    }
}
