//! What each participant's link measures, folded into one [`LinkStats`] per participant. The
//! way up (what it publishes) is str0m's: it reports the send transport four times a second
//! (RTT, loss, bytes, jitter). The way down is Tongbu's own, since Tongbu sends that media: its
//! receiver reports (loss, RTT), its NACKs and PLIs, the bytes sent and the bandwidth estimate,
//! summed once a second by the worker.

use std::time::{Duration, Instant};

use str0m::stats::{MediaIngressStats, PeerStats};

/// How often str0m reports (four times a second, so that a receiver report reaches the health
/// sample within a quarter second).
pub const STATS_INTERVAL: Duration = Duration::from_millis(250);

/// One participant's link, as last measured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LinkStats {
    /// Round-trip time in ms on the transport it publishes on, and on the one it receives on.
    pub rtt_up_ms: Option<f32>,
    pub rtt_down_ms: Option<f32>,
    /// Fraction (0–1) of what it publishes lost on the way to the server.
    pub loss_up: Option<f32>,
    /// Fraction (0–1) of what the server sends it lost on the way (its receiver reports).
    pub loss_down: Option<f32>,
    /// Bitrate received from it, kbit/s.
    pub kbps_in: f32,
    /// Bitrate sent to it, kbit/s.
    pub kbps_out: f32,
    /// NACKs and PLIs it sent (it lost packets, it needed a keyframe), since it joined.
    pub nacks: u64,
    pub plis: u64,
    /// The estimate of its downlink from its transport-wide feedback (or its REMB), kbit/s.
    pub estimate_kbps_down: Option<f32>,
    /// Interarrival jitter of what it publishes, at the server, ms.
    pub jitter_ms: Option<f32>,
    /// Transports connected now.
    pub send_connected: bool,
    pub recv_connected: bool,
    /// When the `send` and the `recv` transport lost their connection (cleared when back).
    pub send_lost_at: Option<Instant>,
    pub recv_lost_at: Option<Instant>,
    /// Times a transport came back after losing its connection.
    pub reconnects: u32,
    /// Video freezes (no new frame for over 500 ms) in what the server forwarded to it, beyond
    /// pauses of the publisher's own stream (it waited for a keyframe); since it joined.
    pub freezes: u64,
    /// Whether video it receives stands still right now, for that reason.
    pub frozen: bool,
    /// Whether any video reaches it yet.
    pub receiving_video: bool,
    /// Whether its video is paused on purpose to keep its audio (its link cannot carry both).
    pub video_paused: bool,
    /// How loud its microphone is now (smoothed amplitude, 0 silent to 1 full scale).
    pub voice: f32,
    /// The best simulcast layer it receives now (0 the lowest) of the cameras published in
    /// layers, and how many layers those have; `None` while it receives none.
    pub video_layer: Option<(u8, u8)>,
    /// Freezes of the video it publishes, and gaps (over 200 ms) of its audio, as the server
    /// receives them: its uplink or its encoder stalled.
    pub freezes_up: u64,
    pub audio_gaps_up: u64,
    /// The codec of the video it publishes (`None`: it publishes none).
    pub video_codec: Option<tongbu_media::Codec>,
    /// When str0m last reported on it.
    pub updated: Option<Instant>,
}

impl LinkStats {
    /// The worse round-trip time of its transports.
    pub fn rtt_ms(&self) -> Option<f32> {
        match (self.rtt_up_ms, self.rtt_down_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// Its `send` (or `recv`) transport connected or went. A connection after a loss is a
    /// reconnect.
    pub fn set_connected(&mut self, send: bool, connected: bool, now: Instant) {
        let (slot, lost_at) = if send {
            (&mut self.send_connected, &mut self.send_lost_at)
        } else {
            (&mut self.recv_connected, &mut self.recv_lost_at)
        };
        if *slot == connected {
            return;
        }
        *slot = connected;
        if connected {
            if lost_at.take().is_some() {
                self.reconnects += 1;
            }
        } else {
            *lost_at = Some(now);
        }
    }

    /// How long since its most recent loss of a connection it has not got back (`None`: it
    /// never lost one).
    pub fn disconnected_for(&self, now: Instant) -> Option<Duration> {
        [self.send_lost_at, self.recv_lost_at]
            .into_iter()
            .flatten()
            .map(|at| now.saturating_duration_since(at))
            .min()
    }

    /// str0m's report of its send transport; `meter` is that transport's byte counters.
    pub fn send_transport(&mut self, meter: &mut Meter, s: &PeerStats) {
        let (kin, _) = meter.rates(s.peer_bytes_rx, s.peer_bytes_tx, s.timestamp);
        self.kbps_in = kin;
        self.rtt_up_ms = s.rtt.map(|d| d.as_secs_f32() * 1000.0).or(self.rtt_up_ms);
        self.loss_up = s.ingress_loss_fraction.or(self.loss_up);
        self.updated = Some(s.timestamp);
    }

    /// Tongbu's own view of its recv transport, once a second.
    pub fn recv_transport(&mut self, down: &Downlink, now: Instant) {
        self.kbps_out = down.kbps;
        self.loss_down = down.loss.or(self.loss_down);
        self.rtt_down_ms = down
            .rtt
            .map(|d| d.as_secs_f32() * 1000.0)
            .or(self.rtt_down_ms);
        self.nacks = down.nacks;
        self.plis = down.keyframe_requests;
        self.estimate_kbps_down = down.estimate_bps.map(|b| b as f32 / 1000.0);
        self.updated = Some(now);
    }

    /// A media line it publishes: jitter (in the media's clock) and loss on the way in.
    pub fn ingress(&mut self, clock_rate: u32, s: &MediaIngressStats) {
        if clock_rate > 0 {
            self.jitter_ms = Some(s.jitter as f32 * 1000.0 / clock_rate as f32);
        }
        if let Some(l) = s.loss {
            self.loss_up = Some(l);
        }
    }
}

/// What Tongbu measured of one recv transport in the last second.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Downlink {
    pub kbps: f32,
    /// The worst fraction lost its receiver reports give of any stream.
    pub loss: Option<f32>,
    pub rtt: Option<Duration>,
    pub nacks: u64,
    pub keyframe_requests: u64,
    pub estimate_bps: Option<u64>,
}

/// Byte counters of one transport at its last report, to turn totals into rates.
#[derive(Debug, Clone, Copy, Default)]
pub struct Meter {
    rx: u64,
    tx: u64,
    at: Option<Instant>,
}

impl Meter {
    /// Rates (kbit/s in, out) since the previous report.
    pub fn rates(&mut self, rx: u64, tx: u64, at: Instant) -> (f32, f32) {
        let rates = match self.at {
            Some(prev) if at > prev => {
                let secs = (at - prev).as_secs_f32();
                let kbps =
                    |now: u64, before: u64| now.saturating_sub(before) as f32 * 8.0 / 1000.0 / secs;
                (kbps(rx, self.rx), kbps(tx, self.tx))
            }
            _ => (0.0, 0.0),
        };
        *self = Meter {
            rx,
            tx,
            at: Some(at),
        };
        rates
    }
}
