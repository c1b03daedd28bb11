//! A split's partition of its leaf's rows: stable, in bin space, by chunks of rows on the
//! threads.

use super::Grower;
use crate::split::Split;
use crate::threads::cut;

impl Grower<'_> {
    /// Stable partition of a leaf's rows by `split`: the left child's rows first, both in their
    /// original order (as LightGBM keeps them); `scratch` (at least as long) is room. Returns
    /// the number of left rows. A large leaf is cut into one chunk of rows per thread; each
    /// chunk is partitioned on its own, then the chunks' left rows and right rows are put
    /// together in chunk order, so the order is the one a single pass gives.
    pub(super) fn partition(
        &self,
        leaf_rows: &mut [u32],
        split: Split,
        scratch: &mut [u32],
    ) -> usize {
        let scratch = &mut scratch[..leaf_rows.len()];
        let chunks = self.threads.row_chunks(leaf_rows.len());
        let pairs: Vec<_> = cut(leaf_rows, &chunks)
            .into_iter()
            .zip(cut(scratch, &chunks))
            .collect();
        let lefts = self
            .threads
            .map_into(pairs, |(r, s)| self.partition_chunk(r, s, &split));
        // Each chunk holds its left rows at its start, its right rows at the start of its part
        // of `scratch`; the left rows only move towards the front, so in chunk order no chunk
        // overwrites rows not yet moved.
        let mut n_left = 0;
        for (&(start, _), &l) in chunks.iter().zip(&lefts) {
            leaf_rows.copy_within(start..start + l, n_left);
            n_left += l;
        }
        let mut at = n_left;
        for (&(start, end), &l) in chunks.iter().zip(&lefts) {
            let n_right = end - start - l;
            leaf_rows[at..at + n_right].copy_from_slice(&scratch[start..start + n_right]);
            at += n_right;
        }
        n_left
    }

    /// One chunk's stable partition: its left rows to the front of `rows`, its right rows to
    /// the front of `scratch` (as long as `rows`); returns the number of left rows.
    /// Branch-free: each row is written to both sides and only the counts move, because a
    /// split's left/right decision is a coin flip the branch predictor cannot learn.
    fn partition_chunk(&self, rows: &mut [u32], scratch: &mut [u32], split: &Split) -> usize {
        let (mut n_left, mut n_right) = (0, 0);
        let column = self.column(split.feature);
        for i in 0..rows.len() {
            let r = rows[i];
            let left = self.bin_goes_left(column[r as usize] as usize, split);
            // n_left <= i and n_right <= i: both writes land in bounds, and position n_left was
            // read already.
            rows[n_left] = r;
            scratch[n_right] = r;
            n_left += usize::from(left);
            n_right += usize::from(!left);
        }
        n_left
    }
}
