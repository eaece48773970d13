//! Prometheus metrics at `/metrics`: sessions, participants by role and health, the media edge's
//! counters, link RTT and loss histograms, and the process's CPU and memory. Labels are few and
//! bounded (role, health, reason); nothing is labelled per session, participant or packet.

use std::sync::Mutex;

use prometheus::{
    proto, Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};
use tongbu_rtc::forward_latency::BOUNDS_US;
use tongbu_rtc::{EdgeStats, LatencyHistogram};

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    sessions_live: IntGauge,
    participants: IntGaugeVec,
    participants_health: IntGaugeVec,
    transports: IntGauge,
    datagrams_in: IntCounter,
    datagrams_out: IntCounter,
    dropped: IntCounterVec,
    rtp_in: IntCounter,
    rtp_forwarded: IntCounter,
    red_in: IntCounter,
    red_recovered: IntCounter,
    send_batches: IntCounter,
    send_messages: IntCounter,
    send_errors: IntCounter,
    rtt: Histogram,
    loss: Histogram,
    cpu_seconds: prometheus::Counter,
    resident_bytes: IntGauge,
    tasks: IntGauge,
    /// Edge totals already counted, to turn them into counter increments.
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    edge: EdgeStats,
    cpu: f64,
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

impl Metrics {
    pub fn new() -> Self {
        let r = Registry::new();
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            r.register(Box::new(g.clone())).expect("unique metric");
            g
        };
        let gauge_vec = |name: &str, help: &str, label: &str| {
            let g = IntGaugeVec::new(Opts::new(name, help), &[label]).expect("valid metric");
            r.register(Box::new(g.clone())).expect("unique metric");
            g
        };
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
                .expect("valid metric");
            r.register(Box::new(h.clone())).expect("unique metric");
            h
        };
        let dropped = IntCounterVec::new(
            Opts::new(
                "tongbu_media_datagrams_dropped_total",
                "Datagrams dropped by the media edge, by reason",
            ),
            &["reason"],
        )
        .expect("valid metric");
        r.register(Box::new(dropped.clone()))
            .expect("unique metric");
        let cpu_seconds = prometheus::Counter::new(
            "tongbu_process_cpu_seconds_total",
            "CPU time (user + system) used by the server",
        )
        .expect("valid metric");
        r.register(Box::new(cpu_seconds.clone()))
            .expect("unique metric");
        Self {
            sessions_live: gauge(
                "tongbu_sessions_live",
                "Sessions with participants connected",
            ),
            participants: gauge_vec(
                "tongbu_participants",
                "Participants connected, by role",
                "role",
            ),
            participants_health: gauge_vec(
                "tongbu_participants_health",
                "Participants by link health (good, unknown, weak, lost)",
                "health",
            ),
            transports: gauge(
                "tongbu_media_transports",
                "WebRTC transports on the media edge",
            ),
            datagrams_in: counter(
                &r,
                "tongbu_media_datagrams_received_total",
                "UDP datagrams received",
            ),
            datagrams_out: counter(
                &r,
                "tongbu_media_datagrams_sent_total",
                "UDP datagrams sent",
            ),
            dropped,
            rtp_in: counter(
                &r,
                "tongbu_media_rtp_received_total",
                "RTP packets received from publishers",
            ),
            rtp_forwarded: counter(
                &r,
                "tongbu_media_rtp_forwarded_total",
                "RTP packets forwarded to subscribers",
            ),
            red_in: counter(
                &r,
                "tongbu_media_red_received_total",
                "Redundant audio (RED) packets received from publishers",
            ),
            red_recovered: counter(
                &r,
                "tongbu_media_red_recovered_total",
                "Packets lost on a publisher's uplink, rebuilt from the next packet's redundancy",
            ),
            send_batches: counter(&r, "tongbu_media_send_batches_total", "sendmmsg calls"),
            send_messages: counter(
                &r,
                "tongbu_media_send_messages_total",
                "messages those calls carried (a UDP GSO message carries several datagrams)",
            ),
            send_errors: counter(
                &r,
                "tongbu_media_send_errors_total",
                "Datagrams the kernel refused",
            ),
            rtt: histogram(
                "tongbu_participant_rtt_seconds",
                "Participants' round-trip time, sampled four times a second",
                vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0],
            ),
            loss: histogram(
                "tongbu_participant_loss_ratio",
                "Participants' packet loss (the worse direction), sampled four times a second",
                vec![0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5],
            ),
            cpu_seconds,
            resident_bytes: gauge(
                "tongbu_process_resident_memory_bytes",
                "Resident memory of the server",
            ),
            tasks: gauge(
                "tongbu_runtime_tasks",
                "Tasks alive in the server's async runtime (one per connection and a few more)",
            ),
            registry: r,
            seen: Mutex::default(),
        }
    }

    /// One participant's sample (four times a second).
    pub fn observe_link(&self, rtt_ms: Option<f32>, loss: Option<f32>) {
        if let Some(r) = rtt_ms {
            self.rtt.observe(f64::from(r) / 1000.0);
        }
        if let Some(l) = loss {
            self.loss.observe(f64::from(l));
        }
    }

    /// Who is connected, by role and by health.
    pub fn set_people(&self, sessions: usize, by_role: &[(&str, i64)], by_health: &[(&str, i64)]) {
        self.sessions_live.set(sessions as i64);
        for (role, n) in by_role {
            self.participants.with_label_values(&[role]).set(*n);
        }
        for (health, n) in by_health {
            self.participants_health
                .with_label_values(&[health])
                .set(*n);
        }
    }

    /// The async runtime's tasks alive now (a soak watches that they do not grow).
    pub fn set_tasks(&self, alive: usize) {
        self.tasks.set(alive as i64);
    }

    /// The edge's totals now: counters advance by what is new since the last call.
    pub fn set_edge(&self, s: &EdgeStats) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let d = |now: u64, before: u64| now.saturating_sub(before);
        self.transports.set(s.transports as i64);
        self.datagrams_in
            .inc_by(d(s.datagrams_in, seen.edge.datagrams_in));
        self.datagrams_out
            .inc_by(d(s.datagrams_out, seen.edge.datagrams_out));
        self.dropped
            .with_label_values(&["unknown_source"])
            .inc_by(d(
                s.dropped_unknown_source,
                seen.edge.dropped_unknown_source,
            ));
        self.dropped
            .with_label_values(&["malformed"])
            .inc_by(d(s.dropped_malformed, seen.edge.dropped_malformed));
        self.dropped
            .with_label_values(&["unmapped_rtp"])
            .inc_by(d(s.dropped_unmapped_rtp, seen.edge.dropped_unmapped_rtp));
        self.dropped
            .with_label_values(&["muted"])
            .inc_by(d(s.router.dropped_muted, seen.edge.router.dropped_muted));
        self.rtp_in.inc_by(d(s.rtp_in, seen.edge.rtp_in));
        self.rtp_forwarded
            .inc_by(d(s.router.forwarded, seen.edge.router.forwarded));
        self.red_in.inc_by(d(s.red_in, seen.edge.red_in));
        self.red_recovered
            .inc_by(d(s.red_recovered, seen.edge.red_recovered));
        self.send_batches
            .inc_by(d(s.send_batches, seen.edge.send_batches));
        self.send_messages
            .inc_by(d(s.send_messages, seen.edge.send_messages));
        self.send_errors
            .inc_by(d(s.send_errors, seen.edge.send_errors));
        seen.edge = *s;
        if let Some((cpu, rss)) = process_usage() {
            self.cpu_seconds.inc_by((cpu - seen.cpu).max(0.0));
            seen.cpu = cpu;
            self.resident_bytes.set(rss as i64);
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut families = self.registry.gather();
        let latency = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .edge
            .forward_latency;
        families.push(forward_latency_family(&latency));
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&families, &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// `tongbu_media_forward_latency_seconds`: the edge's own fixed-bucket histogram (kept inside
/// the media task without atomics) exported as a Prometheus histogram.
fn forward_latency_family(h: &LatencyHistogram) -> proto::MetricFamily {
    let mut cumulative = 0;
    let buckets = BOUNDS_US
        .iter()
        .zip(h.counts)
        .map(|(&bound, count)| {
            cumulative += count;
            let mut b = proto::Bucket::default();
            b.set_upper_bound(bound as f64 / 1e6);
            b.set_cumulative_count(cumulative);
            b
        })
        .collect();
    let mut hist = proto::Histogram::default();
    hist.set_bucket(buckets);
    hist.set_sample_count(h.count());
    hist.set_sample_sum(h.sum_us as f64 / 1e6);
    let mut m = proto::Metric::default();
    m.set_histogram(hist);
    let mut f = proto::MetricFamily::default();
    f.set_name("tongbu_media_forward_latency_seconds".into());
    f.set_help(
        "Time a received RTP packet spends in the server, from socket read to its copies handed \
         to the kernel"
            .into(),
    );
    f.set_field_type(proto::MetricType::HISTOGRAM);
    f.set_metric(vec![m]);
    f
}

/// CPU seconds (user + system) and resident bytes of this process, from `/proc/self`.
pub fn process_usage() -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) end at the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (utime, stime): (f64, f64) = (fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?);
    let rss_pages: u64 = fields.get(21)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if ticks <= 0 || page <= 0 {
        return None;
    }
    Some(((utime + stime) / ticks as f64, rss_pages * page as u64))
}
