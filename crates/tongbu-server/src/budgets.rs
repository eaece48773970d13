//! What one link, one session and one classroom may spend, however many sockets they open. A
//! connection's own chat budget alone let sockets multiply it (40 sockets on one observer link
//! sent 400 chat lines at once), and every network check got a transport (300 at once on one
//! classroom's term-long link). Here a link's sockets share one budget, a session's members one
//! more, and a classroom runs at most [`MAX_CHECKS`] network checks at a time.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tongbu_schedule::SessionId;

/// A token bucket: a burst of `capacity`, then `per_second`.
#[derive(Debug, Clone)]
pub struct RateLimit {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    at: Instant,
}

impl RateLimit {
    pub fn new(capacity: f64, per_second: f64) -> Self {
        Self {
            tokens: capacity,
            capacity,
            per_second,
            at: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.capacity);
        self.at = now;
    }

    fn has(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    fn take(&mut self) {
        self.tokens -= 1.0;
    }

    /// Takes one token if there is one.
    pub fn allow(&mut self) -> bool {
        let has = self.has(Instant::now());
        if has {
            self.take();
        }
        has
    }

    fn full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.capacity
    }
}

/// Chat and hand messages of one link, all its sockets together.
const LINK_BURST: f64 = 20.0;
const LINK_PER_SECOND: f64 = 4.0;
/// Chat and hand messages of one session, all its members together.
const SESSION_BURST: f64 = 60.0;
const SESSION_PER_SECOND: f64 = 20.0;
/// Network checks one classroom may run at once.
pub const MAX_CHECKS: usize = 2;
/// Buckets kept before the full (idle) ones are forgotten.
const KEPT: usize = 10_000;

#[derive(Default)]
struct Inner {
    links: HashMap<u64, RateLimit>,
    sessions: HashMap<SessionId, RateLimit>,
    checks: HashMap<i64, usize>,
}

/// The server's shared budgets (one lock, held for a few map operations).
#[derive(Default)]
pub struct Budgets {
    inner: Mutex<Inner>,
    keys: std::collections::hash_map::RandomState,
}

impl Budgets {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn link_key(&self, token: &str) -> u64 {
        let mut h = self.keys.build_hasher();
        h.write(token.as_bytes());
        h.finish()
    }

    /// Whether a chat or hand message on the link with `token`, in `session`, is within both
    /// their budgets (and if so it is spent from both).
    pub fn talk(&self, token: &str, session: SessionId) -> bool {
        let key = self.link_key(token);
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.links.len() > KEPT {
            inner.links.retain(|_, b| !b.full(now));
        }
        if inner.sessions.len() > KEPT {
            inner.sessions.retain(|_, b| !b.full(now));
        }
        let Inner {
            links, sessions, ..
        } = &mut *inner;
        let link = links
            .entry(key)
            .or_insert_with(|| RateLimit::new(LINK_BURST, LINK_PER_SECOND));
        let whole = sessions
            .entry(session)
            .or_insert_with(|| RateLimit::new(SESSION_BURST, SESSION_PER_SECOND));
        if link.has(now) && whole.has(now) {
            link.take();
            whole.take();
            true
        } else {
            false
        }
    }

    /// A network check of `classroom` may start, unless [`MAX_CHECKS`] run; it holds its place
    /// until the returned guard is dropped.
    pub fn start_check(self: &Arc<Self>, classroom: i64) -> Option<CheckPlace> {
        let mut inner = self.lock();
        let running = inner.checks.entry(classroom).or_insert(0);
        if *running >= MAX_CHECKS {
            return None;
        }
        *running += 1;
        Some(CheckPlace {
            budgets: self.clone(),
            classroom,
        })
    }
}

/// A running network check's place in its classroom's budget.
pub struct CheckPlace {
    budgets: Arc<Budgets>,
    classroom: i64,
}

impl Drop for CheckPlace {
    fn drop(&mut self) {
        let mut inner = self.budgets.lock();
        if let Some(n) = inner.checks.get_mut(&self.classroom) {
            *n -= 1;
            if *n == 0 {
                inner.checks.remove(&self.classroom);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_links_sockets_share_its_budget_and_a_session_caps_its_links() {
        let b = Budgets::default();
        let s = SessionId(1);
        let spent = (0..100).filter(|_| b.talk("observer-link", s)).count();
        assert_eq!(spent, LINK_BURST as usize, "one link, however many sockets");
        // Other links of the session have their own, until the session's runs out.
        let others = (0..100)
            .filter(|i| b.talk(&format!("link {}", i % 10), s))
            .count();
        assert_eq!(others, (SESSION_BURST - LINK_BURST) as usize);
        assert!(b.talk("a link elsewhere", SessionId(2)));
    }

    #[test]
    fn a_classroom_runs_two_checks_at_a_time() {
        let b = Arc::new(Budgets::default());
        let first = b.start_check(7).expect("a first check");
        let _second = b.start_check(7).expect("a second check");
        assert!(b.start_check(7).is_none(), "a third waits");
        assert!(b.start_check(8).is_some(), "another classroom's is its own");
        drop(first);
        assert!(b.start_check(7).is_some(), "a place freed");
    }
}
