#![no_main]
//! Any text as the last stdout line of a `strider tune -- CMD` trial: `parse_values` returns
//! exactly as many numbers as objectives, or nothing, never panics.
use libfuzzer_sys::fuzz_target;
use strider_app::tune::command::parse_values;

fuzz_target!(|data: &[u8]| {
    // As the trial reader turns a line into text.
    let line = String::from_utf8_lossy(data);
    let line = line.trim_end_matches(['\n', '\r']);
    for n in 0..4 {
        if let Some(values) = parse_values(line, n) {
            assert_eq!(values.len(), n);
        }
    }
});
