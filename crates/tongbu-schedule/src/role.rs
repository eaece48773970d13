//! Roles in a session (DESIGN.md, "Roles").

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// What a participant may do in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The teaching classroom: publishes, starts and ends the session, moderates.
    Host,
    /// A remote classroom: publishes its room, subscribes, raises hand, chats.
    Classroom,
    /// Research participants and lecture audience: receive only unless granted the floor.
    Observer,
    /// Platform staff: session health, end any session, manage the schedule.
    Operator,
}

impl Role {
    /// May publish camera and microphone without being granted the floor.
    pub fn may_publish(self) -> bool {
        matches!(self, Role::Host | Role::Classroom)
    }

    /// May start, end, mute and spotlight.
    pub fn may_moderate(self) -> bool {
        matches!(self, Role::Host | Role::Operator)
    }

    /// The lowercase name used in tokens, the database and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Host => "host",
            Role::Classroom => "classroom",
            Role::Observer => "observer",
            Role::Operator => "operator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "host" => Ok(Role::Host),
            "classroom" => Ok(Role::Classroom),
            "observer" => Ok(Role::Observer),
            "operator" => Ok(Role::Operator),
            other => Err(format!(
                "unknown role {other:?}; expected host, classroom, observer or operator"
            )),
        }
    }
}
