//! Times are stored in UTC (seconds since the epoch) and shown in the school's time zone. The
//! programme's schools are all in Asia/Shanghai, the default; the zone is stored per school and
//! per session so that a school elsewhere is shown its own wall clock.

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;

/// The zone of a school unless it says otherwise.
pub const DEFAULT_ZONE: &str = "Asia/Shanghai";

/// Looks up an IANA zone name ("Asia/Shanghai").
pub fn zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| {
        format!("unknown time zone {name:?}; use an IANA name such as \"Asia/Shanghai\"")
    })
}

/// `YYYY-MM-DD HH:MM` on the wall clock of `zone_name` for a UTC timestamp. Falls back to
/// Asia/Shanghai if the zone is unknown (it was validated when stored).
pub fn local_datetime(utc: i64, zone_name: &str) -> String {
    let tz = zone(zone_name).unwrap_or_else(|_| shanghai());
    match Timestamp::from_second(utc) {
        Ok(ts) => ts.to_zoned(tz).strftime("%Y-%m-%d %H:%M").to_string(),
        Err(_) => utc.to_string(),
    }
}

/// `YYYY-MM-DD HH:MM` in Beijing time.
pub fn shanghai_datetime(utc: i64) -> String {
    local_datetime(utc, DEFAULT_ZONE)
}

/// RFC 3339 in UTC, e.g. `2026-11-25T02:00:00Z`.
pub fn rfc3339_utc(utc: i64) -> String {
    match Timestamp::from_second(utc) {
        Ok(ts) => ts.to_string(),
        Err(_) => utc.to_string(),
    }
}

/// RFC 3339 with the zone's offset, e.g. `2026-11-25T10:00:00+08:00`.
pub fn rfc3339_local(utc: i64, zone_name: &str) -> String {
    let tz = zone(zone_name).unwrap_or_else(|_| shanghai());
    match Timestamp::from_second(utc) {
        Ok(ts) => ts.to_zoned(tz).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        Err(_) => utc.to_string(),
    }
}

fn shanghai() -> TimeZone {
    TimeZone::get(DEFAULT_ZONE).unwrap_or(TimeZone::fixed(jiff::tz::offset(8)))
}

/// Parses a start time as a person writes it: with an offset or `Z` it is absolute
/// (`2026-11-25T02:00:00Z`, `2026-11-25T10:00+08:00`); without, it is the wall clock of `tz`
/// (`2026-11-25 10:00`, `2026-11-25T10:00`). Returns seconds since the epoch.
pub fn parse_start(s: &str, tz: &TimeZone) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(ts.as_second());
    }
    let dt: DateTime = s.parse().map_err(|_| {
        format!("{s:?} is not a date and time; write it as \"2026-03-02 08:00\" (local time of the host school) or \"2026-03-02T00:00:00Z\"")
    })?;
    wall_clock(dt, tz)
}

/// The instant a wall-clock time of `tz` names. A time the clocks skip (the hour lost when
/// daylight saving time begins) is an error, never silently moved; a time that happens twice
/// (the hour repeated when it ends) is the first of the two.
pub fn wall_clock(dt: DateTime, tz: &TimeZone) -> Result<i64, String> {
    let ambiguous = tz.to_ambiguous_zoned(dt);
    if let AmbiguousOffset::Gap { before, after } = ambiguous.offset() {
        return Err(format!(
            "{} does not exist in {}: the clocks go from UTC{before} to UTC{after} that night and skip it; choose a time outside the change",
            dt.strftime("%Y-%m-%d %H:%M"),
            tz.iana_name().unwrap_or("this time zone"),
        ));
    }
    ambiguous
        .compatible()
        .map(|z| z.timestamp().as_second())
        .map_err(|e| {
            format!(
                "{} cannot be placed in time: {e}",
                dt.strftime("%Y-%m-%d %H:%M")
            )
        })
}

/// The first and the last year a session may start in: anything outside is a typo (a date
/// left at 1970, a year written as 0 or 226).
pub const YEARS: std::ops::RangeInclusive<i16> = 2000..=2099;

