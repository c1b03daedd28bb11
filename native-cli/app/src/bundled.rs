//! The bundled example (config + public-domain data), compiled into the binary so that
//! `strider run` with no arguments works from any directory.

pub const CONFIG_PATH: &str = "examples/default.toml";
pub const CONFIG: &str = include_str!("../../../examples/default.toml");

const FILES: [(&str, &str); 3] = [
    (
        "data/AAPL.csv",
        include_str!("../../../examples/data/AAPL.csv"),
    ),
    (
        "data/MSFT.csv",
        include_str!("../../../examples/data/MSFT.csv"),
    ),
    (
        "data/IBM.csv",
        include_str!("../../../examples/data/IBM.csv"),
    ),
];

/// The text of a bundled file, by the path the bundled config uses.
pub fn file(path: &str) -> Option<&'static str> {
    FILES.iter().find(|(p, _)| *p == path).map(|(_, t)| *t)
}
