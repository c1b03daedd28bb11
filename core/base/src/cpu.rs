//! Which vector extensions this CPU has, detected once. Hot loops are compiled a second time for
//! them (`#[target_feature]`) and chosen at run time, so one binary runs everywhere. Rust never
//! contracts `a * b + c` into an FMA on its own, so every version gives the same bits.

/// AVX2 with FMA: element-wise loops compile 4 doubles / 8 floats wide.
#[cfg(target_arch = "x86_64")]
pub fn avx2() -> bool {
    static DETECTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DETECTED.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    })
}

/// AVX-512F (with AVX2 and FMA).
#[cfg(target_arch = "x86_64")]
pub fn avx512() -> bool {
    static DETECTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DETECTED.get_or_init(|| avx2() && std::arch::is_x86_feature_detected!("avx512f"))
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
