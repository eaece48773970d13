//! A report continued across a server restart: what was sampled before (the draft kept while
//! the session ran) and what the restarted server sampled after, as one report. A classroom
//! (or the host) is one row across the restart, as it is across a rejoin; everyone else keeps
//! their own rows. Times and counts add up; means are weighted by the time connected on each
//! side; a 95th percentile is the larger of the two (an upper bound: the samples themselves are
//! not kept); the later timeline follows the earlier one on the session's clock.

use crate::report::{ParticipantReport, QualityReport, ReportPoint, Spread};
use crate::Role;

/// Mean weighted by `wa` and `wb`, the larger p95.
fn spread(a: Spread, wa: f64, b: Spread, wb: f64) -> Spread {
    let mean = match (a.mean, b.mean) {
        (Some(x), Some(y)) if wa + wb > 0.0 => {
            Some(((f64::from(x) * wa + f64::from(y) * wb) / (wa + wb)) as f32)
        }
        (x, y) => x.or(y),
    };
    let p95 = match (a.p95, b.p95) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    Spread { mean, p95 }
}

fn weighted(a: f32, wa: f64, b: f32, wb: f64) -> f32 {
    if wa + wb > 0.0 {
        ((f64::from(a) * wa + f64::from(b) * wb) / (wa + wb)) as f32
    } else {
        a.max(b)
    }
}

/// Whether two rows are one participant across the restart.
fn same(a: &ParticipantReport, b: &ParticipantReport) -> bool {
    matches!(a.role, Role::Host | Role::Classroom)
        && a.role == b.role
        && a.school == b.school
        && a.name == b.name
}

/// Shifts a later row's timeline onto the session's clock (`offset` seconds later).
fn shifted(points: Vec<ReportPoint>, offset: u32) -> impl Iterator<Item = ReportPoint> {
    points.into_iter().map(move |mut p| {
        p.t = p.t.saturating_add(offset);
        p
    })
}

fn join(a: ParticipantReport, b: ParticipantReport, offset: u32) -> ParticipantReport {
    let (wa, wb) = (a.connected_secs, b.connected_secs);
    let top = match (a.top_layer_pct, b.top_layer_pct) {
        (Some(x), Some(y)) => Some(weighted(x, a.video_secs.flowing, y, b.video_secs.flowing)),
        (x, y) => x.or(y),
    };
    let mut codecs = a.video_codecs;
    for c in b.video_codecs {
        if !codecs.contains(&c) {
            codecs.push(c);
        }
    }
    let mut timeline = a.timeline;
    timeline.extend(shifted(b.timeline, offset));
    ParticipantReport {
        name: a.name,
        role: a.role,
        school: a.school,
        joins: a.joins + b.joins,
        // Coming back after the restart is a reconnect.
        reconnects: a.reconnects + b.reconnects + 1,
        connected_secs: wa + wb,
        video_secs: crate::report::VideoTime {
            flowing: a.video_secs.flowing + b.video_secs.flowing,
            frozen: a.video_secs.frozen + b.video_secs.frozen,
            none: a.video_secs.none + b.video_secs.none,
            paused: a.video_secs.paused + b.video_secs.paused,
        },
        top_layer_pct: top,
        freezes: a.freezes + b.freezes,
        audio_gaps_up: a.audio_gaps_up + b.audio_gaps_up,
        freezes_up: a.freezes_up + b.freezes_up,
        nacks: a.nacks + b.nacks,
        plis: a.plis + b.plis,
        loss_up_pct: spread(a.loss_up_pct, wa, b.loss_up_pct, wb),
        loss_down_pct: spread(a.loss_down_pct, wa, b.loss_down_pct, wb),
        rtt_ms: spread(a.rtt_ms, wa, b.rtt_ms, wb),
        jitter_ms: spread(a.jitter_ms, wa, b.jitter_ms, wb),
        kbps_in_mean: weighted(a.kbps_in_mean, wa, b.kbps_in_mean, wb),
        kbps_out_mean: weighted(a.kbps_out_mean, wa, b.kbps_out_mean, wb),
        bwe_down_kbps: spread(a.bwe_down_kbps, wa, b.bwe_down_kbps, wb),
        health_secs: crate::report::HealthTime {
            good: a.health_secs.good + b.health_secs.good,
            weak: a.health_secs.weak + b.health_secs.weak,
            lost: a.health_secs.lost + b.health_secs.lost,
            unknown: a.health_secs.unknown + b.health_secs.unknown,
        },
        video_codecs: codecs,
        timeline,
    }
}

