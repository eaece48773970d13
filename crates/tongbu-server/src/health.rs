//! Session health: each participant's link (sampled four times a second from the media edge) judged
//! good, weak or lost against thresholds from the configuration, with the reasons, for the
//! operator dashboard and `/api/sessions/{id}/health`. A link with media on it and no loss
//! figure for it is unknown, never good by default.

use std::time::Instant;

use serde::Serialize;
use tongbu_rtc::LinkStats;
use utoipa::ToSchema;

/// Thresholds of the health states (`TONGBU_HEALTH_*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthThresholds {
    /// Loss (either way) at or above this fraction is weak. `TONGBU_HEALTH_WEAK_LOSS_PCT` (5).
    pub weak_loss: f32,
    /// Loss at or above this fraction is lost. `TONGBU_HEALTH_LOST_LOSS_PCT` (30).
    pub lost_loss: f32,
    /// Round-trip time at or above this is weak. `TONGBU_HEALTH_WEAK_RTT_MS` (300).
    pub weak_rtt_ms: f32,
    /// No report from the media edge for this long: lost. `TONGBU_HEALTH_STALE_SECS` (5).
    pub stale_secs: f32,
}

impl Default for HealthThresholds {
    fn default() -> Self {
        Self {
            weak_loss: 0.05,
            lost_loss: 0.30,
            weak_rtt_ms: 300.0,
            stale_secs: 5.0,
        }
    }
}

/// How a participant's link is doing; ordered from good to lost (the worse is the greater).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Good,
    /// Media flows but nothing says how much of it is lost: the peer's receiver reports carry no
    /// loss (or none has come yet).
    Unknown,
    Weak,
    Lost,
}

/// Where a participant's connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// Not connected yet.
    Connecting,
    Connected,
    /// It was connected and lost it, for less than the stale time: it may come back.
    Reconnecting,
    /// Lost for longer than that, or never measured again.
    Failed,
}

/// Its connection state: connected while either transport is.
pub fn connection(link: &LinkStats, now: Instant, t: &HealthThresholds) -> Connection {
    if link.send_connected || link.recv_connected {
        Connection::Connected
    } else if link.updated.is_none() && link.disconnected_for(now).is_none() {
        Connection::Connecting
    } else if link
        .disconnected_for(now)
        .is_some_and(|d| d.as_secs_f32() < t.stale_secs)
    {
        Connection::Reconnecting
    } else {
        Connection::Failed
    }
}

impl Health {
    /// Its name on the wire and in metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Good => "good",
            Health::Unknown => "unknown",
            Health::Weak => "weak",
            Health::Lost => "lost",
        }
    }
}

