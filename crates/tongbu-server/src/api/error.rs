//! API errors as HTTP responses with a JSON body that says what to fix.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tongbu_schedule::{Clash, FieldError, ScheduleError};
use utoipa::ToSchema;

/// Why a request failed.
#[derive(Debug)]
pub enum ApiError {
    Unauthorized(&'static str),
    /// A schedule link that is expired, tampered or not a schedule link.
    Token(String),
    Schedule(ScheduleError),
    /// The body is not the JSON expected.
    Body(Vec<FieldError>, String),
    /// Too many wrong credentials from this address: try again after this many seconds.
    TooManyTries(u64),
    /// The credential is good but its role may not do this.
    Forbidden(String),
    /// Nothing by that name.
    NotFound(String),
    /// A request that is understood but not possible now (e.g. starting before the window).
    State(String),
    /// Not enough disk space for it (a recording).
    Storage(String),
    Internal(String),
}

impl ApiError {
    pub fn body(field: &str, message: String) -> Self {
        ApiError::Body(vec![super::field(field, message.clone())], message)
    }
}

impl From<crate::lifecycle::LifecycleError> for ApiError {
    fn from(e: crate::lifecycle::LifecycleError) -> Self {
        match e {
            crate::lifecycle::LifecycleError::Schedule(e) => ApiError::Schedule(e),
            e @ crate::lifecycle::LifecycleError::Worker(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<ScheduleError> for ApiError {
    fn from(e: ScheduleError) -> Self {
        ApiError::Schedule(e)
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiErrorBody {
    /// `unauthorized`, `too_many_tries`, `invalid_token`, `forbidden`, `invalid`, `not_found`, `clash`, `conflict`,
    /// `wrong_state`, `insufficient_storage`, `internal`.
    pub error: &'static str,
    /// What happened and what to do, for a person.
    pub message: String,
    /// Each bad field (400).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// The session a classroom is already booked in (409 `clash`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clash: Option<Clash>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = |error, message: String| ApiErrorBody {
            error,
            message,
            fields: Vec::new(),
            clash: None,
        };
        let (status, body) = match self {
            ApiError::Unauthorized(m) => {
                let b = body("unauthorized", m.to_string());
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer")],
                    Json(b),
                )
                    .into_response();
            }
            ApiError::Token(m) => (StatusCode::UNAUTHORIZED, body("invalid_token", m)),
            ApiError::Body(fields, message) => (
                StatusCode::BAD_REQUEST,
                ApiErrorBody {
                    fields,
                    ..body("invalid", message)
                },
            ),
            ApiError::State(m) => (StatusCode::CONFLICT, body("wrong_state", m)),
            ApiError::Storage(m) => (
                StatusCode::INSUFFICIENT_STORAGE,
                body("insufficient_storage", m),
            ),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, body("forbidden", m)),
            ApiError::TooManyTries(secs) => {
                let b = body(
                    "too_many_tries",
                    format!("too many wrong credentials from this address; try again in {secs} s"),
                );
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, secs.to_string())],
                    Json(b),
                )
                    .into_response();
            }
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, body("not_found", m)),
            ApiError::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, body("internal", m)),
            ApiError::Schedule(e) => {
                let message = e.to_string();
                match e {
                    ScheduleError::Invalid(fields) => (
                        StatusCode::BAD_REQUEST,
                        ApiErrorBody {
                            fields,
                            ..body("invalid", message)
                        },
                    ),
                    ScheduleError::NotFound { .. } => {
                        (StatusCode::NOT_FOUND, body("not_found", message))
                    }
                    ScheduleError::Clash(c) => (
                        StatusCode::CONFLICT,
                        ApiErrorBody {
                            clash: Some(*c),
                            ..body("clash", message)
                        },
                    ),
                    ScheduleError::Conflict(_) | ScheduleError::InUse(_) => {
                        (StatusCode::CONFLICT, body("conflict", message))
                    }
                    other => {
                        tracing::error!("schedule store failed: {other}");
                        (StatusCode::INTERNAL_SERVER_ERROR, body("internal", message))
                    }
                }
            }
        };
        (status, Json(body)).into_response()
    }
}
