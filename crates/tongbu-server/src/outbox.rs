//! A participant's outbox: the signaling messages waiting for its connection to send them.
//!
//! A connection is judged slow by how long its oldest message has waited and how many bytes
//! wait, never by how many messages: the end of a lecture sends every listener hundreds of
//! `participant_left` within a second, and a page that reads promptly drains them in
//! milliseconds. A message is serialized once per broadcast ([`Outgoing`] holds the JSON text,
//! shared by every outbox it is pushed to).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::Notify;
use tongbu_signal::ServerMessage;

/// How long the oldest message may wait before the connection counts as not keeping up.
pub const MAX_WAIT: Duration = Duration::from_secs(10);
/// How many bytes may wait before the connection counts as not keeping up.
pub const MAX_BYTES: usize = 1 << 20;
/// A host is never dropped for lag (its page is the lesson); only this much waiting, which no
/// live connection reaches, marks its connection as dead.
pub const HOST_MAX_BYTES: usize = 32 << 20;

/// What the connection does once it has sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Goes on.
    Continue,
    /// Closes: the session is over.
    End,
    /// Closes with [`crate::ws::REPLACED_CLOSE`]: the same link joined again elsewhere.
    Replaced,
    /// Closes with [`crate::ws::REMOVED_CLOSE`]: the host removed the participant.
    Removed,
}

/// One message, serialized, and what follows its sending.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub text: Utf8Bytes,
    pub then: Then,
}

impl Outgoing {
    /// Serializes `msg` (once; clones share the text).
    pub fn new(msg: &ServerMessage) -> Self {
        let then = match msg {
            ServerMessage::SessionState { state } if state.is_over() => Then::End,
            ServerMessage::Replaced => Then::Replaced,
            ServerMessage::Removed => Then::Removed,
            _ => Then::Continue,
        };
        Self {
            text: msg.to_json().into(),
            then,
        }
    }
}

/// What became of a pushed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    Queued,
    /// The connection fell behind just now: its outbox closed, its connection ends.
    FellBehind,
    /// The outbox had closed already; the message is dropped.
    Closed,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<(Instant, Outgoing)>,
    bytes: usize,
    closed: bool,
}

/// The queue of one connection: rooms push, the connection's task takes.
pub struct Outbox {
    queue: Mutex<Queue>,
    ready: Notify,
    /// Bytes that may wait before the connection counts as not keeping up.
    max_bytes: usize,
    /// How long the oldest message may wait (None: no limit by time).
    max_wait: Option<Duration>,
}

