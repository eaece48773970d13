//! Times are stored in UTC (seconds since the epoch) and shown in the school's zone. Schools of
//! the programme are in Asia/Shanghai, which is UTC+8 all year (no daylight saving).

/// Offset of Asia/Shanghai from UTC, in seconds.
pub const SHANGHAI_OFFSET_SECS: i64 = 8 * 3600;

/// `YYYY-MM-DD HH:MM` in Asia/Shanghai for a UTC timestamp.
pub fn shanghai_datetime(utc: i64) -> String {
    let local = utc + SHANGHAI_OFFSET_SECS;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_is_shown_in_beijing_time() {
        assert_eq!(shanghai_datetime(0), "1970-01-01 08:00");
        // 2026-11-24 19:34:19 UTC is 2026-11-25 03:34 in Beijing.
        assert_eq!(shanghai_datetime(1_795_548_859), "2026-11-25 03:34");
        // Leap day.
        assert_eq!(shanghai_datetime(1_709_164_800), "2024-02-29 08:00");
        assert_eq!(shanghai_datetime(-1), "1970-01-01 07:59");
    }
}
