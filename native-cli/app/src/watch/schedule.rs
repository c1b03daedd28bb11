//! Calendar schedules for retraining: a cron pattern (croner's syntax, five fields) is due on a
//! bar when one of its times falls after the previous bar's date and at or before this bar's
//! (both taken at midnight UTC), so a schedule that fires on a weekend or holiday fires on the
//! next bar instead of being lost.

use std::str::FromStr;

use chrono::{NaiveDate, TimeZone, Utc};
use croner::Cron;

pub fn parse_cron(pattern: &str) -> std::result::Result<Cron, String> {
    Cron::from_str(pattern).map_err(|e| format!("`{pattern}` is not a cron pattern: {e}"))
}

/// True when `cron` has a time in (`previous`, `date`] (both at midnight UTC).
pub fn cron_due(cron: &Cron, previous: NaiveDate, date: NaiveDate) -> bool {
    let at = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
    let (Some(from), Some(to)) = (at(previous), at(date)) else {
        return false;
    };
    match cron.find_next_occurrence(&from, false) {
        Ok(next) => next <= to,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_monthly_schedule_fires_on_the_first_bar_of_the_month() {
        let cron = parse_cron("0 0 1 * *").unwrap();
        // 2024-06-01 is a Saturday: the Monday after is the first bar on or past it.
        assert!(!cron_due(&cron, d("2024-05-30"), d("2024-05-31")));
        assert!(cron_due(&cron, d("2024-05-31"), d("2024-06-03")));
        assert!(!cron_due(&cron, d("2024-06-03"), d("2024-06-04")));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(parse_cron("every day").is_err());
        assert!(parse_cron("61 * * * *").is_err());
    }
}
