//! Schools, classrooms and school pairs.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use tongbu_schedule::{
    Classroom, ClassroomId, NewClassroom, NewPair, NewSchool, PairId, School, SchoolId, SchoolPair,
};
use utoipa::IntoParams;

use super::{db, ApiError, ApiErrorBody, Body, Id, Operator};
use crate::server::AppState;

type App = State<Arc<AppState>>;

#[utoipa::path(get, path = "/api/schools", tag = "catalog", security(("operator" = [])),
    responses((status = 200, body = Vec<School>), (status = 401, body = ApiErrorBody)))]
pub async fn list_schools(_: Operator, State(app): App) -> Result<Json<Vec<School>>, ApiError> {
    db(&app, |s| s.schools()).await.map(Json)
}

#[utoipa::path(post, path = "/api/schools", tag = "catalog", security(("operator" = [])),
    request_body = NewSchool,
    responses((status = 201, body = School), (status = 400, body = ApiErrorBody),
        (status = 409, description = "a school of that name exists", body = ApiErrorBody)))]
pub async fn create_school(
    _: Operator,
    State(app): App,
    Body(new): Body<NewSchool>,
) -> Result<(StatusCode, Json<School>), ApiError> {
    let school = db(&app, move |s| s.add_school(&new)).await?;
    Ok((StatusCode::CREATED, Json(school)))
}

#[utoipa::path(get, path = "/api/schools/{id}", tag = "catalog", security(("operator" = [])),
    params(("id" = i64, Path, description = "school id")),
    responses((status = 200, body = School), (status = 404, body = ApiErrorBody)))]
pub async fn get_school(
    _: Operator,
    State(app): App,
    Id(id): Id,
) -> Result<Json<School>, ApiError> {
    db(&app, move |s| s.school(SchoolId(id))).await.map(Json)
}

#[utoipa::path(put, path = "/api/schools/{id}", tag = "catalog", security(("operator" = [])),
    params(("id" = i64, Path, description = "school id")), request_body = NewSchool,
    responses((status = 200, body = School), (status = 400, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn update_school(
    _: Operator,
    State(app): App,
    Id(id): Id,
    Body(new): Body<NewSchool>,
) -> Result<Json<School>, ApiError> {
    db(&app, move |s| s.update_school(SchoolId(id), &new))
        .await
        .map(Json)
}

#[utoipa::path(delete, path = "/api/schools/{id}", tag = "catalog", security(("operator" = [])),
    params(("id" = i64, Path, description = "school id")),
    responses((status = 204), (status = 404, body = ApiErrorBody),
        (status = 409, description = "it still has classrooms or pairs", body = ApiErrorBody)))]
pub async fn delete_school(
    _: Operator,
    State(app): App,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    db(&app, move |s| s.delete_school(SchoolId(id))).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Filter of the classroom list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClassroomFilter {
    /// Only this school's classrooms.
    school: Option<i64>,
}

#[utoipa::path(get, path = "/api/classrooms", tag = "catalog", security(("operator" = [])),
    params(ClassroomFilter),
    responses((status = 200, body = Vec<Classroom>), (status = 401, body = ApiErrorBody)))]
pub async fn list_classrooms(
    _: Operator,
    State(app): App,
    q: Result<Query<ClassroomFilter>, QueryRejection>,
) -> Result<Json<Vec<Classroom>>, ApiError> {
    let Query(f) = q.map_err(|e| ApiError::body("school", e.body_text()))?;
    db(&app, move |s| s.classrooms(f.school.map(SchoolId)))
        .await
        .map(Json)
}

#[utoipa::path(post, path = "/api/classrooms", tag = "catalog", security(("operator" = [])),
    request_body = NewClassroom,
    responses((status = 201, body = Classroom), (status = 400, body = ApiErrorBody),
        (status = 409, body = ApiErrorBody)))]
pub async fn create_classroom(
    _: Operator,
    State(app): App,
    Body(new): Body<NewClassroom>,
) -> Result<(StatusCode, Json<Classroom>), ApiError> {
    let c = db(&app, move |s| s.add_classroom(&new)).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

#[utoipa::path(get, path = "/api/classrooms/{id}", tag = "catalog", security(("operator" = [])),
    params(("id" = i64, Path, description = "classroom id")),
    responses((status = 200, body = Classroom), (status = 404, body = ApiErrorBody)))]
pub async fn get_classroom(
    _: Operator,
    State(app): App,
    Id(id): Id,
) -> Result<Json<Classroom>, ApiError> {
    db(&app, move |s| s.classroom(ClassroomId(id)))
        .await
        .map(Json)
}

#[utoipa::path(put, path = "/api/classrooms/{id}", tag = "catalog", security(("operator" = [])),
    params(("id" = i64, Path, description = "classroom id")), request_body = NewClassroom,
    responses((status = 200, body = Classroom), (status = 400, body = ApiErrorBody),
        (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn update_classroom(
    _: Operator,
    State(app): App,
    Id(id): Id,
    Body(new): Body<NewClassroom>,
) -> Result<Json<Classroom>, ApiError> {
    db(&app, move |s| s.update_classroom(ClassroomId(id), &new))
        .await
        .map(Json)
}

#[utoipa::path(delete, path = "/api/classrooms/{id}", tag = "catalog", security(("operator" = [])),
    params(("id" = i64, Path, description = "classroom id")),
    responses((status = 204), (status = 404, body = ApiErrorBody),
        (status = 409, description = "sessions still list it", body = ApiErrorBody)))]
pub async fn delete_classroom(
    _: Operator,
    State(app): App,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    db(&app, move |s| s.delete_classroom(ClassroomId(id))).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/pairs", tag = "catalog", security(("operator" = [])),
    responses((status = 200, body = Vec<SchoolPair>), (status = 401, body = ApiErrorBody)))]
pub async fn list_pairs(_: Operator, State(app): App) -> Result<Json<Vec<SchoolPair>>, ApiError> {
    db(&app, |s| s.pairs()).await.map(Json)
}

#[utoipa::path(post, path = "/api/pairs", tag = "catalog", security(("operator" = [])),
    request_body = NewPair,
    responses((status = 201, body = SchoolPair), (status = 400, body = ApiErrorBody),
        (status = 409, description = "already paired", body = ApiErrorBody)))]
pub async fn create_pair(
    _: Operator,
    State(app): App,
    Body(new): Body<NewPair>,
) -> Result<(StatusCode, Json<SchoolPair>), ApiError> {
    let p = db(&app, move |s| s.add_pair(&new)).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

#[utoipa::path(delete, path = "/api/pairs/{id}", tag = "catalog", security(("operator" = [])),
    params(("id" = i64, Path, description = "pair id")),
    responses((status = 204), (status = 404, body = ApiErrorBody)))]
pub async fn delete_pair(_: Operator, State(app): App, Id(id): Id) -> Result<StatusCode, ApiError> {
    db(&app, move |s| s.delete_pair(PairId(id))).await?;
    Ok(StatusCode::NO_CONTENT)
}
