//! Schools and classrooms.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validate::Problems;
use crate::ScheduleError;

/// A school's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct SchoolId(pub i64);

/// A classroom's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct ClassroomId(pub i64);

/// Where a school is: the programme pairs Beijing schools with Inner Mongolia schools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    Beijing,
    InnerMongolia,
}

impl Region {
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Beijing => "beijing",
            Region::InnerMongolia => "inner_mongolia",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "beijing" => Some(Region::Beijing),
            "inner_mongolia" => Some(Region::InnerMongolia),
            _ => None,
        }
    }
}

/// A school.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct School {
    pub id: SchoolId,
    pub name: String,
    pub region: Region,
    /// District (Beijing) or banner/county (Inner Mongolia).
    pub district: String,
    /// IANA time zone its times are shown in.
    pub timezone: String,
}

/// A school to create or the new values of one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSchool {
    #[schema(example = "四子王旗第一中学")]
    pub name: String,
    pub region: Region,
    #[schema(example = "四子王旗")]
    pub district: String,
    /// IANA time zone; Asia/Shanghai when absent.
    #[serde(default = "default_zone")]
    #[schema(example = "Asia/Shanghai")]
    pub timezone: String,
}

fn default_zone() -> String {
    crate::time::DEFAULT_ZONE.to_string()
}

impl NewSchool {
    pub fn new(name: &str, region: Region, district: &str) -> Self {
        Self {
            name: name.into(),
            region,
            district: district.into(),
            timezone: default_zone(),
        }
    }

    pub fn validate(&self) -> Result<(), ScheduleError> {
        let mut p = Problems::default();
        p.text("name", &self.name, 100);
        p.text("district", &self.district, 100);
        if let Err(e) = crate::time::zone(&self.timezone) {
            p.add("timezone", e);
        }
        p.into_result()
    }
}

/// A classroom of a school: the unit that joins a lesson, with one camera and one microphone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Classroom {
    pub id: ClassroomId,
    pub school: SchoolId,
    pub school_name: String,
    pub name: String,
    /// School year 1–12 (初一 = 7), when it is one class's room.
    pub grade: Option<u8>,
    /// Seats.
    pub capacity: Option<u32>,
}

impl Classroom {
    /// "School · classroom", as shown under a video tile.
    pub fn display_name(&self) -> String {
        format!("{} · {}", self.school_name, self.name)
    }
}

/// A classroom to create or the new values of one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClassroom {
    pub school: SchoolId,
    #[schema(example = "初二(1)班")]
    pub name: String,
    #[serde(default)]
    pub grade: Option<u8>,
    #[serde(default)]
    pub capacity: Option<u32>,
}

impl NewClassroom {
    pub fn new(school: SchoolId, name: &str) -> Self {
        Self {
            school,
            name: name.into(),
            grade: None,
            capacity: None,
        }
    }

    pub fn validate(&self) -> Result<(), ScheduleError> {
        let mut p = Problems::default();
        p.text("name", &self.name, 100);
        if let Some(g) = self.grade {
            if !(1..=12).contains(&g) {
                p.add("grade", "must be a school year from 1 to 12 (初一 is 7)");
            }
        }
        if let Some(c) = self.capacity {
            if !(1..=2000).contains(&c) {
                p.add("capacity", "must be between 1 and 2000 seats");
            }
        }
        p.into_result()
    }
}
