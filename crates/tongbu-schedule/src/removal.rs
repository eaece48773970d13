//! Who a host removed from a session: the pass that no longer opens it.
//!
//! A pass is what a join link stands for: a classroom (its host or classroom link, and any link
//! minted for it later, from its timetable page too), or a personal link (an invited teacher's,
//! named by the SHA-256 of the token). A shared link (a lecture's audience, visitors) is no
//! one's pass: removing someone who came by it ends their connection only.

use crate::{ClassroomId, SessionId};

/// What a join link stands for, as far as removal goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pass {
    Classroom(ClassroomId),
    /// The SHA-256 of a personal link's token, lower-case hex.
    Link(String),
}

impl Pass {
    /// The pass a verified token stands for (`None`: a shared link).
    #[cfg(feature = "tokens")]
    pub fn of(claims: &crate::JoinClaims, token: &str) -> Option<Pass> {
        match (claims.role, claims.classroom) {
            (crate::Role::Host | crate::Role::Classroom, Some(c)) => Some(Pass::Classroom(c)),
            _ if claims.shared => None,
            _ => Some(Pass::Link(crate::courseware::digest(token.as_bytes()))),
        }
    }

    /// The form it is stored in: `classroom:12`, `link:<hex>`.
    pub fn key(&self) -> String {
        match self {
            Pass::Classroom(c) => format!("classroom:{}", c.0),
            Pass::Link(d) => format!("link:{d}"),
        }
    }
}

/// A pass removed from a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub session: SessionId,
    pub pass: String,
    /// Who it was, as the others saw them.
    pub name: String,
    pub removed_utc: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{JoinClaims, Role};

    fn claims(role: Role, classroom: Option<i64>, shared: bool) -> JoinClaims {
        JoinClaims {
            sid: SessionId(1),
            role,
            classroom: classroom.map(ClassroomId),
            name: "x".into(),
            exp: 0,
            shared,
        }
    }

    #[test]
    fn a_classroom_is_its_pass_whatever_the_link_a_person_is_the_link_a_crowd_is_none() {
        let a = Pass::of(&claims(Role::Classroom, Some(3), false), "token-a");
        let b = Pass::of(&claims(Role::Classroom, Some(3), false), "token-b");
        assert_eq!(a, Some(Pass::Classroom(ClassroomId(3))));
        assert_eq!(a, b, "a new link for the same classroom is the same pass");
        let p = Pass::of(&claims(Role::Observer, None, false), "token-c").unwrap();
        assert!(p.key().starts_with("link:") && p.key().len() == 5 + 64);
        assert_ne!(
            Some(p),
            Pass::of(&claims(Role::Observer, None, false), "token-d")
        );
        assert_eq!(
            Pass::of(&claims(Role::Observer, None, true), "token-e"),
            None
        );
        assert_eq!(Pass::Classroom(ClassroomId(12)).key(), "classroom:12");
    }
}
