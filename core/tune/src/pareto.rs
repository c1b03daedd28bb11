//! Non-domination for two (or more) objectives, as losses (smaller is better).

/// `a` dominates `b`: no worse everywhere, better somewhere.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

/// Rank 0 = the Pareto front, rank 1 = the front once rank 0 is removed, ...
pub fn nondomination_ranks(losses: &[Vec<f64>]) -> Vec<usize> {
    let n = losses.len();
    let mut rank = vec![usize::MAX; n];
    let mut left: Vec<usize> = (0..n).collect();
    let mut r = 0;
    while !left.is_empty() {
        let front: Vec<usize> = left
            .iter()
            .copied()
            .filter(|&i| {
                !left
                    .iter()
                    .any(|&j| j != i && dominates(&losses[j], &losses[i]))
            })
            .collect();
        for &i in &front {
            rank[i] = r;
        }
        left.retain(|i| rank[*i] == usize::MAX);
        r += 1;
    }
    rank
}

/// Indices of the non-dominated points.
pub fn pareto_front(losses: &[Vec<f64>]) -> Vec<usize> {
    nondomination_ranks(losses)
        .iter()
        .enumerate()
        .filter(|(_, r)| **r == 0)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_peel_fronts() {
        let l = vec![
            vec![1.0, 4.0],
            vec![2.0, 2.0],
            vec![3.0, 3.0],
            vec![4.0, 1.0],
            vec![5.0, 5.0],
        ];
        assert_eq!(nondomination_ranks(&l), vec![0, 0, 1, 0, 2]);
        assert_eq!(pareto_front(&l), vec![0, 1, 3]);
    }
}