/// Judges a link; returns the state and why (empty when good).
pub fn classify(
    link: &LinkStats,
    now: Instant,
    t: &HealthThresholds,
) -> (Health, Vec<&'static str>) {
    let mut lost = Vec::new();
    let mut weak = Vec::new();
    match connection(link, now, t) {
        Connection::Connecting => weak.push("connecting"),
        Connection::Reconnecting => lost.push("reconnecting"),
        Connection::Failed => lost.push("not connected"),
        Connection::Connected => {}
    }
    if link.frozen {
        weak.push("video frozen");
    }
    match link.updated {
        Some(at) if now.saturating_duration_since(at).as_secs_f32() >= t.stale_secs => {
            lost.push("no media statistics")
        }
        _ => {}
    }
    for (loss, what_lost, what_weak) in [
        (
            link.loss_up,
            "most of its media is lost on the way in",
            "loses media on the way in",
        ),
        (
            link.loss_down,
            "most media to it is lost",
            "loses media sent to it",
        ),
    ] {
        match loss {
            Some(l) if l >= t.lost_loss => lost.push(what_lost),
            Some(l) if l >= t.weak_loss => weak.push(what_weak),
            _ => {}
        }
    }
    if link.rtt_ms().is_some_and(|r| r >= t.weak_rtt_ms) {
        weak.push("high round-trip time");
    }
    let mut unknown = Vec::new();
    if link.kbps_out > 0.0 && link.loss_down.is_none() {
        unknown.push("no loss reports for media sent to it");
    }
    if link.kbps_in > 0.0 && link.loss_up.is_none() {
        unknown.push("no loss figures for media it sends");
    }
    if !lost.is_empty() {
        (Health::Lost, lost)
    } else if !weak.is_empty() {
        (Health::Weak, weak)
    } else if !unknown.is_empty() {
        (Health::Unknown, unknown)
    } else {
        (Health::Good, Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn link(now: Instant) -> LinkStats {
        LinkStats {
            rtt_up_ms: Some(40.0),
            rtt_down_ms: Some(45.0),
            loss_up: Some(0.0),
            loss_down: Some(0.01),
            send_connected: true,
            recv_connected: true,
            updated: Some(now),
            ..LinkStats::default()
        }
    }

    #[test]
    fn media_without_a_loss_figure_is_unknown_not_good() {
        let t = HealthThresholds::default();
        let now = Instant::now();
        // A peer whose receiver reports carry no loss (or none has come yet).
        let mut l = LinkStats {
            kbps_out: 600.0,
            loss_down: None,
            ..link(now)
        };
        assert_eq!(
            classify(&l, now, &t),
            (
                Health::Unknown,
                vec!["no loss reports for media sent to it"]
            )
        );
        l.loss_down = Some(0.0);
        assert_eq!(classify(&l, now, &t).0, Health::Good);
        // Nothing sent to it: nothing to know.
        let quiet = LinkStats {
            kbps_out: 0.0,
            loss_down: None,
            ..link(now)
        };
        assert_eq!(classify(&quiet, now, &t).0, Health::Good);
        // A weak reason still wins: the link is known to be weak.
        let slow = LinkStats {
            kbps_out: 600.0,
            loss_down: None,
            rtt_up_ms: Some(400.0),
            ..link(now)
        };
        assert_eq!(classify(&slow, now, &t).0, Health::Weak);
        assert!(Health::Good < Health::Unknown && Health::Unknown < Health::Weak);
    }

    #[test]
    fn loss_rtt_and_silence_make_a_link_weak_or_lost() {
        let t = HealthThresholds::default();
        let now = Instant::now();
        assert_eq!(classify(&link(now), now, &t), (Health::Good, vec![]));
        let mut l = link(now);
        l.loss_down = Some(0.08);
        assert_eq!(classify(&l, now, &t).0, Health::Weak);
        l.rtt_down_ms = Some(450.0);
        assert_eq!(
            classify(&l, now, &t),
            (
                Health::Weak,
                vec!["loses media sent to it", "high round-trip time"]
            )
        );
        l.loss_up = Some(0.5);
        assert_eq!(classify(&l, now, &t).0, Health::Lost);
        let l = link(now);
        let later = now + Duration::from_secs(6);
        assert_eq!(
            classify(&l, later, &t),
            (Health::Lost, vec!["no media statistics"])
        );
        let mut l = link(now);
        l.set_connected(true, false, now);
        l.set_connected(false, false, now);
        assert_eq!(connection(&l, now, &t), Connection::Reconnecting);
        assert_eq!(classify(&l, now, &t), (Health::Lost, vec!["reconnecting"]));
        let later = now + Duration::from_secs(6);
        assert_eq!(connection(&l, later, &t), Connection::Failed);
        l.set_connected(false, true, later);
        assert_eq!(connection(&l, later, &t), Connection::Connected);
        assert_eq!(l.reconnects, 1);
        let mut l = link(now);
        l.frozen = true;
        assert_eq!(classify(&l, now, &t), (Health::Weak, vec!["video frozen"]));
        assert_eq!(
            classify(&LinkStats::default(), now, &t),
            (Health::Weak, vec!["connecting"])
        );
    }
}
