//! School pairs: a Beijing school and the Inner Mongolia school it teaches with.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validate::Problems;
use crate::{Region, ScheduleError, School, SchoolId};

/// A pair's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct PairId(pub i64);

/// A Beijing school ↔ an Inner Mongolia school, since a date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SchoolPair {
    pub id: PairId,
    pub beijing: SchoolId,
    pub beijing_name: String,
    pub inner_mongolia: SchoolId,
    pub inner_mongolia_name: String,
    /// `YYYY-MM-DD`.
    #[schema(value_type = String, format = Date)]
    pub since: jiff::civil::Date,
}

/// A pair to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPair {
    pub beijing: SchoolId,
    pub inner_mongolia: SchoolId,
    /// `YYYY-MM-DD`.
    #[schema(example = "2023-09-01")]
    pub since: String,
}

impl NewPair {
    /// Checks the pair against its two schools; returns the parsed date.
    pub fn validate(
        &self,
        beijing: Option<&School>,
        inner_mongolia: Option<&School>,
    ) -> Result<jiff::civil::Date, ScheduleError> {
        let mut p = Problems::default();
        match beijing {
            None => p.add("beijing", format!("no school with id {}", self.beijing.0)),
            Some(s) if s.region != Region::Beijing => {
                p.add("beijing", format!("{} is not a Beijing school", s.name))
            }
            Some(_) => {}
        }
        match inner_mongolia {
            None => p.add(
                "inner_mongolia",
                format!("no school with id {}", self.inner_mongolia.0),
            ),
            Some(s) if s.region != Region::InnerMongolia => p.add(
                "inner_mongolia",
                format!("{} is not an Inner Mongolia school", s.name),
            ),
            Some(_) => {}
        }
        let since = match crate::time::parse_date(&self.since) {
            Ok(d) => Some(d),
            Err(e) => {
                p.add("since", e);
                None
            }
        };
        p.into_result()?;
        // `since` is Some whenever no problem was recorded.
        since.ok_or(ScheduleError::Invalid(Vec::new()))
    }
}
