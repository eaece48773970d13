//! Building a session's quality report from its health samples. The sampler hands every
//! participant's sample to the session's [`ReportBuilder`] four times a second; when the session
//! ends, [`finish`] turns it into a [`QualityReport`] and stores it with the session. Pure
//! bookkeeping over numbers, tested without a network.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tongbu_schedule::report::{HealthTime, ParticipantReport, ReportPoint, VideoTime};
use tongbu_schedule::{QualityReport, Role, SessionId};

use crate::distribution::Distribution;
use crate::health::{Connection, Health};
use crate::server::{now_utc, AppState};
use crate::session_health::{ParticipantHealth, VideoState};

/// Seconds per point of the report's timelines (the finest: see [`TIMELINE_POINTS`]).
pub const TIMELINE_STEP_SECS: u32 = 5;

/// Points a participant's timeline holds at most: at this many, neighbouring points merge and
/// its step doubles (5 s for the first 20 minutes, 10 s to 40, …), so that what a session
/// keeps of each room does not grow with its length — a 45-minute lesson's chart has 135
/// points a line, and a classroom costs the same in a lesson's second hour as in its first.
pub const TIMELINE_POINTS: usize = 240;

/// Who a participant is across rejoins: a classroom (or the host) by its school and name; a
/// person on a shared link (the audience of a lecture) by their connection, since many people
/// share one name there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum PersonKey {
    Room(Role, Option<String>, String),
    Connection(u64),
}

impl PersonKey {
    fn of(p: &ParticipantHealth) -> Self {
        match p.role {
            Role::Host | Role::Classroom => {
                PersonKey::Room(p.role, p.school.clone(), p.name.clone())
            }
            _ => PersonKey::Connection(p.participant),
        }
    }
}

/// A participant that has not connected its media after this long counts as lost.
const CONNECT_GRACE_SECS: f64 = 5.0;

/// A session's samples so far.
#[derive(Debug, Clone)]
pub struct ReportBuilder {
    session: SessionId,
    first_utc: i64,
    last_utc: i64,
    people: Vec<Person>,
    by_key: HashMap<PersonKey, usize>,
}

/// One person's running totals.
#[derive(Debug, Clone)]
struct Person {
    name: String,
    role: Role,
    school: Option<String>,
    /// Each connection's (participant id's) counters: last seen, and what they added up to.
    /// The edge's counters can restart (a track or transport replaced), so only rises count.
    connections: HashMap<u64, (Counters, Counters)>,
    /// When it was first and last sampled (seconds since the session's first sample).
    first_seen: f64,
    last_sampled: Option<f64>,
    connected_secs: f64,
    video: VideoTime,
    /// Seconds its video flowed at the top layer (or without layers).
    top_layer_secs: f64,
    bwe_down: Distribution,
    health: HealthTime,
    loss_up: Distribution,
    loss_down: Distribution,
    rtt: Distribution,
    jitter: Distribution,
    kbps_in: (f64, f64),
    kbps_out: (f64, f64),
    /// Whether it has a timeline: the rooms (host and classrooms) do; a lecture's listeners
    /// and a lesson's observers are summed up without one — the charts follow the rooms, and
    /// 2,000 listeners' timelines would make every 10-s draft tens of megabytes.
    charted: bool,
    timeline: Vec<Bucket>,
    /// Seconds per point of `timeline` (a multiple of [`TIMELINE_STEP_SECS`]).
    step: u32,
    /// The codecs of the video it published, in the order first seen.
    video_codecs: Vec<&'static str>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    reconnects: u64,
    freezes: u64,
    audio_gaps_up: u64,
    freezes_up: u64,
    nacks: u64,
    plis: u64,
}

impl Counters {
    fn of(p: &ParticipantHealth) -> Self {
        Self {
            reconnects: u64::from(p.reconnects),
            freezes: p.freezes,
            audio_gaps_up: p.audio_gaps_up,
            freezes_up: p.freezes_up,
            nacks: p.nacks,
            plis: p.plis,
        }
    }

    /// Adds to `total` what rose since `last` (a counter that went down restarted from zero).
    fn accumulate(total: &mut Counters, last: &Counters, now: &Counters) {
        let rise = |now: u64, last: u64| if now >= last { now - last } else { now };
        total.reconnects += rise(now.reconnects, last.reconnects);
        total.freezes += rise(now.freezes, last.freezes);
        total.audio_gaps_up += rise(now.audio_gaps_up, last.audio_gaps_up);
        total.freezes_up += rise(now.freezes_up, last.freezes_up);
        total.nacks += rise(now.nacks, last.nacks);
        total.plis += rise(now.plis, last.plis);
    }
}

