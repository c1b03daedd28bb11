//! Which vector extensions this CPU has, detected once. Hot loops are compiled a second time for
//! them (`#[target_feature]`) and chosen at run time, so one binary runs everywhere. Rust never
//! contracts `a * b + c` into an FMA on its own, so every version gives the same bits.

use std::sync::atomic::{AtomicU8, Ordering};

/// The highest level dispatch may use: [`Level::Avx512`] unless lowered with [`cap`] (tests run
/// every level to prove they give the same bits).
static CAP: AtomicU8 = AtomicU8::new(Level::Avx512 as u8);

/// Instruction-set levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// What every CPU of the target runs (and wasm).
    Baseline = 0,
    /// AVX2 with FMA.
    Avx2 = 1,
    /// AVX-512F with AVX2 and FMA.
    Avx512 = 2,
}

/// Lowers (or restores) the highest level dispatch may use; returns the previous cap. Detection
/// still decides whether a level is available at all.
pub fn cap(level: Level) -> Level {
    match CAP.swap(level as u8, Ordering::Relaxed) {
        0 => Level::Baseline,
        1 => Level::Avx2,
        _ => Level::Avx512,
    }
}

#[cfg(target_arch = "x86_64")]
fn allowed(level: Level) -> bool {
    CAP.load(Ordering::Relaxed) >= level as u8
}

/// AVX2 with FMA: element-wise loops compile 4 doubles / 8 floats wide.
#[cfg(target_arch = "x86_64")]
pub fn avx2() -> bool {
    static DETECTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    allowed(Level::Avx2)
        && *DETECTED.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        })
}

/// AVX-512F (with AVX2 and FMA).
#[cfg(target_arch = "x86_64")]
pub fn avx512() -> bool {
    static DETECTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    allowed(Level::Avx512)
        && *DETECTED.get_or_init(|| avx2() && std::arch::is_x86_feature_detected!("avx512f"))
}

/// `fn $name(args) -> ret` that runs `$imp` (an `#[inline(always)]` body) compiled for AVX-512
/// or AVX2 where this CPU has them, and as it is elsewhere (other CPUs, wasm).
#[macro_export]
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $imp:ident) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $imp($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $imp($($arg),*)
                }
                if $crate::cpu::avx512() {
                    // SAFETY: the CPU supports AVX-512F, AVX2 and FMA (checked).
                    return unsafe { avx512($($arg),*) };
                }
                if $crate::cpu::avx2() {
                    // SAFETY: the CPU supports AVX2 and FMA (checked).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $imp($($arg),*)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(always)]
    fn dot_imp(a: &[f64], b: &[f64]) -> f64 {
        let mut s = 0.0;
        for (x, y) in a.iter().zip(b) {
            s += x * y;
        }
        s
    }

    crate::multiversion! {
        fn dot(a: &[f64], b: &[f64]) -> f64 => dot_imp
    }

    #[test]
    fn every_level_gives_the_same_bits() {
        let a: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.11).cos()).collect();
        let mut seen = Vec::new();
        for level in [Level::Avx512, Level::Avx2, Level::Baseline] {
            let before = cap(level);
            seen.push(dot(&a, &b).to_bits());
            #[cfg(target_arch = "x86_64")]
            {
                assert!(!avx512() || level == Level::Avx512);
                assert!(!avx2() || level >= Level::Avx2);
            }
            cap(before);
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
        assert_eq!(cap(Level::Avx512), Level::Avx512);
    }
}
