//! The SQLite store's tests: round trips, clashes, series, pairs, migrations, durability of
//! reports; each against a fresh in-memory database.

use super::*;
use crate::{Region, SessionKind};
use crate::{SessionDraft, SessionSpec, WeeklyDraft};

pub(super) fn sample(store: &dyn Store) -> (ClassroomId, ClassroomId, ClassroomId) {
    let bj = store
        .add_school(&NewSchool::new(
            "北京一零一中学怀柔校区",
            Region::Beijing,
            "怀柔区",
        ))
        .unwrap();
    let im = store
        .add_school(&NewSchool::new(
            "四子王旗第一中学",
            Region::InnerMongolia,
            "四子王旗",
        ))
        .unwrap();
    (
        store
            .add_classroom(&NewClassroom::new(bj.id, "初二(3)班"))
            .unwrap()
            .id,
        store
            .add_classroom(&NewClassroom::new(im.id, "初二(1)班"))
            .unwrap()
            .id,
        store
            .add_classroom(&NewClassroom::new(im.id, "初二(2)班"))
            .unwrap()
            .id,
    )
}

pub(super) fn lesson(host: ClassroomId, remote: ClassroomId, start: i64) -> NewSession {
    NewSession::single(
        SessionKind::Lesson,
        "勾股定理",
        "数学",
        start,
        45,
        host,
        vec![remote],
    )
}

#[test]
fn sessions_round_trip_and_move_through_their_states() {
    let store = SqliteStore::open_in_memory().unwrap();
    let (host, remote, _) = sample(&store);
    let s = store
        .add_session(&lesson(host, remote, 1_800_000_000))
        .unwrap();
    let id = s[0].id;
    let s = store.session(id).unwrap();
    assert_eq!(s.state, SessionState::Scheduled);
    assert_eq!(s.spec.classrooms, vec![remote]);
    assert!(s.includes(host) && s.includes(remote));
    // Opens when the lead time begins, ends once end + grace has passed.
    assert!(store
        .sessions_due_to_open(1_800_000_000 - 601, 600)
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .sessions_due_to_open(1_800_000_000 - 600, 600)
            .unwrap(),
        vec![id]
    );
    let end = 1_800_000_000 + 45 * 60;
    assert!(store
        .sessions_due_to_end(end + 599, 600)
        .unwrap()
        .is_empty());
    assert_eq!(store.sessions_due_to_end(end + 600, 600).unwrap(), vec![id]);
    assert!(store
        .transition_session_state(id, &[SessionState::Scheduled], SessionState::Live)
        .unwrap());
    // Only from the listed states: an ended session does not go live again.
    let live = [SessionState::Scheduled, SessionState::Open];
    assert!(!store
        .transition_session_state(id, &live, SessionState::Live)
        .unwrap());
    assert!(store
        .transition_session_state(id, &[SessionState::Live], SessionState::Ended)
        .unwrap());
    assert!(!store
        .transition_session_state(id, &live, SessionState::Live)
        .unwrap());
    assert!(store
        .sessions_due_to_end(end + 600, 600)
        .unwrap()
        .is_empty());
    // A session that went live is kept for its report.
    assert!(matches!(
        store.delete_session(id),
        Err(ScheduleError::InUse(_))
    ));
    assert_eq!(
        store.classroom(remote).unwrap().display_name(),
        "四子王旗第一中学 · 初二(1)班"
    );
}

