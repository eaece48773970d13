//! The quality report of a session: written once when the session ends, per classroom (and per
//! teacher and observer), and kept with the session for the programme's records. The server
//! builds it from its health samples; this module owns its shape, its CSV form and nothing else.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Role, SessionId};

/// How one session went, per participant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QualityReport {
    pub session: SessionId,
    /// First and last health sample (UTC seconds); `None` when nobody joined.
    pub first_sample_utc: Option<i64>,
    pub last_sample_utc: Option<i64>,
    /// When the session ended (UTC seconds).
    pub ended_utc: i64,
    /// Seconds per point of the participants' timelines at the finest: a long session's
    /// points are merged (the step doubled) so that each timeline keeps at most 240.
    pub timeline_step_secs: u32,
    pub participants: Vec<ParticipantReport>,
}

/// A mean and a 95th percentile over the session's samples (`None`: never measured).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Spread {
    pub mean: Option<f32>,
    pub p95: Option<f32>,
}

/// Seconds in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HealthTime {
    pub good: f64,
    pub weak: f64,
    pub lost: f64,
    /// Media flowed with no loss figure for it (reports before this state existed have none).
    #[serde(default)]
    pub unknown: f64,
}

/// Seconds of received video by what it did. Video is forwarded at the one quality it is
/// published in (no simulcast layers yet), so `flowing` is time at the top layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VideoTime {
    pub flowing: f64,
    pub frozen: f64,
    /// Connected but no video reaching it.
    pub none: f64,
    /// Its video paused on purpose to keep its audio (audio first on a weak link).
    #[serde(default)]
    pub paused: f64,
}

/// One classroom, teacher or observer over the whole session. A participant who joined twice
/// (a reload, a dropped link) is one entry: same role, school and name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ParticipantReport {
    pub name: String,
    pub role: Role,
    pub school: Option<String>,
    /// Times it joined (1 = never dropped out).
    pub joins: u32,
    /// Rejoins plus transports that came back after losing their connection.
    pub reconnects: u32,
    pub connected_secs: f64,
    pub video_secs: VideoTime,
    /// Share of the time video reached it that it got the top layer of a simulcast camera (or
    /// a camera without layers, flowing), percent: how much of the lesson its link carried the
    /// best picture.
    pub top_layer_pct: Option<f32>,
    /// Video freezes it saw: it waited over 500 ms for a keyframe (its publisher's own pauses
    /// not counted).
    pub freezes: u64,
    /// Gaps (over 200 ms) of the audio it published and freezes of its video, as the server
    /// received them: its uplink or its devices stalled.
    pub audio_gaps_up: u64,
    pub freezes_up: u64,
    pub nacks: u64,
    pub plis: u64,
    /// Loss of what it published (on the way in) and of what it received, percent.
    pub loss_up_pct: Spread,
    pub loss_down_pct: Spread,
    pub rtt_ms: Spread,
    pub jitter_ms: Spread,
    pub kbps_in_mean: f32,
    pub kbps_out_mean: f32,
    /// Its downlink estimate (what the server judged its link could carry), kbit/s.
    #[serde(default)]
    pub bwe_down_kbps: Spread,
    pub health_secs: HealthTime,
    /// The codecs of the video it published (`VP8`, `H.264`), in the order first seen; empty if
    /// it published none.
    #[serde(default)]
    pub video_codecs: Vec<String>,
    /// The session, point by point, for charts: the host's and the classrooms' (a listener's or
    /// an observer's is empty).
    pub timeline: Vec<ReportPoint>,
}

/// Means over one timeline step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportPoint {
    /// Seconds since the first sample of the session.
    pub t: u32,
    pub loss_up_pct: Option<f32>,
    pub loss_down_pct: Option<f32>,
    pub rtt_ms: Option<f32>,
    pub kbps_in: f32,
    pub kbps_out: f32,
}

/// The columns of [`QualityReport::to_csv`].
pub const CSV_HEADER: &str = "session,role,school,name,joins,reconnects,minutes_connected,\
top_layer_pct,video_flowing_s,video_frozen_s,video_paused_s,freezes,audio_gaps_up,freezes_up,\
loss_up_mean_pct,loss_up_p95_pct,loss_down_mean_pct,loss_down_p95_pct,rtt_mean_ms,rtt_p95_ms,\
jitter_mean_ms,kbps_in_mean,kbps_out_mean,nacks,plis,good_s,weak_s,lost_s,bwe_down_mean_kbps,\
bwe_down_p95_kbps,unknown_s";

