//! SHA-256 of the data as loaded (after parsing), so two files that differ only in formatting
//! (trailing zeros, CRLF) fingerprint the same, while any changed value, date or column does not.

use sha2::{Digest, Sha256};

use super::Instrument;

pub fn fingerprint(instruments: &[Instrument]) -> String {
    let mut h = Sha256::new();
    let put_str = |h: &mut Sha256, s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    for inst in instruments {
        put_str(&mut h, &inst.name);
        for d in &inst.dates {
            put_str(&mut h, &d.to_string());
        }
        let named: [(&str, Option<&Vec<f64>>); 6] = [
            ("open", inst.open.as_ref()),
            ("high", inst.high.as_ref()),
            ("low", inst.low.as_ref()),
            ("close", Some(&inst.close)),
            ("volume", inst.volume.as_ref()),
            ("adj_close", inst.adj_close.as_ref()),
        ];
        let extra = inst
            .extra
            .iter()
            .map(|c| (c.name.as_str(), Some(&c.values)));
        for (name, col) in named.into_iter().chain(extra) {
            if let Some(values) = col {
                put_str(&mut h, name);
                for v in values {
                    h.update(v.to_bits().to_le_bytes());
                }
            }
        }
    }
    hex::encode(h.finalize())
}