/// Sums over one timeline step.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    t: u32,
    n: u32,
    loss_up: (f32, u32),
    loss_down: (f32, u32),
    rtt: (f32, u32),
    kbps_in: f32,
    kbps_out: f32,
}

impl Bucket {
    /// Adds `other`'s sums to this point's.
    fn absorb(&mut self, other: &Bucket) {
        self.n += other.n;
        for (into, from) in [
            (&mut self.loss_up, other.loss_up),
            (&mut self.loss_down, other.loss_down),
            (&mut self.rtt, other.rtt),
        ] {
            into.0 += from.0;
            into.1 += from.1;
        }
        self.kbps_in += other.kbps_in;
        self.kbps_out += other.kbps_out;
    }
}

impl ReportBuilder {
    /// A session whose first sample is taken at `utc`.
    pub fn new(session: SessionId, utc: i64) -> Self {
        Self {
            session,
            first_utc: utc,
            last_utc: utc,
            people: Vec::new(),
            by_key: HashMap::new(),
        }
    }

    /// One participant's sample at `elapsed` seconds since the first, standing for `dt` seconds.
    pub fn add(&mut self, utc: i64, elapsed: f64, dt: f64, p: &ParticipantHealth) {
        self.last_utc = self.last_utc.max(utc);
        let key = PersonKey::of(p);
        let index = *self.by_key.entry(key).or_insert_with(|| {
            self.people.push(Person::new(p, elapsed));
            self.people.len() - 1
        });
        self.people[index].add(elapsed, dt, p);
    }

    /// The report, as of `ended_utc`.
    pub fn finish(self, ended_utc: i64) -> QualityReport {
        let sampled = !self.people.is_empty();
        QualityReport {
            session: self.session,
            first_sample_utc: sampled.then_some(self.first_utc),
            last_sample_utc: sampled.then_some(self.last_utc),
            ended_utc,
            timeline_step_secs: TIMELINE_STEP_SECS,
            participants: self.people.into_iter().map(Person::finish).collect(),
        }
    }
}

impl Person {
    fn new(p: &ParticipantHealth, elapsed: f64) -> Self {
        Self {
            name: p.name.clone(),
            role: p.role,
            school: p.school.clone(),
            connections: HashMap::new(),
            first_seen: elapsed,
            last_sampled: None,
            connected_secs: 0.0,
            video: VideoTime::default(),
            top_layer_secs: 0.0,
            bwe_down: Distribution::default(),
            health: HealthTime::default(),
            loss_up: Distribution::default(),
            loss_down: Distribution::default(),
            rtt: Distribution::default(),
            jitter: Distribution::default(),
            kbps_in: (0.0, 0.0),
            kbps_out: (0.0, 0.0),
            charted: matches!(p.role, Role::Host | Role::Classroom),
            timeline: Vec::new(),
            step: TIMELINE_STEP_SECS,
            video_codecs: Vec::new(),
        }
    }