/// Refuses an instant outside [`YEARS`], naming the date as written on the wall clock.
pub fn check_year(utc: i64, tz: &TimeZone) -> Result<(), String> {
    let date = local_date(utc, tz);
    match date {
        Some(d) if YEARS.contains(&d.year()) => Ok(()),
        _ => Err(format!(
            "{} is not a plausible date for a lesson; it must be in the years {} to {}",
            date.map_or_else(|| utc.to_string(), |d| d.to_string()),
            YEARS.start(),
            YEARS.end()
        )),
    }
}

/// Parses a calendar date `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<Date, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a date; write it as \"2026-03-02\""))
}

/// The date of a UTC timestamp on the wall clock of `tz`.
pub fn local_date(utc: i64, tz: &TimeZone) -> Option<Date> {
    Timestamp::from_second(utc)
        .ok()
        .map(|ts| ts.to_zoned(tz.clone()).date())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_is_shown_in_beijing_time() {
        assert_eq!(shanghai_datetime(0), "1970-01-01 08:00");
        // 2026-11-24 19:34:19 UTC is 2026-11-25 03:34 in Beijing.
        assert_eq!(shanghai_datetime(1_795_548_859), "2026-11-25 03:34");
        assert_eq!(shanghai_datetime(1_709_164_800), "2024-02-29 08:00");
        assert_eq!(
            rfc3339_local(1_795_548_859, "Asia/Shanghai"),
            "2026-11-25T03:34:19+08:00"
        );
        assert_eq!(rfc3339_utc(1_795_548_859), "2026-11-24T19:34:19Z");
    }

    #[test]
    fn a_start_without_offset_is_the_schools_wall_clock() {
        let sh = zone("Asia/Shanghai").unwrap();
        let local = parse_start("2026-11-25 10:00", &sh).unwrap();
        assert_eq!(parse_start("2026-11-25T10:00", &sh).unwrap(), local);
        assert_eq!(parse_start("2026-11-25T02:00:00Z", &sh).unwrap(), local);
        assert_eq!(
            parse_start("2026-11-25T10:00:00+08:00", &sh).unwrap(),
            local
        );
        assert_eq!(local_datetime(local, "Asia/Shanghai"), "2026-11-25 10:00");
        // The same wall clock in another zone is another instant.
        let berlin = zone("Europe/Berlin").unwrap();
        assert_eq!(
            parse_start("2026-11-25 10:00", &berlin).unwrap() - local,
            7 * 3600
        );
        assert!(parse_start("tomorrow", &sh)
            .unwrap_err()
            .contains("2026-03-02 08:00"));
        assert!(zone("Mars/Olympus").unwrap_err().contains("IANA"));
    }

    #[test]
    fn a_start_in_1970_or_year_0_is_refused() {
        let sh = zone("Asia/Shanghai").unwrap();
        for s in [
            "1970-01-01 08:00",
            "0000-03-02 08:00",
            "0226-03-02 08:00",
            "2100-01-01 08:00",
        ] {
            let utc = parse_start(s, &sh).unwrap();
            let e = check_year(utc, &sh).unwrap_err();
            assert!(e.contains("2000 to 2099"), "{s}: {e}");
        }
        assert!(check_year(parse_start("2026-03-02 08:00", &sh).unwrap(), &sh).is_ok());
    }

    #[test]
    fn a_time_the_clocks_skip_is_refused_and_a_repeated_one_is_the_first() {
        let berlin = zone("Europe/Berlin").unwrap();
        // 2026-03-29: Berlin's clocks go from 02:00 straight to 03:00.
        let e = parse_start("2026-03-29 02:30", &berlin).unwrap_err();
        assert!(e.contains("does not exist in Europe/Berlin"), "{e}");
        assert!(e.contains("choose a time"), "{e}");
        assert!(parse_start("2026-03-29 03:30", &berlin).is_ok());
        // 2026-10-25: 02:30 happens twice; the first is at +02:00.
        assert_eq!(
            parse_start("2026-10-25 02:30", &berlin).unwrap(),
            parse_start("2026-10-25T00:30:00Z", &berlin).unwrap()
        );
    }
}
