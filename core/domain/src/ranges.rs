//! Sorted index sets as inclusive `[a, b]` ranges: the compact form the CLI prints and the report
//! draws.

/// Compress sorted, de-duplicated indices into inclusive ranges.
pub fn to_ranges(sorted: &[usize]) -> Vec<[usize; 2]> {
    let mut out: Vec<[usize; 2]> = Vec::new();
    for &i in sorted {
        match out.last_mut() {
            Some(last) if last[1] + 1 == i => last[1] = i,
            _ => out.push([i, i]),
        }
    }
    out
}

/// Expand inclusive ranges back into indices.
pub fn from_ranges(ranges: &[[usize; 2]]) -> Vec<usize> {
    ranges.iter().flat_map(|r| r[0]..=r[1]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let idx = vec![0, 1, 2, 5, 7, 8];
        let r = to_ranges(&idx);
        assert_eq!(r, vec![[0, 2], [5, 5], [7, 8]]);
        assert_eq!(from_ranges(&r), idx);
        assert!(to_ranges(&[]).is_empty());
    }
}
