//! Join links: one signed token per participant of a session, as a URL of the web client.

use serde::Serialize;
use tongbu_schedule::{
    ClassroomId, JoinClaims, Role, ScheduleError, Session, SessionKind, Store, TokenKey,
};
use utoipa::ToSchema;

/// A link that lets one participant join one session in one role.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JoinLink {
    pub role: Role,
    /// Shown to the others ("四子王旗第一中学 · 初二(1)班", "王老师").
    pub name: String,
    pub classroom: Option<ClassroomId>,
    /// Path of the web client with the token, e.g. `/lesson.html?token=…`.
    pub url: String,
    /// Expiry, seconds since the epoch (UTC).
    pub expires_utc: i64,
}

/// One participant's own link.
pub fn link(
    tokens: &TokenKey,
    session: &Session,
    role: Role,
    classroom: Option<ClassroomId>,
    name: String,
    exp: i64,
) -> JoinLink {
    mint(tokens, session, (role, classroom, name), exp, false)
}

/// A link (`shared`: one many people use, which a removal cannot bar).
fn mint(
    tokens: &TokenKey,
    session: &Session,
    (role, classroom, name): (Role, Option<ClassroomId>, String),
    exp: i64,
    shared: bool,
) -> JoinLink {
    let token = tokens.issue(&JoinClaims {
        sid: session.id,
        role,
        classroom,
        name: name.clone(),
        exp,
        shared,
    });
    JoinLink {
        role,
        name,
        classroom,
        url: format!("/lesson.html?token={token}"),
        expires_utc: exp,
    }
}

/// A link for everyone the session lists: the host classroom, each classroom, each person
/// invited by name (observer), and a shared observer link (the lecture audience, visitors).
pub fn session_links(
    store: &dyn Store,
    tokens: &TokenKey,
    session: &Session,
    exp: i64,
) -> Result<Vec<JoinLink>, ScheduleError> {
    let mut out = Vec::new();
    let host = store.classroom(session.spec.host)?;
    out.push(link(
        tokens,
        session,
        Role::Host,
        Some(host.id),
        host.display_name(),
        exp,
    ));
    for id in &session.spec.classrooms {
        let c = store.classroom(*id)?;
        out.push(link(
            tokens,
            session,
            Role::Classroom,
            Some(c.id),
            c.display_name(),
            exp,
        ));
    }
    for name in &session.spec.people {
        out.push(link(
            tokens,
            session,
            Role::Observer,
            None,
            name.clone(),
            exp,
        ));
    }
    let audience = match session.spec.kind {
        SessionKind::Lecture => "听众 Audience",
        SessionKind::Lesson | SessionKind::Research => "观察员 Observer",
    };
    out.push(mint(
        tokens,
        session,
        (Role::Observer, None, audience.to_string()),
        exp,
        true,
    ));
    Ok(out)
}
