//! One block of features' histogram cells: summed from a leaf's rows, the most frequent bin
//! rebuilt from the leaf's sums (`FixHistogram`), or a sibling's taken from its parent's.

use super::Grower;
use crate::split::Bin;

/// Rows ahead whose bins and gradients the histogram asks the cache for while it sums the
/// current row (LightGBM's `pf_offset`): a child's rows lie scattered over the data, and
/// waiting on memory for each one took most of the histogram's time.
const PREFETCH_AHEAD: usize = 16;

impl Grower<'_> {
    /// The histogram cells of the block of features `first..end` (one of `self.blocks`) over
    /// `rows` (`out` starts at feature `first`'s bins and is zero): per feature and bin, the
    /// sums of g and h, each cell over its rows in row order.
    pub(super) fn histogram_block(
        &self,
        rows: &[u32],
        (g, h): (&[f32], &[f32]),
        (first, end): (usize, usize),
        out: &mut [Bin],
    ) {
        // The block's bins: row-major, `width` to a row, feature `first + j`'s at `j` of a row
        // only for a block of the layout (`Binned::fit`).
        debug_assert!(self.blocks.contains(&(first, end)));
        let width = end - first;
        let bins = &self.bins[self.n_rows() * first..self.n_rows() * end];
        let base = self.offsets[first];
        // Per feature of the block, its first cell in `out`.
        let features: Vec<usize> = (first..end).map(|j| self.offsets[j] - base).collect();
        for (i, &r) in rows.iter().enumerate() {
            if let Some(&ahead) = rows.get(i + PREFETCH_AHEAD) {
                let a = ahead as usize;
                prefetch(bins.as_ptr().wrapping_add(a * width));
                prefetch(g.as_ptr().wrapping_add(a));
                prefetch(h.as_ptr().wrapping_add(a));
            }
            let r = r as usize;
            let (gr, hr) = (f64::from(g[r]), f64::from(h[r]));
            let row = &bins[r * width..(r + 1) * width];
            // Every bin is summed, the most frequent one too, although `fix_block` then
            // overwrites it: skipping it (as LightGBM does) is a branch that data with a few
            // percent missing mispredicts on every missing value.
            for (&off, &b) in features.iter().zip(row) {
                let i = off + b as usize;
                debug_assert!(i < out.len());
                // SAFETY: `(first, end)` is one of `self.blocks` (every caller zips the blocks
                // with `block_parts`), so `b` is feature `first + j`'s bin, < its n_bins; offsets
                // are the running sums of n_bins, so off (already less base) + b < the block's
                // bins == out.len() (`block_parts` cuts `out` at the block's bins).
                let cell = unsafe { out.get_unchecked_mut(i) };
                cell.g += gr;
                cell.h += hr;
            }
        }
    }

    /// `FixHistogram` for features `first..end`: the most frequent bin gets the leaf's sums
    /// less every other bin, in bin order, or zeros when it is bin 0 (which LightGBM does not
    /// store).
    pub(super) fn fix_block(
        &self,
        (first, end): (usize, usize),
        (g, h): (f64, f64),
        out: &mut [Bin],
    ) {
        let base = self.offsets[first];
        for j in first..end {
            let lay = &self.layout[j];
            let mfb = lay.most_freq_bin;
            let cells = &mut out[self.offsets[j] - base..][..lay.n_bins()];
            if mfb == 0 {
                if let Some(c) = cells.first_mut() {
                    *c = Bin::default();
                }
                continue;
            }
            let mut fixed = Bin { g, h };
            for (i, c) in cells.iter().enumerate() {
                if i != mfb {
                    fixed.g -= c.g;
                    fixed.h -= c.h;
                }
            }
            cells[mfb] = fixed;
        }
    }

    /// The histogram cells of `rows` (a leaf with sums `sums`) for features `first..end`, with
    /// the most frequent bins fixed.
    pub(super) fn fixed_histogram_block(
        &self,
        rows: &[u32],
        gh: (&[f32], &[f32]),
        block: (usize, usize),
        sums: (f64, f64),
        out: &mut [Bin],
    ) {
        self.histogram_block(rows, gh, block, out);
        self.fix_block(block, sums, out);
    }

    /// `hist`'s cells cut at the feature blocks' boundaries, one part per block.
    pub(super) fn block_parts<'h>(&self, hist: &'h mut [Bin]) -> Vec<&'h mut [Bin]> {
        let bin_ranges: Vec<(usize, usize)> = self
            .blocks
            .iter()
            .map(|&(first, end)| {
                let stop = self.offsets.get(end).copied().unwrap_or(self.total_bins);
                (self.offsets[first], stop)
            })
            .collect();
        crate::threads::cut(hist, &bin_ranges)
    }
}

/// The larger child's cells from its parent's, in place: parent less the smaller child.
pub(super) fn subtract(parent_to_large: &mut [Bin], small: &[Bin]) {
    for (p, s) in parent_to_large.iter_mut().zip(small) {
        p.g -= s.g;
        p.h -= s.h;
    }
}

/// Asks the CPU to bring `p`'s cache line closer; a hint only (a no-op off x86-64).
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch neither faults nor reads anything into the program, whatever the
    // address (callers pass addresses inside their slices anyway).
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
