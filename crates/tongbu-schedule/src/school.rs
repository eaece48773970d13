//! Schools and classrooms.

use serde::{Deserialize, Serialize};

/// A school's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SchoolId(pub i64);

/// A classroom's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClassroomId(pub i64);

/// Where a school is: the programme pairs Beijing schools with Inner Mongolia schools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct School {
    pub id: SchoolId,
    pub name: String,
    pub region: Region,
    /// District (Beijing) or banner/county (Inner Mongolia).
    pub district: String,
}

/// A classroom of a school: the unit that joins a lesson, with one camera and one microphone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classroom {
    pub id: ClassroomId,
    pub school: SchoolId,
    pub school_name: String,
    pub name: String,
}

impl Classroom {
    /// "School · classroom", as shown under a video tile.
    pub fn display_name(&self) -> String {
        format!("{} · {}", self.school_name, self.name)
    }
}