    fn add(&mut self, elapsed: f64, dt: f64, p: &ParticipantHealth) {
        let now = Counters::of(p);
        let (last, total) = self
            .connections
            .entry(p.participant)
            .or_insert((Counters::default(), Counters::default()));
        Counters::accumulate(total, last, &now);
        *last = now;
        if let Some(c) = p.video_codec.filter(|c| !self.video_codecs.contains(c)) {
            self.video_codecs.push(c);
        }
        // Two connections of one classroom at once (a second tab, an old one still closing):
        // the time counts once.
        if self.last_sampled == Some(elapsed) {
            return;
        }
        self.last_sampled = Some(elapsed);
        // Setting up is nobody's trouble, unless media never connects (UDP blocked, …).
        let health = if p.connection == Connection::Connecting {
            if elapsed - self.first_seen < CONNECT_GRACE_SECS {
                return;
            }
            Health::Lost
        } else {
            p.health
        };
        match health {
            Health::Good => self.health.good += dt,
            Health::Unknown => self.health.unknown += dt,
            Health::Weak => self.health.weak += dt,
            Health::Lost => self.health.lost += dt,
        }
        if p.connection != Connection::Connected {
            return;
        }
        self.connected_secs += dt;
        let top = match (p.video_layer, p.video_layers) {
            (Some(l), Some(n)) => l + 1 >= n,
            _ => true,
        };
        if p.video == VideoState::Flowing && top {
            self.top_layer_secs += dt;
        }
        match p.video {
            VideoState::Flowing => self.video.flowing += dt,
            VideoState::Frozen => self.video.frozen += dt,
            VideoState::Paused => self.video.paused += dt,
            VideoState::None => self.video.none += dt,
        }
        for (v, into) in [
            (p.loss_up_pct, &mut self.loss_up),
            (p.loss_down_pct, &mut self.loss_down),
            (p.rtt_ms, &mut self.rtt),
            (p.jitter_ms, &mut self.jitter),
            (p.bwe_down_kbps, &mut self.bwe_down),
        ] {
            if let Some(v) = v {
                into.add(v);
            }
        }
        // Bitrates only count once the link reports them.
        self.kbps_in.0 += f64::from(p.kbps_in) * dt;
        self.kbps_in.1 += dt;
        self.kbps_out.0 += f64::from(p.kbps_out) * dt;
        self.kbps_out.1 += dt;
        if !self.charted {
            return;
        }
        let mut t = (elapsed.max(0.0) as u32 / self.step) * self.step;
        // A new point when the timeline is full: merge the old ones first.
        if self.timeline.len() >= TIMELINE_POINTS && self.timeline.last().is_none_or(|b| b.t != t) {
            self.coarsen();
            t = (elapsed.max(0.0) as u32 / self.step) * self.step;
        }
        if self.timeline.last().is_none_or(|b| b.t != t) {
            self.timeline.push(Bucket {
                t,
                ..Bucket::default()
            });
        }
        if let Some(b) = self.timeline.last_mut() {
            b.n += 1;
            for (v, into) in [
                (p.loss_up_pct, &mut b.loss_up),
                (p.loss_down_pct, &mut b.loss_down),
                (p.rtt_ms, &mut b.rtt),
            ] {
                if let Some(v) = v {
                    into.0 += v;
                    into.1 += 1;
                }
            }
            b.kbps_in += p.kbps_in;
            b.kbps_out += p.kbps_out;
        }
    }

    /// Doubles the timeline's step, merging its points in place (their sums add up).
    fn coarsen(&mut self) {
        self.step *= 2;
        let step = self.step;
        let mut kept: usize = 0;
        for i in 0..self.timeline.len() {
            let b = self.timeline[i];
            let t = b.t / step * step;
            match kept.checked_sub(1).map(|last| &mut self.timeline[last]) {
                Some(last) if last.t == t => last.absorb(&b),
                _ => {
                    self.timeline[kept] = Bucket { t, ..b };
                    kept += 1;
                }
            }
        }
        self.timeline.truncate(kept);
    }

    fn finish(self) -> ParticipantReport {
        let total =
            |f: fn(&Counters) -> u64| self.connections.values().map(|(_, t)| f(t)).sum::<u64>();
        let joins = self.connections.len() as u32;
        let seen_video = self.video.flowing + self.video.frozen + self.video.paused;
        let mean = |(sum, secs): (f64, f64)| {
            if secs > 0.0 {
                (sum / secs) as f32
            } else {
                0.0
            }
        };
        ParticipantReport {
            joins,
            reconnects: joins.saturating_sub(1)
                + u32::try_from(total(|c| c.reconnects)).unwrap_or(u32::MAX),
            connected_secs: self.connected_secs,
            video_secs: self.video,
            top_layer_pct: (seen_video > 0.0)
                .then(|| (self.top_layer_secs / seen_video * 100.0) as f32),
            freezes: total(|c| c.freezes),
            audio_gaps_up: total(|c| c.audio_gaps_up),
            freezes_up: total(|c| c.freezes_up),
            nacks: total(|c| c.nacks),
            plis: total(|c| c.plis),
            loss_up_pct: self.loss_up.spread(),
            loss_down_pct: self.loss_down.spread(),
            rtt_ms: self.rtt.spread(),
            jitter_ms: self.jitter.spread(),
            kbps_in_mean: mean(self.kbps_in),
            kbps_out_mean: mean(self.kbps_out),
            bwe_down_kbps: self.bwe_down.spread(),
            health_secs: self.health,
            timeline: self
                .timeline
                .iter()
                .map(|b| {
                    let avg = |(sum, n): (f32, u32)| (n > 0).then(|| sum / n as f32);
                    let n = b.n.max(1) as f32;
                    ReportPoint {
                        t: b.t,
                        loss_up_pct: avg(b.loss_up),
                        loss_down_pct: avg(b.loss_down),
                        rtt_ms: avg(b.rtt),
                        kbps_in: b.kbps_in / n,
                        kbps_out: b.kbps_out / n,
                    }
                })
                .collect(),
            name: self.name,
            role: self.role,
            school: self.school,
            video_codecs: self.video_codecs.iter().map(|c| c.to_string()).collect(),
        }
    }
}