#[test]
fn a_classroom_cannot_be_booked_twice_at_once() {
    let store = SqliteStore::open_in_memory().unwrap();
    let (host, a, b) = sample(&store);
    let first = store.add_session(&lesson(host, a, 1_800_000_000)).unwrap()[0].id;
    // Same remote classroom, overlapping by one minute.
    let clash = store
        .add_session(&lesson(b, a, 1_800_000_000 + 44 * 60))
        .unwrap_err();
    match clash {
        ScheduleError::Clash(c) => {
            assert_eq!(c.session, first);
            assert_eq!(c.classroom, a);
            assert_eq!(c.start_local, "2027-01-15 16:00");
        }
        other => panic!("expected a clash, got {other}"),
    }
    // The host's classroom counts too; back to back is fine.
    assert!(store
        .add_session(&lesson(b, host, 1_800_000_000 + 30 * 60))
        .is_err());
    store
        .add_session(&lesson(b, a, 1_800_000_000 + 45 * 60))
        .unwrap();
    // Moving a session onto itself is not a clash; onto the other one is.
    let moved = store
        .update_session(first, &lesson(host, a, 1_800_000_000 - 600))
        .unwrap();
    assert_eq!(moved.start_utc, 1_800_000_000 - 600);
    assert!(matches!(
        store.update_session(first, &lesson(host, a, 1_800_000_000 + 50 * 60)),
        Err(ScheduleError::Clash(_))
    ));
    // An ended session frees its classrooms.
    store
        .transition_session_state(first, &[SessionState::Scheduled], SessionState::Ended)
        .unwrap();
    store.add_session(&lesson(b, host, 1_800_000_000)).unwrap();
}

#[test]
fn a_weekly_series_is_one_session_per_week_and_checked_as_a_whole() {
    let store = SqliteStore::open_in_memory().unwrap();
    let (host, a, b) = sample(&store);
    let lookup = |id| {
        let c = store.classroom(id).ok()?;
        let zone = store.school(c.school).ok()?.timezone;
        Some((c, zone))
    };
    let draft = SessionDraft {
        spec: SessionSpec {
            kind: SessionKind::Lesson,
            title: "物理".into(),
            subject: "物理".into(),
            grade: Some(8),
            duration_min: 45,
            host,
            classrooms: vec![a],
            people: vec![],
            comparison: None,
            audience: None,
            record: Some(true),
        },
        start: "2026-03-03 10:00".into(),
        zone: None,
        repeat: Some(WeeklyDraft {
            until: "2026-06-30".into(),
            except: vec!["2026-05-05".into()],
        }),
    };
    let series = store.add_session(&draft.resolve(&lookup).unwrap()).unwrap();
    assert_eq!(series.len(), 18 - 1, "18 Tuesdays, one excepted");
    assert!(series
        .iter()
        .all(|s| s.series == series[0].series && s.series.is_some()));
    assert_eq!(series[9].start_local(), "2026-05-12 10:00");
    assert!(
        series.iter().all(|s| s.spec.record == Some(true)),
        "every occurrence is recorded"
    );
    // One week of a second series collides: nothing of it is stored.
    let mut other = draft.clone();
    other.spec.host = b;
    other.start = "2026-02-24 10:30".into();
    other.repeat = Some(WeeklyDraft {
        until: "2026-03-10".into(),
        except: vec![],
    });
    let err = store
        .add_session(&other.resolve(&lookup).unwrap())
        .unwrap_err();
    assert!(matches!(err, ScheduleError::Clash(_)), "{err}");
    let all = store.sessions(&SessionQuery::between(0, i64::MAX)).unwrap();
    assert_eq!(all.len(), 17);
    // Listing by school and by classroom.
    let im = store.classroom(a).unwrap().school;
    let q = SessionQuery {
        school: Some(im),
        ..SessionQuery::between(0, i64::MAX)
    };
    assert_eq!(store.sessions(&q).unwrap().len(), 17);
    let q = SessionQuery {
        classroom: Some(b),
        ..SessionQuery::between(0, i64::MAX)
    };
    assert!(store.sessions(&q).unwrap().is_empty());
}

