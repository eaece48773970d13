//! Demo data: real pairs of the Beijing–Inner Mongolia programme, and a joint lesson, a research
//! session with a 同课异构 pair and a lecture running now, so that `cargo run` shows something a
//! teacher recognises.

use crate::store::{SessionQuery, Store};
use crate::{
    ClassroomId, ComparedLesson, Comparison, NewClassroom, NewPair, NewSchool, NewSession, Region,
    ScheduleError, School, Session, SessionKind,
};

/// The demo sessions and the classrooms of the joint lesson.
#[derive(Debug, Clone)]
pub struct DemoLesson {
    /// The joint lesson (同步课堂).
    pub session: Session,
    pub host: ClassroomId,
    pub classrooms: Vec<ClassroomId>,
    /// The research session (同步教研) with its 同课异构 pair.
    pub research: Session,
    /// The expert lecture.
    pub lecture: Session,
}

fn school(
    store: &dyn Store,
    name: &str,
    region: Region,
    district: &str,
) -> Result<School, ScheduleError> {
    match store.school_by_name(name)? {
        Some(s) => Ok(s),
        None => store.add_school(&NewSchool::new(name, region, district)),
    }
}

fn room(
    store: &dyn Store,
    school: &School,
    name: &str,
    grade: Option<u8>,
) -> Result<ClassroomId, ScheduleError> {
    if let Some(c) = store.classroom_by_name(school.id, name)? {
        return Ok(c.id);
    }
    let mut c = NewClassroom::new(school.id, name);
    c.grade = grade;
    c.capacity = Some(if grade.is_some() { 45 } else { 30 });
    Ok(store.add_classroom(&c)?.id)
}

fn pair(store: &dyn Store, bj: &School, im: &School, since: &str) -> Result<(), ScheduleError> {
    match store.add_pair(&NewPair {
        beijing: bj.id,
        inner_mongolia: im.id,
        since: since.into(),
    }) {
        Ok(_) | Err(ScheduleError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The running session of `kind` hosted by `host`, or a new one starting now.
fn running_or_new(
    store: &dyn Store,
    now_utc: i64,
    new: NewSession,
) -> Result<Session, ScheduleError> {
    let running = store
        .sessions(&SessionQuery {
            classroom: Some(new.spec.host),
            ..SessionQuery::between(now_utc, now_utc + 1)
        })?
        .into_iter()
        .find(|s| {
            s.spec.kind == new.spec.kind && s.spec.host == new.spec.host && !s.state.is_over()
        });
    match running {
        Some(s) => Ok(s),
        None => store
            .add_session(&new)?
            .pop()
            .ok_or(ScheduleError::NotFound {
                what: "session",
                id: 0,
            }),
    }
}

/// Seeds the demo schools and pairs and makes sure the demo sessions run around `now_utc`:
/// reuses those still running, otherwise schedules new ones starting now.
pub fn ensure_demo_lesson(store: &dyn Store, now_utc: i64) -> Result<DemoLesson, ScheduleError> {
    let bj101 = school(store, "北京一零一中学怀柔校区", Region::Beijing, "怀柔区")?;
    let bj12 = school(store, "北京市第十二中学", Region::Beijing, "丰台区")?;
    let szwq = school(store, "四子王旗第一中学", Region::InnerMongolia, "四子王旗")?;
    let zltq = school(
        store,
        "扎赉特旗音德尔第三中学",
        Region::InnerMongolia,
        "扎赉特旗",
    )?;
    let wc = school(store, "武川县第一中学", Region::InnerMongolia, "武川县")?;
    pair(store, &bj101, &szwq, "2023-09-01")?;
    pair(store, &bj12, &zltq, "2023-09-01")?;

    let host = room(store, &bj101, "初二(3)班", Some(8))?;
    let classrooms = vec![
        room(store, &szwq, "初二(1)班", Some(8))?,
        room(store, &zltq, "初二(2)班", Some(8))?,
        room(store, &wc, "初二(5)班", Some(8))?,
    ];
    let start = now_utc - now_utc % 60;
    let mut lesson = NewSession::single(
        SessionKind::Lesson,
        "勾股定理 (Pythagorean theorem)",
        "数学",
        start,
        120,
        host,
        classrooms.clone(),
    );
    lesson.spec.grade = Some(8);
    let session = running_or_new(store, now_utc, lesson)?;

    // 同步教研: teachers of three schools compare two lessons on the same topic.
    let office12 = room(store, &bj12, "教研室", None)?;
    let left = room(store, &bj12, "初一(2)班", Some(7))?;
    let right = room(store, &zltq, "初一(4)班", Some(7))?;
    let office_zl = room(store, &zltq, "教研室", None)?;
    let office_sz = room(store, &szwq, "教研室", None)?;
    let mut research = NewSession::single(
        SessionKind::Research,
        "同课异构:有理数的加法 (Adding rational numbers)",
        "数学",
        start,
        90,
        office12,
        vec![left, right, office_zl, office_sz],
    );
    research.spec.grade = Some(7);
    research.spec.people = vec!["王老师(丰台区教师进修学校)".into()];
    research.spec.comparison = Some(Comparison {
        left: ComparedLesson {
            classroom: left,
            title: "有理数的加法 · 情境导入".into(),
            teacher: "李老师".into(),
        },
        right: ComparedLesson {
            classroom: right,
            title: "有理数的加法 · 数轴探究".into(),
            teacher: "包老师".into(),
        },
    });
    let research = running_or_new(store, now_utc, research)?;

    // An expert lecture to a large audience that only receives.
    let hall = room(store, &bj101, "报告厅", None)?;
    let mut lecture = NewSession::single(
        SessionKind::Lecture,
        "新课标下的大单元教学 (Unit-based teaching under the new curriculum)",
        "教研",
        start,
        60,
        hall,
        Vec::new(),
    );
    lecture.spec.people = vec!["内蒙古教研员".into()];
    let lecture = running_or_new(store, now_utc, lecture)?;

    Ok(DemoLesson {
        session,
        host,
        classrooms,
        research,
        lecture,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;

    #[test]
    fn demo_is_idempotent_while_the_lesson_runs() {
        let store = SqliteStore::open_in_memory().unwrap();
        let a = ensure_demo_lesson(&store, 1_800_000_000).unwrap();
        let b = ensure_demo_lesson(&store, 1_800_000_600).unwrap();
        assert_eq!(a.session.id, b.session.id);
        assert_eq!(a.research.id, b.research.id);
        assert_eq!(a.lecture.id, b.lecture.id);
        assert_eq!(a.classrooms.len(), 3);
        assert!(a.research.spec.comparison.is_some());
        assert_eq!(store.pairs().unwrap().len(), 2);
        // Next day: new sessions.
        let c = ensure_demo_lesson(&store, 1_800_086_400).unwrap();
        assert_ne!(a.session.id, c.session.id);
    }
}