impl QualityReport {
    /// This report (sampled before a restart) continued by `later` (sampled after it).
    pub fn continued_by(self, later: QualityReport) -> QualityReport {
        let offset = match (self.first_sample_utc, later.first_sample_utc) {
            (Some(a), Some(b)) => u32::try_from(b.saturating_sub(a)).unwrap_or(0),
            _ => 0,
        };
        let mut people = self.participants;
        for b in later.participants {
            match people.iter().position(|a| same(a, &b)) {
                Some(i) => {
                    let a = people.remove(i);
                    people.insert(i, join(a, b, offset));
                }
                None => {
                    let mut b = b;
                    b.timeline = shifted(std::mem::take(&mut b.timeline), offset).collect();
                    people.push(b);
                }
            }
        }
        QualityReport {
            session: self.session,
            first_sample_utc: self.first_sample_utc.or(later.first_sample_utc),
            last_sample_utc: later.last_sample_utc.or(self.last_sample_utc),
            ended_utc: later.ended_utc,
            timeline_step_secs: later.timeline_step_secs,
            participants: people,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{HealthTime, VideoTime};
    use crate::SessionId;

    fn row(name: &str, role: Role, secs: f64, loss: f32, t0: u32) -> ParticipantReport {
        ParticipantReport {
            name: name.into(),
            role,
            school: Some("四子王旗第一中学".into()),
            joins: 1,
            reconnects: 0,
            connected_secs: secs,
            video_secs: VideoTime {
                flowing: secs,
                ..VideoTime::default()
            },
            top_layer_pct: Some(100.0),
            freezes: 1,
            audio_gaps_up: 0,
            freezes_up: 0,
            nacks: 2,
            plis: 1,
            loss_up_pct: Spread::default(),
            loss_down_pct: Spread {
                mean: Some(loss),
                p95: Some(loss * 2.0),
            },
            rtt_ms: Spread::default(),
            jitter_ms: Spread::default(),
            kbps_in_mean: 0.0,
            kbps_out_mean: 1000.0,
            bwe_down_kbps: Spread::default(),
            health_secs: HealthTime {
                good: secs,
                ..HealthTime::default()
            },
            video_codecs: vec!["VP8".into()],
            timeline: vec![ReportPoint {
                t: t0,
                loss_up_pct: None,
                loss_down_pct: Some(loss),
                rtt_ms: None,
                kbps_in: 0.0,
                kbps_out: 1000.0,
            }],
        }
    }

    fn report(first: i64, participants: Vec<ParticipantReport>) -> QualityReport {
        QualityReport {
            session: SessionId(4),
            first_sample_utc: Some(first),
            last_sample_utc: Some(first + 600),
            ended_utc: first + 600,
            timeline_step_secs: 5,
            participants,
        }
    }

    #[test]
    fn a_classroom_is_one_row_across_a_restart_and_a_listener_its_own() {
        let before = report(
            1_000,
            vec![row("初二(1)班", Role::Classroom, 600.0, 1.0, 0)],
        );
        let after = report(
            1_700,
            vec![
                row("初二(1)班", Role::Classroom, 200.0, 5.0, 0),
                row("听众", Role::Observer, 100.0, 0.0, 10),
            ],
        );
        let r = before.continued_by(after);
        assert_eq!((r.first_sample_utc, r.ended_utc), (Some(1_000), 2_300));
        assert_eq!(r.participants.len(), 2);
        let c = &r.participants[0];
        assert_eq!((c.joins, c.reconnects, c.freezes, c.nacks), (2, 1, 2, 4));
        assert_eq!(c.connected_secs, 800.0);
        assert_eq!(c.health_secs.good, 800.0);
        // (1 % × 600 s + 5 % × 200 s) / 800 s = 2 %; the p95 the worse of the two.
        assert_eq!(c.loss_down_pct.mean, Some(2.0));
        assert_eq!(c.loss_down_pct.p95, Some(10.0));
        assert_eq!(c.video_codecs, ["VP8"]);
        let ts: Vec<u32> = c.timeline.iter().map(|p| p.t).collect();
        assert_eq!(ts, [0, 700], "after the restart on the session's clock");
        assert_eq!(r.participants[1].timeline[0].t, 710);
    }
}