/// Ended sessions remembered so that their late samples are ignored.
const FINISHED_KEPT: usize = 4096;

/// The builders of live sessions, and the sessions already reported (so that late samples of
/// an ended session do not start a new one).
#[derive(Debug, Default)]
pub struct Reports {
    building: HashMap<SessionId, (ReportBuilder, std::time::Instant)>,
    finished: HashSet<SessionId>,
    /// What was sampled before this server started (a restart), continued by the builders.
    earlier: HashMap<SessionId, QualityReport>,
}

/// How often a running session's report so far is written to the store: a restart, even a
/// kill -9, loses at most this much of it.
pub const DRAFT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl Reports {
    /// Records one sample of a session; `now` gives the time since its first sample.
    pub fn add(
        &mut self,
        session: SessionId,
        now: std::time::Instant,
        dt: f64,
        ps: &[ParticipantHealth],
    ) {
        if self.finished.contains(&session) {
            return;
        }
        let utc = now_utc();
        let (b, since) = self
            .building
            .entry(session)
            .or_insert_with(|| (ReportBuilder::new(session, utc), now));
        let elapsed = now.saturating_duration_since(*since).as_secs_f64();
        for p in ps {
            b.add(utc, elapsed, dt, p);
        }
    }

    /// The session was cancelled: forget what was sampled.
    pub fn discard(&mut self, session: SessionId) {
        self.building.remove(&session);
        self.earlier.remove(&session);
        self.mark_finished(session);
    }

    /// Reports that continue the drafts a previous run of the server left (sessions it did
    /// not finish).
    pub fn restored(drafts: Vec<QualityReport>) -> Self {
        Self {
            earlier: drafts.into_iter().map(|d| (d.session, d)).collect(),
            ..Self::default()
        }
    }

    /// Every running session's report so far (what came before a restart included), as of
    /// `now_utc`, for the store.
    pub fn drafts(&self, now_utc: i64) -> Vec<QualityReport> {
        self.building
            .iter()
            .map(|(&session, (b, _))| self.continued(session, b.clone().finish(now_utc)))
            .collect()
    }

    /// `later` after what was sampled before this server started, if anything was.
    fn continued(&self, session: SessionId, later: QualityReport) -> QualityReport {
        match self.earlier.get(&session) {
            Some(e) => e.clone().continued_by(later),
            None => later,
        }
    }

    /// Remembers that the session is over, keeping the memory bounded: samples of a session
    /// arrive for a few seconds after its end at most, so old entries can go.
    fn mark_finished(&mut self, session: SessionId) {
        if self.finished.len() >= FINISHED_KEPT {
            self.finished.clear();
        }
        self.finished.insert(session);
    }

    /// The session's report as of `ended_utc` (what came before a restart included); its
    /// builder is done.
    fn take(&mut self, session: SessionId, ended_utc: i64) -> QualityReport {
        self.mark_finished(session);
        let report = self
            .building
            .remove(&session)
            .map(|(b, _)| b)
            .unwrap_or_else(|| ReportBuilder::new(session, ended_utc))
            .finish(ended_utc);
        match self.earlier.remove(&session) {
            Some(e) => e.continued_by(report),
            None => report,
        }
    }
}

/// Writes every running session's report so far to the store (see [`DRAFT_EVERY`]).
pub async fn save_drafts(app: &Arc<AppState>) {
    let drafts = app
        .reports
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drafts(now_utc());
    if drafts.is_empty() {
        return;
    }
    let store = app.store.clone();
    let saved = tokio::task::spawn_blocking(move || {
        let now = now_utc();
        for d in &drafts {
            store.save_report_draft(d, now)?;
        }
        Ok::<_, tongbu_schedule::ScheduleError>(drafts.len())
    })
    .await;
    match saved {
        Ok(Ok(n)) => tracing::debug!(sessions = n, "report drafts saved"),
        Ok(Err(e)) => tracing::warn!("report drafts not saved: {e}"),
        Err(e) => tracing::warn!("report draft task failed: {e}"),
    }
}