#[test]
fn pairs_join_a_beijing_school_to_an_inner_mongolia_school() {
    let store = SqliteStore::open_in_memory().unwrap();
    sample(&store);
    let bj = store
        .school_by_name("北京一零一中学怀柔校区")
        .unwrap()
        .unwrap();
    let im = store.school_by_name("四子王旗第一中学").unwrap().unwrap();
    let p = store
        .add_pair(&NewPair {
            beijing: bj.id,
            inner_mongolia: im.id,
            since: "2023-09-01".into(),
        })
        .unwrap();
    assert_eq!(p.inner_mongolia_name, "四子王旗第一中学");
    assert!(matches!(
        store.add_pair(&NewPair {
            beijing: bj.id,
            inner_mongolia: im.id,
            since: "2024-09-01".into()
        }),
        Err(ScheduleError::Conflict(_))
    ));
    let wrong = store
        .add_pair(&NewPair {
            beijing: im.id,
            inner_mongolia: bj.id,
            since: "2024-13-01".into(),
        })
        .unwrap_err();
    let ScheduleError::Invalid(fields) = wrong else {
        panic!("{wrong}")
    };
    let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(names, ["beijing", "inner_mongolia", "since"]);
    // A school with classrooms and a pair cannot be deleted; duplicates are refused.
    assert!(matches!(
        store.delete_school(bj.id),
        Err(ScheduleError::InUse(_))
    ));
    assert!(matches!(
        store.add_school(&NewSchool::new(
            "四子王旗第一中学",
            Region::InnerMongolia,
            "x"
        )),
        Err(ScheduleError::Conflict(_))
    ));
    store.delete_pair(p.id).unwrap();
    assert!(store.pairs().unwrap().is_empty());
}

#[test]
fn a_cancelled_sessions_id_is_never_given_to_another() {
    let store = SqliteStore::open_in_memory().unwrap();
    let (host, remote, _) = sample(&store);
    store
        .add_session(&lesson(host, remote, 1_800_000_000))
        .unwrap();
    let last = store
        .add_session(&lesson(host, remote, 1_800_100_000))
        .unwrap()[0]
        .id;
    store.delete_session(last).unwrap();
    let next = store
        .add_session(&lesson(host, remote, 1_800_200_000))
        .unwrap()[0]
        .id;
    assert!(next.0 > last.0, "{next:?} reuses {last:?}");
    // Deleting a session still takes its classroom rows with it.
    store.delete_session(next).unwrap();
    assert!(matches!(
        store.session(next),
        Err(ScheduleError::NotFound { .. })
    ));
    assert!(
        store.delete_classroom(remote).is_err(),
        "still used by the first session"
    );
}

