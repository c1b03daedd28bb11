//! The journal target compiles the journal reader's own source (core/tune/src/storage/journal.rs
//! has no public function that parses bytes, and fuzzing through a file would be slow): this
//! copies it into OUT_DIR without its inner doc comments and inner attributes (one line each,
//! such as its lint levels), which `include!` cannot take.
use std::path::PathBuf;

fn main() {
    let src = "../core/tune/src/storage/journal.rs";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-changed=build.rs");
    let text = std::fs::read_to_string(src).expect("core/tune/src/storage/journal.rs");
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("//!") && !l.starts_with("#!["))
        .flat_map(|l| [l, "\n"])
        .collect();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("journal.rs");
    std::fs::write(out, body).unwrap();
}
