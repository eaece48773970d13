//! Demo data: real pairs of the Beijing–Inner Mongolia programme and a joint lesson today, so
//! that `cargo run` shows something a teacher recognises.

use crate::store::NewSession;
use crate::{ClassroomId, Region, ScheduleError, Session, SessionKind, Store};

/// The demo lesson and its classrooms.
#[derive(Debug, Clone)]
pub struct DemoLesson {
    pub session: Session,
    pub host: ClassroomId,
    pub classrooms: Vec<ClassroomId>,
}

/// Seeds the demo schools and makes sure a demo lesson is open around `now_utc`: reuses one that
/// is still running, otherwise schedules a new one starting now.
pub fn ensure_demo_lesson(store: &Store, now_utc: i64) -> Result<DemoLesson, ScheduleError> {
    let bj = store.add_school("北京一零一中学怀柔校区", Region::Beijing, "怀柔区")?;
    let szwq = store.add_school("四子王旗第一中学", Region::InnerMongolia, "四子王旗")?;
    let zltq = store.add_school("扎赉特旗音德尔第三中学", Region::InnerMongolia, "扎赉特旗")?;
    let wc = store.add_school("武川县第一中学", Region::InnerMongolia, "武川县")?;
    let host = store.add_classroom(bj, "初二(3)班")?;
    let classrooms = vec![
        store.add_classroom(szwq, "初二(1)班")?,
        store.add_classroom(zltq, "初二(2)班")?,
        store.add_classroom(wc, "初二(5)班")?,
    ];
    let running = store
        .sessions_between(now_utc, now_utc + 1)?
        .into_iter()
        .find(|s| s.kind == SessionKind::Lesson && s.host == host && !s.state.is_over());
    let session = match running {
        Some(s) => s,
        None => {
            let id = store.add_session(&NewSession {
                kind: SessionKind::Lesson,
                title: "勾股定理 (Pythagorean theorem)".into(),
                subject: "数学".into(),
                start_utc: now_utc - now_utc % 60,
                duration_min: 120,
                host,
                classrooms: classrooms.clone(),
            })?;
            store.session(id)?
        }
    };
    Ok(DemoLesson {
        session,
        host,
        classrooms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_is_idempotent_while_the_lesson_runs() {
        let store = Store::open_in_memory().unwrap();
        let a = ensure_demo_lesson(&store, 1_800_000_000).unwrap();
        let b = ensure_demo_lesson(&store, 1_800_000_600).unwrap();
        assert_eq!(a.session.id, b.session.id);
        assert_eq!(a.classrooms.len(), 3);
        // Next day: a new lesson.
        let c = ensure_demo_lesson(&store, 1_800_086_400).unwrap();
        assert_ne!(a.session.id, c.session.id);
    }
}
