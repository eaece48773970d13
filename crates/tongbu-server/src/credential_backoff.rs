//! Back-off on wrong operator credentials and local account passwords, per source address: a few mistakes are free, then
//! each further try waits twice as long as the last (up to five minutes), so the operator token
//! cannot be guessed by trying. While an address waits its credential is not even checked.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong tries an address may make within [`WINDOW`] before it must wait.
pub const FREE_TRIES: u32 = 5;
/// The window the free tries count in.
pub const WINDOW: Duration = Duration::from_secs(60);
/// The first wait, doubled after each wrong try that follows it.
pub const FIRST_WAIT: Duration = Duration::from_secs(2);
/// The longest wait.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// A wait as the seconds of a `Retry-After` header: rounded up, so that a client that waits
/// that long finds the wait over.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[derive(Debug, Clone, Copy)]
struct Record {
    since: Instant,
    wrong: u32,
    wait: Duration,
    until: Option<Instant>,
}

/// The wrong tries of each address.
#[derive(Debug, Default)]
pub struct CredentialBackoff {
    by_source: Mutex<HashMap<IpAddr, Record>>,
}

impl CredentialBackoff {
    /// `Err(wait)` while `source` must wait before its credential is checked again.
    pub fn check(&self, source: IpAddr, now: Instant) -> Result<(), Duration> {
        let by = self.by_source.lock().unwrap_or_else(|e| e.into_inner());
        match by.get(&source).and_then(|r| r.until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// `source` presented a wrong credential.
    pub fn wrong(&self, source: IpAddr, now: Instant) {
        let mut by = self.by_source.lock().unwrap_or_else(|e| e.into_inner());
        // Addresses whose window and wait are over are forgotten as new mistakes come.
        by.retain(|_, r| {
            now.saturating_duration_since(r.since) < WINDOW || r.until.is_some_and(|u| u > now)
        });
        let r = by.entry(source).or_insert(Record {
            since: now,
            wrong: 0,
            wait: FIRST_WAIT,
            until: None,
        });
        r.wrong += 1;
        if r.wrong > FREE_TRIES {
            r.until = Some(now + r.wait);
            r.wait = (r.wait * 2).min(MAX_WAIT);
        }
    }

    /// `source` presented the right credential: its mistakes are forgotten.
    pub fn right(&self, source: IpAddr) {
        self.by_source
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_mistakes_are_free_then_each_try_waits_twice_as_long() {
        let b = CredentialBackoff::default();
        let ip: IpAddr = [192, 0, 2, 1].into();
        let other: IpAddr = [192, 0, 2, 2].into();
        let t0 = Instant::now();
        for _ in 0..FREE_TRIES {
            assert_eq!(b.check(ip, t0), Ok(()));
            b.wrong(ip, t0);
        }
        assert_eq!(b.check(ip, t0), Ok(()), "five mistakes are free");
        b.wrong(ip, t0);
        assert_eq!(b.check(ip, t0), Err(FIRST_WAIT));
        assert_eq!(b.check(other, t0), Ok(()), "another address is not held up");
        let t1 = t0 + FIRST_WAIT;
        assert_eq!(b.check(ip, t1), Ok(()));
        b.wrong(ip, t1);
        assert_eq!(b.check(ip, t1), Err(FIRST_WAIT * 2));
        // The right credential clears the record.
        b.right(ip);
        assert_eq!(b.check(ip, t1), Ok(()));
    }
}