impl QualityReport {
    /// One row per participant (RFC 4180: fields with commas or quotes are quoted).
    pub fn to_csv(&self) -> String {
        let mut out = String::from(CSV_HEADER);
        out.push_str("\r\n");
        let opt = |v: Option<f32>| v.map(|v| format!("{v:.2}")).unwrap_or_default();
        for p in &self.participants {
            let fields = [
                self.session.0.to_string(),
                p.role.as_str().to_string(),
                csv_field(p.school.as_deref().unwrap_or("")),
                csv_field(&p.name),
                p.joins.to_string(),
                p.reconnects.to_string(),
                format!("{:.1}", p.connected_secs / 60.0),
                opt(p.top_layer_pct),
                format!("{:.0}", p.video_secs.flowing),
                format!("{:.0}", p.video_secs.frozen),
                format!("{:.0}", p.video_secs.paused),
                p.freezes.to_string(),
                p.audio_gaps_up.to_string(),
                p.freezes_up.to_string(),
                opt(p.loss_up_pct.mean),
                opt(p.loss_up_pct.p95),
                opt(p.loss_down_pct.mean),
                opt(p.loss_down_pct.p95),
                opt(p.rtt_ms.mean),
                opt(p.rtt_ms.p95),
                opt(p.jitter_ms.mean),
                format!("{:.0}", p.kbps_in_mean),
                format!("{:.0}", p.kbps_out_mean),
                p.nacks.to_string(),
                p.plis.to_string(),
                format!("{:.0}", p.health_secs.good),
                format!("{:.0}", p.health_secs.weak),
                format!("{:.0}", p.health_secs.lost),
                opt(p.bwe_down_kbps.mean),
                opt(p.bwe_down_kbps.p95),
                format!("{:.0}", p.health_secs.unknown),
            ];
            out.push_str(&fields.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

fn csv_field(s: &str) -> String {
    // A name a spreadsheet would run as a formula is kept as text.
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// A past session in the operator's list: enough to pick one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportSummary {
    pub session: SessionId,
    pub title: String,
    pub ended_utc: i64,
    pub participants: usize,
    /// Participants that were weak or lost for over a tenth of their time.
    pub troubled: usize,
    /// The worst mean loss (either way) of any participant, percent.
    pub worst_loss_pct: Option<f32>,
    pub freezes: u64,
}

impl ReportSummary {
    /// The summary of a report.
    pub fn of(report: &QualityReport, title: String) -> Self {
        let troubled = report
            .participants
            .iter()
            .filter(|p| {
                let h = p.health_secs;
                let total = h.good + h.weak + h.lost;
                total > 0.0 && (h.weak + h.lost) / total > 0.1
            })
            .count();
        let worst_loss_pct = report
            .participants
            .iter()
            .flat_map(|p| [p.loss_up_pct.mean, p.loss_down_pct.mean])
            .flatten()
            .reduce(f32::max);
        Self {
            session: report.session,
            title,
            ended_utc: report.ended_utc,
            participants: report.participants.len(),
            troubled,
            worst_loss_pct,
            freezes: report.participants.iter().map(|p| p.freezes).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_row_per_participant_and_quotes_what_needs_it() {
        let p = ParticipantReport {
            name: "初一(4)班, 音德尔".into(),
            role: Role::Classroom,
            school: Some("扎赉特旗音德尔第三中学".into()),
            joins: 2,
            reconnects: 1,
            connected_secs: 2400.0,
            video_secs: VideoTime {
                flowing: 2300.0,
                frozen: 100.0,
                none: 0.0,
                paused: 0.0,
            },
            top_layer_pct: Some(95.83),
            freezes: 3,
            audio_gaps_up: 1,
            freezes_up: 0,
            nacks: 40,
            plis: 2,
            loss_up_pct: Spread::default(),
            loss_down_pct: Spread {
                mean: Some(4.5),
                p95: Some(12.0),
            },
            rtt_ms: Spread {
                mean: Some(61.0),
                p95: Some(80.0),
            },
            jitter_ms: Spread::default(),
            kbps_in_mean: 0.0,
            kbps_out_mean: 1210.0,
            bwe_down_kbps: Spread {
                mean: Some(850.0),
                p95: Some(1400.0),
            },
            health_secs: HealthTime {
                good: 2000.0,
                weak: 400.0,
                lost: 0.0,
                unknown: 30.0,
            },
            video_codecs: vec![],
            timeline: vec![],
        };
        let r = QualityReport {
            session: SessionId(7),
            first_sample_utc: Some(0),
            last_sample_utc: Some(2400),
            ended_utc: 2410,
            timeline_step_secs: 5,
            participants: vec![p],
        };
        let csv = r.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], CSV_HEADER);
        assert!(lines[1].starts_with(
            "7,classroom,扎赉特旗音德尔第三中学,\"初一(4)班, 音德尔\",2,1,40.0,95.83,2300,100,0,3,1,0,,,4.50,12.00,61.00,80.00,"
        ), "{}", lines[1]);
        assert!(lines[1].ends_with(",30"), "unknown_s last: {}", lines[1]);
        // A report stored before the unknown state reads with none of it.
        let old: HealthTime = serde_json::from_str(r#"{"good":1,"weak":2,"lost":3}"#).unwrap();
        assert_eq!(old.unknown, 0.0);
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
        let s = ReportSummary::of(&r, "数学".into());
        assert_eq!((s.participants, s.troubled, s.freezes), (1, 1, 3));
        assert_eq!(s.worst_loss_pct, Some(4.5));
    }
}
