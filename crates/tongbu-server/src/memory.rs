//! Memory that closed connections freed goes back to the system. glibc's allocator keeps freed
//! heap pages for reuse, so after a lecture's audience leaves — thousands of WebSockets,
//! outboxes and transports — the process went on holding what they used (369 MiB after 2,000
//! listeners had left, against 358 MiB with all of them in). Once the connections have fallen
//! well below their peak, `malloc_trim` hands the free pages back.

use std::sync::Arc;
use std::time::Duration;

use crate::server::AppState;

/// How often the connections are counted (often enough to see a short crowd's peak).
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Connections fewer than the peak since the last trim that make a trim worth it.
const TRIM_AFTER: usize = 50;
/// At most one trim in this long (it holds the allocator's locks while it walks the heap).
const TRIM_AT_MOST_EVERY: Duration = Duration::from_secs(10);

/// Runs as long as the server: trims after a crowd has left.
pub async fn return_freed(app: Arc<AppState>) {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    let mut peak = 0;
    let mut trimmed: Option<tokio::time::Instant> = None;
    loop {
        tick.tick().await;
        let now = app.rooms.total();
        let due = trimmed.is_none_or(|t| t.elapsed() >= TRIM_AT_MOST_EVERY);
        if now + TRIM_AFTER <= peak && due {
            peak = now;
            trimmed = Some(tokio::time::Instant::now());
            let _ = tokio::task::spawn_blocking(trim).await;
        } else {
            peak = peak.max(now);
        }
    }
}

/// Returns the allocator's free pages to the system.
fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free; no pointer is passed.
    unsafe {
        libc::malloc_trim(0);
    }
}
