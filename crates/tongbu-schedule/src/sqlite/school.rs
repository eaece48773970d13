//! The schools, classrooms and school pairs tables.

use rusqlite::{params, Row};

use super::{constraint, corrupt, not_found, Db};
use crate::{
    Classroom, ClassroomId, NewClassroom, NewPair, NewSchool, PairId, Region, ScheduleError,
    School, SchoolId, SchoolPair,
};

fn school_row(r: &Row) -> rusqlite::Result<(i64, String, String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn school_from(row: (i64, String, String, String, String)) -> Result<School, ScheduleError> {
    Ok(School {
        id: SchoolId(row.0),
        name: row.1,
        region: Region::parse(&row.2).ok_or_else(|| corrupt("region", &row.2))?,
        district: row.3,
        timezone: row.4,
    })
}

fn classroom_from(r: &Row) -> rusqlite::Result<Classroom> {
    Ok(Classroom {
        id: ClassroomId(r.get(0)?),
        school: SchoolId(r.get(1)?),
        school_name: r.get(2)?,
        name: r.get(3)?,
        grade: r.get(4)?,
        capacity: r.get(5)?,
    })
}

impl Db<'_> {
    pub(super) fn school_where(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
    ) -> Result<Vec<School>, ScheduleError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let rows = stmt
            .query_map(p, school_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(school_from).collect()
    }

    pub(super) fn classroom_where(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
    ) -> Result<Vec<Classroom>, ScheduleError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let rows = stmt
            .query_map(p, classroom_from)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The school a classroom names, or a field error on `school`.
    pub(super) fn school_of(&self, c: &NewClassroom) -> Result<School, ScheduleError> {
        self.school(c.school).map_err(|_| {
            ScheduleError::Invalid(vec![crate::FieldError {
                field: "school".into(),
                message: format!("no school with id {}", c.school.0),
            }])
        })
    }

    pub(super) fn add_school(&self, s: &NewSchool) -> Result<School, ScheduleError> {
        s.validate()?;
        self.0
            .prepare_cached(
                "INSERT INTO schools (name, region, district, timezone) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                s.name.trim(),
                s.region.as_str(),
                s.district.trim(),
                s.timezone
            ])
            .map_err(|e| constraint(e, &format!("a school named {} exists", s.name), ""))?;
        self.school(SchoolId(self.0.last_insert_rowid()))
    }

    pub(super) fn school(&self, id: SchoolId) -> Result<School, ScheduleError> {
        self.school_where(
            "SELECT id, name, region, district, timezone FROM schools WHERE id = ?1",
            params![id.0],
        )?
        .pop()
        .ok_or_else(|| not_found("school", id.0))
    }

    pub(super) fn school_by_name(&self, name: &str) -> Result<Option<School>, ScheduleError> {
        Ok(self
            .school_where(
                "SELECT id, name, region, district, timezone FROM schools WHERE name = ?1",
                params![name.trim()],
            )?
            .pop())
    }

    pub(super) fn schools(&self) -> Result<Vec<School>, ScheduleError> {
        self.school_where(
            "SELECT id, name, region, district, timezone FROM schools ORDER BY region, name",
            [],
        )
    }

    pub(super) fn update_school(
        &self,
        id: SchoolId,
        s: &NewSchool,
    ) -> Result<School, ScheduleError> {
        s.validate()?;
        let before = self.school(id)?;
        if before.region != s.region
            && self
                .pairs()?
                .iter()
                .any(|p| p.beijing == id || p.inner_mongolia == id)
        {
            return Err(ScheduleError::InUse(format!(
                "{} is paired; delete its pairs before changing its region",
                before.name
            )));
        }
        let n = self
            .0
            .prepare_cached(
                "UPDATE schools SET name = ?2, region = ?3, district = ?4, timezone = ?5
                 WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                s.name.trim(),
                s.region.as_str(),
                s.district.trim(),
                s.timezone
            ])
            .map_err(|e| constraint(e, &format!("a school named {} exists", s.name), ""))?;
        if n == 0 {
            return Err(not_found("school", id.0));
        }
        self.school(id)
    }

    pub(super) fn delete_school(&self, id: SchoolId) -> Result<(), ScheduleError> {
        self.delete(
            "DELETE FROM schools WHERE id = ?1",
            id.0,
            "school",
            "the school still has classrooms or pairs; delete those first",
        )
    }

    pub(super) fn add_classroom(&self, c: &NewClassroom) -> Result<Classroom, ScheduleError> {
        c.validate()?;
        let school = self.school_of(c)?;
        self.0
            .prepare_cached(
                "INSERT INTO classrooms (school_id, name, grade, capacity) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![c.school.0, c.name.trim(), c.grade, c.capacity])
            .map_err(|e| {
                constraint(
                    e,
                    &format!("{} already has a classroom named {}", school.name, c.name),
                    "",
                )
            })?;
        self.classroom(ClassroomId(self.0.last_insert_rowid()))
    }

    pub(super) fn classroom(&self, id: ClassroomId) -> Result<Classroom, ScheduleError> {
        self.classroom_where(
            "SELECT c.id, c.school_id, s.name, c.name, c.grade, c.capacity FROM classrooms c
             JOIN schools s ON s.id = c.school_id WHERE c.id = ?1",
            params![id.0],
        )?
        .pop()
        .ok_or_else(|| not_found("classroom", id.0))
    }

    pub(super) fn classroom_by_name(
        &self,
        school: SchoolId,
        name: &str,
    ) -> Result<Option<Classroom>, ScheduleError> {
        Ok(self
            .classroom_where(
                "SELECT c.id, c.school_id, s.name, c.name, c.grade, c.capacity FROM classrooms c
                 JOIN schools s ON s.id = c.school_id WHERE c.school_id = ?1 AND c.name = ?2",
                params![school.0, name.trim()],
            )?
            .pop())
    }

    pub(super) fn classrooms(
        &self,
        school: Option<SchoolId>,
    ) -> Result<Vec<Classroom>, ScheduleError> {
        self.classroom_where(
            "SELECT c.id, c.school_id, s.name, c.name, c.grade, c.capacity FROM classrooms c
             JOIN schools s ON s.id = c.school_id
             WHERE ?1 IS NULL OR c.school_id = ?1 ORDER BY s.name, c.name",
            params![school.map(|s| s.0)],
        )
    }

    pub(super) fn update_classroom(
        &self,
        id: ClassroomId,
        c: &NewClassroom,
    ) -> Result<Classroom, ScheduleError> {
        c.validate()?;
        self.school_of(c)?;
        let n = self
            .0
            .prepare_cached(
                "UPDATE classrooms SET school_id = ?2, name = ?3, grade = ?4, capacity = ?5
                 WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                c.school.0,
                c.name.trim(),
                c.grade,
                c.capacity
            ])
            .map_err(|e| {
                constraint(
                    e,
                    &format!("the school already has a classroom named {}", c.name),
                    &format!("no school with id {}", c.school.0),
                )
            })?;
        if n == 0 {
            return Err(not_found("classroom", id.0));
        }
        self.classroom(id)
    }

    pub(super) fn delete_classroom(&self, id: ClassroomId) -> Result<(), ScheduleError> {
        self.delete(
            "DELETE FROM classrooms WHERE id = ?1",
            id.0,
            "classroom",
            "sessions still list this classroom; remove it from them first",
        )
    }

    pub(super) fn add_pair(&self, p: &NewPair) -> Result<SchoolPair, ScheduleError> {
        let bj = self.school(p.beijing).ok();
        let im = self.school(p.inner_mongolia).ok();
        let since = p.validate(bj.as_ref(), im.as_ref())?;
        self.0
            .prepare_cached(
                "INSERT INTO school_pairs (beijing_school_id, inner_mongolia_school_id, since)
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(params![p.beijing.0, p.inner_mongolia.0, since.to_string()])
            .map_err(|e| constraint(e, "these two schools are already paired", ""))?;
        let id = PairId(self.0.last_insert_rowid());
        self.pairs()?
            .into_iter()
            .find(|x| x.id == id)
            .ok_or_else(|| not_found("pair", id.0))
    }

    pub(super) fn pairs(&self) -> Result<Vec<SchoolPair>, ScheduleError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT p.id, p.beijing_school_id, b.name, p.inner_mongolia_school_id, m.name, p.since
             FROM school_pairs p
             JOIN schools b ON b.id = p.beijing_school_id
             JOIN schools m ON m.id = p.inner_mongolia_school_id
             ORDER BY b.name, m.name",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|r| {
                Ok(SchoolPair {
                    id: PairId(r.0),
                    beijing: SchoolId(r.1),
                    beijing_name: r.2,
                    inner_mongolia: SchoolId(r.3),
                    inner_mongolia_name: r.4,
                    since: r.5.parse().map_err(|_| corrupt("date", &r.5))?,
                })
            })
            .collect()
    }

    pub(super) fn delete_pair(&self, id: PairId) -> Result<(), ScheduleError> {
        self.delete("DELETE FROM school_pairs WHERE id = ?1", id.0, "pair", "")
    }
}
