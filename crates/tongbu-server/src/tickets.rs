//! Short-lived tickets for the live health feed. A browser cannot set headers on a WebSocket,
//! and the operator token must never travel in a URL (proxies, logs and browser history keep
//! URLs): the dashboard asks for a ticket with the credential in its header
//! (`POST /api/live-ticket`), then opens the feed with the ticket, which works once, within
//! [`TICKET_TTL`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::{ApiErrorBody, Operator};
use crate::server::AppState;

/// How long a ticket may wait to be used.
pub const TICKET_TTL: Duration = Duration::from_secs(30);

/// Tickets not used yet.
#[derive(Debug, Default)]
pub struct Tickets {
    issued: Mutex<HashMap<String, Instant>>,
}

impl Tickets {
    /// A new ticket, valid until `now + TICKET_TTL`.
    pub fn issue(&self, now: Instant) -> String {
        let bytes: [u8; 16] = rand::random();
        let ticket: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        // Expired ones go as new ones come: the map holds at most a burst's worth.
        issued.retain(|_, &mut until| until > now);
        issued.insert(ticket.clone(), now + TICKET_TTL);
        ticket
    }

    /// Whether `ticket` is one not yet used nor expired; it cannot be used again.
    pub fn redeem(&self, ticket: &str, now: Instant) -> bool {
        let mut issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        issued.remove(ticket).is_some_and(|until| until > now)
    }
}

/// A ticket for the live health feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveTicket {
    /// Give it as `?ticket=` to `/api/sessions/{id}/health/live`; it works once.
    pub ticket: String,
    pub expires_in_secs: u64,
}

#[utoipa::path(post, path = "/api/live-ticket", tag = "health", security(("operator" = [])),
    responses(
        (status = 200, description = "a ticket that opens the live health feed once, within 30 s", body = LiveTicket),
        (status = 401, body = ApiErrorBody)))]
pub async fn live_ticket(State(app): State<Arc<AppState>>, _: Operator) -> Json<LiveTicket> {
    Json(LiveTicket {
        ticket: app.tickets.issue(Instant::now()),
        expires_in_secs: TICKET_TTL.as_secs(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_works_once_and_not_after_its_time() {
        let t = Tickets::default();
        let now = Instant::now();
        let a = t.issue(now);
        assert_eq!(a.len(), 32);
        assert!(t.redeem(&a, now + Duration::from_secs(1)));
        assert!(!t.redeem(&a, now + Duration::from_secs(1)), "used once");
        let b = t.issue(now);
        assert!(!t.redeem(&b, now + TICKET_TTL), "expired");
        assert!(!t.redeem("made-up", now));
    }
}
