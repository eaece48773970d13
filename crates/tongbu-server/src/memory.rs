//! Memory that closed connections freed goes back to the system. An allocator keeps freed
//! pages for reuse, so after a lecture's audience leaves — thousands of WebSockets, outboxes
//! and transports — the process went on holding what they used (369 MiB after 2,000 listeners
//! had left, against 358 MiB with all of them in). Once the connections have fallen well below
//! their peak, the free pages are handed back at once: jemalloc's (the server binary's
//! allocator) by purging its arenas, glibc's (what the C libraries — SQLite, aws-lc — allocate
//! with) by `malloc_trim`.

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

/// Returns the allocators' free pages to the system.
fn trim() {
    // jemalloc's "all arenas" index (MALLCTL_ARENAS_ALL).
    const PURGE_ALL: &std::ffi::CStr = c"arena.4096.purge";
    // SAFETY: a void mallctl: no old or new value is read or written. When jemalloc is not the
    // global allocator (the library's own tests), its arenas are empty and this does nothing.
    let status = unsafe {
        tikv_jemalloc_sys::mallctl(
            PURGE_ALL.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if status != 0 {
        tracing::debug!(status, "jemalloc purge refused");
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free; no pointer is passed.
    unsafe {
        libc::malloc_trim(0);
    }
}