/// The session ended: its report is built from what was sampled and kept with the session.
/// Called once the `ended` state is persisted, wherever the end came from.
pub async fn finish(app: &Arc<AppState>, session: SessionId) {
    let report = app
        .reports
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take(session, now_utc());
    let people = report.participants.len();
    let store = app.store.clone();
    match tokio::task::spawn_blocking(move || store.save_report(&report)).await {
        Ok(Ok(())) => tracing::info!(session = session.0, people, "quality report stored"),
        Ok(Err(e)) => tracing::error!(session = session.0, "quality report not stored: {e}"),
        Err(e) => tracing::error!(session = session.0, "quality report task failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: u64, name: &str, loss_down: f32, health: Health) -> ParticipantHealth {
        ParticipantHealth {
            school: Some("四子王旗第一中学".into()),
            health,
            rtt_ms: Some(40.0),
            loss_down_pct: Some(loss_down),
            kbps_out: 1200.0,
            ..ParticipantHealth::fixture(id, name)
        }
    }

    #[test]
    fn a_classroom_that_rejoined_is_one_row_with_its_loss_and_freezes() {
        let mut b = ReportBuilder::new(SessionId(3), 1_000);
        // 40 s at four samples a second: the good room loses nothing; the weak one 20% for the
        // first half, drops out, rejoins as a new participant and freezes twice.
        for i in 0..160u32 {
            let t = f64::from(i) * 0.25;
            // The good room's camera sends H.264 from the middle on (its page switched).
            let mut good = sample(1, "初二(1)班", 0.0, Health::Good);
            good.video_codec = Some(if i < 80 { "VP8" } else { "H.264" });
            b.add(1_000 + i as i64 / 4, t, 0.25, &good);
            let mut weak = if i < 80 {
                sample(2, "初二(2)班", 20.0, Health::Weak)
            } else {
                sample(5, "初二(2)班", 0.0, Health::Good)
            };
            if i >= 80 {
                weak.freezes = 2;
                weak.video = if i < 84 {
                    VideoState::Frozen
                } else {
                    VideoState::Flowing
                };
            }
            b.add(1_000 + i as i64 / 4, t, 0.25, &weak);
        }
        let r = b.finish(1_050);
        assert_eq!(r.participants.len(), 2);
        let good = &r.participants[0];
        let weak = &r.participants[1];
        assert_eq!((good.joins, good.reconnects), (1, 0));
        assert_eq!(good.loss_down_pct.mean, Some(0.0));
        assert!((good.connected_secs - 40.0).abs() < 1e-9);
        assert_eq!(good.top_layer_pct, Some(100.0));
        assert_eq!(good.video_codecs, ["VP8", "H.264"]);
        assert!(weak.video_codecs.is_empty(), "it published no video");
        assert_eq!((weak.joins, weak.reconnects, weak.freezes), (2, 1, 2));
        assert_eq!(weak.loss_down_pct.mean, Some(10.0));
        assert_eq!(weak.loss_down_pct.p95, Some(20.0));
        assert!((weak.health_secs.weak - 20.0).abs() < 1e-9);
        assert_eq!(weak.top_layer_pct, Some(97.5));
        assert_eq!(weak.timeline.len(), 8);
        assert_eq!(weak.timeline[0].loss_down_pct, Some(20.0));
        assert_eq!(weak.timeline[7].loss_down_pct, Some(0.0));
        assert_eq!(r.first_sample_utc, Some(1_000));
        assert_eq!(r.last_sample_utc, Some(1_039));
    }

    #[test]
    fn a_long_lesson_keeps_a_bounded_timeline_whose_points_still_add_up() {
        let mut b = ReportBuilder::new(SessionId(5), 0);
        // Two hours at four samples a second; the link loses 10 % in the first hour, none after.
        let samples = 2 * 3600 * 4;
        for i in 0..samples {
            let t = f64::from(i) * 0.25;
            let loss = if t < 3600.0 { 10.0 } else { 0.0 };
            b.add(
                t as i64,
                t,
                0.25,
                &sample(1, "初二(1)班", loss, Health::Good),
            );
            let person = &b.people[0];
            assert!(person.timeline.len() <= TIMELINE_POINTS);
            assert!(person.timeline.capacity() <= 2 * TIMELINE_POINTS);
        }
        let r = b.finish(7200);
        let p = &r.participants[0];
        assert_eq!(p.loss_down_pct.mean, Some(5.0));
        assert_eq!(p.loss_down_pct.p95, Some(10.0));
        // 7,200 s: the step doubled to 40 s (a 20-s step would need 360 points).
        let step = p.timeline[1].t - p.timeline[0].t;
        assert_eq!(step, 40);
        assert_eq!(p.timeline.len(), 180);
        assert!(p.timeline.windows(2).all(|w| w[1].t - w[0].t == step));
        assert_eq!(p.timeline[0].loss_down_pct, Some(10.0));
        assert_eq!(p.timeline[89].loss_down_pct, Some(10.0));
        assert_eq!(p.timeline[90].loss_down_pct, Some(0.0));
        assert!(p.timeline.iter().all(|pt| pt.kbps_out == 1200.0));
    }

    #[test]
    fn counters_that_restart_still_add_up_and_each_listener_is_a_row() {
        let mut b = ReportBuilder::new(SessionId(4), 0);
        // A classroom's NACK counter restarts when its transport is rebuilt: 10, 15, then 3.
        for (i, nacks) in [10, 15, 3].into_iter().enumerate() {
            let mut p = sample(1, "初二(1)班", 0.0, Health::Good);
            p.nacks = nacks;
            b.add(i as i64, i as f64, 1.0, &p);
            // A second tab of the same classroom at the same time: its time counts once.
            b.add(
                i as i64,
                i as f64,
                1.0,
                &sample(7, "初二(1)班", 0.0, Health::Good),
            );
        }
        // Two listeners on the shared audience link: same name, two people.
        for id in [20, 21] {
            let mut p = sample(id, "听众 Audience", 0.0, Health::Good);
            p.role = Role::Observer;
            p.school = None;
            b.add(0, 0.0, 1.0, &p);
        }
        // A classroom whose media never connects counts as lost after the grace.
        for i in 0..10 {
            let mut p = sample(30, "初二(2)班", 0.0, Health::Weak);
            p.connection = Connection::Connecting;
            b.add(i, i as f64, 1.0, &p);
        }
        let r = b.finish(10);
        let room = &r.participants[0];
        assert_eq!(room.nacks, 18);
        assert_eq!(room.connected_secs, 3.0);
        assert_eq!(r.participants.len(), 4);
        assert_eq!(r.participants[1].joins, 1);
        assert_eq!(r.participants[2].joins, 1);
        // Listeners are summed up without a timeline; the rooms have one.
        assert!(r.participants[1].timeline.is_empty());
        assert_eq!(r.participants[1].connected_secs, 1.0);
        assert!(!room.timeline.is_empty());
        let blocked = &r.participants[3];
        assert_eq!(blocked.connected_secs, 0.0);
        assert_eq!(blocked.health_secs.lost, 5.0);
    }

    #[test]
    fn samples_after_the_end_do_not_start_a_second_report() {
        let mut reports = Reports::default();
        let now = std::time::Instant::now();
        let s = SessionId(9);
        reports.add(s, now, 0.25, &[sample(1, "a", 0.0, Health::Good)]);
        assert_eq!(reports.take(s, 0).participants.len(), 1);
        reports.add(s, now, 0.25, &[sample(1, "a", 0.0, Health::Good)]);
        assert!(reports.building.is_empty());
        assert_eq!(reports.take(SessionId(10), 0).participants.len(), 0);
    }

    #[test]
    fn drafts_carry_what_came_before_a_restart() {
        let mut before = ReportBuilder::new(SessionId(9), 1_000);
        before.add(1_000, 0.0, 10.0, &sample(1, "初二(1)班", 0.0, Health::Good));
        let mut reports = Reports::restored(vec![before.finish(1_010)]);
        let now = std::time::Instant::now();
        reports.add(
            SessionId(9),
            now,
            5.0,
            &[sample(2, "初二(1)班", 0.0, Health::Good)],
        );
        let drafts = reports.drafts(now_utc());
        assert_eq!(drafts.len(), 1);
        let row = &drafts[0].participants[0];
        assert_eq!((row.joins, row.connected_secs), (2, 15.0), "{row:?}");
        let done = reports.take(SessionId(9), now_utc());
        assert_eq!(done.participants[0].connected_secs, 15.0);
        assert!(reports.drafts(now_utc()).is_empty(), "nothing left running");
    }
}
