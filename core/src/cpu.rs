//! Which vector extensions this CPU has, detected once. Hot loops are compiled a second time for
//! them (`#[target_feature]`) and chosen at run time, so one binary runs everywhere. Rust never
//! contracts `a * b + c` into an FMA on its own, so every version gives the same bits.

/// AVX2 with FMA: element-wise loops compile 4 doubles / 8 floats wide.
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2() -> bool {
    static DETECTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DETECTED.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    })
}

/// AVX-512F (with AVX2 and FMA).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx512() -> bool {
    static DETECTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DETECTED.get_or_init(|| avx2() && std::arch::is_x86_feature_detected!("avx512f"))
}
