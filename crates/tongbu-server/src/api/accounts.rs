//! Local teacher accounts, for schools without the education platform: the operator creates
//! them, sets a new password when a teacher forgot theirs, and deletes them (the password is
//! hashed here and never stored or logged as typed).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use tongbu_schedule::{AccountId, LocalAccount, NewLocalAccount, SchoolId};
use utoipa::ToSchema;

use super::{db, ApiError, ApiErrorBody, Body, Id, Operator};
use crate::server::{now_utc, AppState};

/// An account to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// What the teacher types to sign in: 3–40 lower-case letters, digits, `.`, `_`, `-`.
    #[schema(example = "wang.li")]
    pub username: String,
    #[schema(example = "王老师")]
    pub name: String,
    pub school: SchoolId,
    /// At least 10 characters.
    pub password: String,
}

#[utoipa::path(get, path = "/api/accounts", tag = "catalog", security(("operator" = [])),
    responses((status = 200, body = Vec<LocalAccount>), (status = 401, body = ApiErrorBody)))]
pub async fn list_accounts(
    _: Operator,
    State(app): State<Arc<AppState>>,
) -> Result<Json<Vec<LocalAccount>>, ApiError> {
    db(&app, |s| s.accounts()).await.map(Json)
}

#[utoipa::path(post, path = "/api/accounts", tag = "catalog", security(("operator" = [])),
    request_body = NewAccount,
    responses((status = 201, body = LocalAccount),
        (status = 400, description = "each bad field named (a taken user name too)", body = ApiErrorBody),
        (status = 401, body = ApiErrorBody), (status = 404, description = "no such school", body = ApiErrorBody)))]
pub async fn create_account(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Body(a): Body<NewAccount>,
) -> Result<(StatusCode, Json<LocalAccount>), ApiError> {
    let username = a.username.trim().to_string();
    tongbu_schedule::account::validate(&username, &a.name, &a.password)?;
    let password_hash = hash(a.password).await?;
    let new = NewLocalAccount {
        username,
        name: a.name,
        school: a.school,
        password_hash,
    };
    let account = db(&app, move |s| s.add_account(&new, now_utc())).await?;
    tracing::info!(username = %account.username, school = account.school.0, "local account created");
    Ok((StatusCode::CREATED, Json(account)))
}

/// A new password for an account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    /// At least 10 characters.
    pub password: String,
}

/// Argon2id PHC of a password, off the async workers (it takes a deliberate while).
async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || crate::signin::local::hash(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::Internal)
}

#[utoipa::path(put, path = "/api/accounts/{id}/password", tag = "catalog", security(("operator" = [])),
    params(("id" = i64, Path, description = "account id")), request_body = NewPassword,
    responses((status = 204, description = "set; the account's open sessions end at their next call"),
        (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody)))]
pub async fn set_account_password(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Id(id): Id,
    Body(p): Body<NewPassword>,
) -> Result<StatusCode, ApiError> {
    tongbu_schedule::account::validate_password(&p.password)?;
    let password_hash = hash(p.password).await?;
    db(&app, move |s| {
        s.set_account_password(AccountId(id), &password_hash)
    })
    .await?;
    tracing::info!(account = id, "local account's password set by the operator");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/accounts/{id}", tag = "catalog", security(("operator" = [])),
    params(("id" = i64, Path, description = "account id")),
    responses((status = 204, description = "deleted; its sessions end at their next call"),
        (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub async fn delete_account(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    db(&app, move |s| s.delete_account(AccountId(id))).await?;
    Ok(StatusCode::NO_CONTENT)
}