impl Outbox {
    /// The outbox of a participant's connection; a host's is never closed for lag.
    pub fn new(host: bool) -> Self {
        let (max_bytes, max_wait) = if host {
            (HOST_MAX_BYTES, None)
        } else {
            (MAX_BYTES, Some(MAX_WAIT))
        };
        Self {
            queue: Mutex::default(),
            ready: Notify::new(),
            max_bytes,
            max_wait,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a message. If the connection has fallen behind (its oldest message waited too
    /// long, or too much waits), the outbox closes, drops what waits and says so: the
    /// connection then ends and its page reconnects, rather than the server holding an
    /// ever-growing backlog for it; leaving its room then tells the others.
    pub fn push(&self, msg: Outgoing, now: Instant) -> Push {
        let mut q = self.lock();
        if q.closed {
            return Push::Closed;
        }
        let waited = q
            .items
            .front()
            .map_or(Duration::ZERO, |(at, _)| now.saturating_duration_since(*at));
        let too_long = self.max_wait.is_some_and(|max| waited > max);
        if too_long || q.bytes + msg.text.len() > self.max_bytes {
            q.closed = true;
            q.items.clear();
            q.bytes = 0;
            drop(q);
            self.ready.notify_one();
            return Push::FellBehind;
        }
        q.bytes += msg.text.len();
        q.items.push_back((now, msg));
        drop(q);
        self.ready.notify_one();
        Push::Queued
    }

    /// The next message to send; None once the outbox was closed for lag. Cancel-safe.
    pub async fn next(&self) -> Option<Outgoing> {
        loop {
            {
                let mut q = self.lock();
                if let Some((_, m)) = q.items.pop_front() {
                    q.bytes -= m.text.len();
                    return Some(m);
                }
                if q.closed {
                    return None;
                }
            }
            // A push between the check above and this wait leaves a permit: no wake-up is lost.
            self.ready.notified().await;
        }
    }

    /// Messages waiting now.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(n: usize) -> Outgoing {
        Outgoing::new(&ServerMessage::Chat {
            from: 1,
            name: "北京八中".into(),
            text: "x".repeat(n),
        })
    }

    #[tokio::test]
    async fn a_burst_that_is_read_promptly_loses_nothing() {
        let out = Outbox::new(false);
        let t0 = Instant::now();
        // A thousand messages in one instant: a lecture's audience leaving at the bell.
        for _ in 0..1000 {
            assert_eq!(out.push(chat(50), t0), Push::Queued);
        }
        for _ in 0..1000 {
            assert!(out.next().await.is_some());
        }
        assert!(out.is_empty());
        assert_eq!(
            out.push(chat(50), t0 + Duration::from_secs(1)),
            Push::Queued
        );
    }

    #[tokio::test]
    async fn a_connection_that_stops_reading_is_closed_by_time() {
        let out = Outbox::new(false);
        let t0 = Instant::now();
        assert_eq!(out.push(chat(10), t0), Push::Queued);
        assert_eq!(out.push(chat(10), t0 + MAX_WAIT), Push::Queued);
        assert_eq!(
            out.push(chat(10), t0 + MAX_WAIT + Duration::from_millis(1)),
            Push::FellBehind
        );
        // What waited is dropped; the connection learns it fell behind.
        assert!(out.next().await.is_none());
        assert_eq!(out.push(chat(10), t0), Push::Closed);
    }

    #[test]
    fn a_connection_with_too_much_waiting_is_closed_by_bytes() {
        let out = Outbox::new(false);
        let t0 = Instant::now();
        let big = chat(64 * 1024);
        let fit = MAX_BYTES / big.text.len();
        for _ in 0..fit {
            assert_eq!(out.push(big.clone(), t0), Push::Queued);
        }
        assert_eq!(out.push(big, t0), Push::FellBehind);
    }

    #[test]
    fn a_host_is_not_closed_for_lag() {
        let out = Outbox::new(true);
        let t0 = Instant::now();
        assert_eq!(out.push(chat(10), t0), Push::Queued);
        let late = t0 + Duration::from_secs(600);
        assert_eq!(out.push(chat(64 * 1024), late), Push::Queued);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn a_message_is_serialized_once_for_every_outbox() {
        let m = chat(10);
        let (a, b) = (Outbox::new(false), Outbox::new(true));
        assert_eq!(a.push(m.clone(), Instant::now()), Push::Queued);
        assert_eq!(b.push(m.clone(), Instant::now()), Push::Queued);
        // Clones share the text's bytes.
        assert_eq!(m.text.as_str().as_ptr(), m.clone().text.as_str().as_ptr());
        assert_eq!(m.then, Then::Continue);
        assert_eq!(Outgoing::new(&ServerMessage::Replaced).then, Then::Replaced);
    }

    #[tokio::test]
    async fn the_reader_wakes_for_a_message_pushed_while_it_waits() {
        let out = std::sync::Arc::new(Outbox::new(false));
        let reader = tokio::spawn({
            let out = out.clone();
            async move { out.next().await.map(|m| m.text.to_string()) }
        });
        tokio::task::yield_now().await;
        assert_eq!(out.push(chat(3), Instant::now()), Push::Queued);
        let got = tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("the reader woke")
            .unwrap();
        assert!(got.unwrap().contains("xxx"));
    }
}