#[test]
fn a_version_2_database_is_migrated_with_its_sessions() {
    let dir = std::env::temp_dir().join(format!("tongbu-mig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("v2.sqlite");
    let _ = std::fs::remove_file(&path);
    {
        let mut conn = Connection::open(&path).unwrap();
        Migrations::new(MIGRATIONS[..2].iter().map(|sql| M::up(sql)).collect())
            .to_latest(&mut conn)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO schools (id, name, region, district) VALUES (1, 'a', 'beijing', 'd');
             INSERT INTO classrooms (id, school_id, name) VALUES (1, 1, 'c1'), (2, 1, 'c2');
             INSERT INTO sessions (id, kind, title, subject, start_utc, duration_min,
                                   host_classroom_id, state)
                 VALUES (7, 'lesson', '旧课', 's', 1800000000, 45, 1, 'scheduled');
             INSERT INTO session_classrooms VALUES (7, 2, 0);",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let s = store.session(SessionId(7)).unwrap();
    assert_eq!(
        (s.spec.title.as_str(), s.spec.classrooms.clone()),
        ("旧课", vec![ClassroomId(2)])
    );
    let next = store
        .add_session(&lesson(ClassroomId(1), ClassroomId(2), 1_900_000_000))
        .unwrap()[0]
        .id;
    assert_eq!(next, SessionId(8));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_report_is_kept_with_its_session() {
    let store = SqliteStore::open_in_memory().unwrap();
    let (host, remote, _) = sample(&store);
    let s = store.add_session(&lesson(host, remote, 1_000)).unwrap()[0].id;
    assert!(matches!(
        store.report(s),
        Err(ScheduleError::NotFound {
            what: "report of session",
            ..
        })
    ));
    assert!(matches!(
        store.report(SessionId(999)),
        Err(ScheduleError::NotFound {
            what: "session",
            ..
        })
    ));
    let report = QualityReport {
        session: s,
        first_sample_utc: Some(1_000),
        last_sample_utc: Some(3_400),
        ended_utc: 3_500,
        timeline_step_secs: 5,
        participants: Vec::new(),
    };
    // While it runs, a draft: listed, replaced, and gone once the report is written.
    store.save_report_draft(&report, 2_000).unwrap();
    let later = QualityReport {
        last_sample_utc: Some(3_000),
        ..report.clone()
    };
    store.save_report_draft(&later, 3_000).unwrap();
    assert_eq!(store.report_drafts().unwrap(), [later]);
    assert!(store.report(s).is_err(), "a draft is not the report");
    store.save_report(&report).unwrap();
    assert_eq!(store.report(s).unwrap(), report);
    assert!(store.report_drafts().unwrap().is_empty());
    let again = QualityReport {
        ended_utc: 3_600,
        ..report.clone()
    };
    store.save_report(&again).unwrap();
    assert_eq!(store.report(s).unwrap(), again);
    let recent = store.recent_reports(10).unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(
        (recent[0].session, recent[0].title.as_str()),
        (s, "勾股定理")
    );
    assert!(store
        .save_report(&QualityReport {
            session: SessionId(999),
            ..report
        })
        .is_err());
}

#[test]
fn atomically_keeps_all_or_nothing() {
    let store = SqliteStore::open_in_memory().unwrap();
    let kept = store
        .atomically(&mut |tx| {
            tx.add_school(&NewSchool::new("a", Region::Beijing, "d"))?;
            Ok(false)
        })
        .unwrap();
    assert!(!kept);
    let failed = store.atomically(&mut |tx| {
        tx.add_school(&NewSchool::new("b", Region::Beijing, "d"))?;
        tx.add_school(&NewSchool::new("b", Region::Beijing, "d"))?;
        Ok(true)
    });
    assert!(failed.is_err());
    assert!(store.schools().unwrap().is_empty());
}

#[test]
fn a_file_database_keeps_what_was_committed_across_reopen() {
    let dir = std::env::temp_dir().join(format!("tongbu-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.sqlite");
    let _ = std::fs::remove_file(&path);
    let id = {
        let store = SqliteStore::open(&path).unwrap();
        let (host, remote, _) = sample(&store);
        store.add_session(&lesson(host, remote, 0)).unwrap()[0].id
    };
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.session(id).unwrap().spec.kind, SessionKind::Lesson);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A page's read does not wait for a write under way (a term's import, an fsync): it answers
/// from the last commit while the writer holds its transaction, and sees the write once it is
/// committed.
#[test]
fn a_read_is_answered_while_a_write_is_under_way() {
    use std::sync::{mpsc, Arc};
    use std::time::Duration;
    let dir = std::env::temp_dir().join(format!(
        "tongbu-readers-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(SqliteStore::open(&dir.join("t.sqlite")).unwrap());
    sample(store.as_ref());
    let (began, writing) = mpsc::channel();
    let (finish, held) = mpsc::channel::<()>();
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            store
                .atomically(&mut |s| {
                    s.add_school(&NewSchool::new("新学校", Region::Beijing, "海淀区"))?;
                    began.send(()).unwrap();
                    held.recv().unwrap();
                    Ok(true)
                })
                .unwrap()
        })
    };
    writing.recv().unwrap();
    let (answer, answered) = mpsc::channel();
    {
        let store = store.clone();
        std::thread::spawn(move || answer.send(store.schools().unwrap().len()).unwrap());
    }
    // Bounded only so that a regression fails instead of hanging: the writer waits for us.
    let seen = answered
        .recv_timeout(Duration::from_secs(30))
        .expect("the read waited for the write");
    assert_eq!(seen, 2, "the last commit: the write is not visible yet");
    finish.send(()).unwrap();
    assert!(writer.join().unwrap());
    assert_eq!(store.schools().unwrap().len(), 3, "visible once committed");
    let _ = std::fs::remove_dir_all(&dir);
}
