//! Courseware over HTTP: the host uploads a deck of slides (images) for its session; every page
//! is served by its digest and never changes, so each classroom fetches it once, ahead of its
//! turn, and a page turn is one small signaling message (`show_slide` → `slide`).

use std::sync::Arc;

use axum::extract::{FromRequestParts, Multipart, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tongbu_schedule::courseware::{is_digest, MAX_DECK_BYTES};
use tongbu_schedule::{Deck, JoinClaims, NewDeck, NewPage, ScheduleError};
use tongbu_signal::ServerMessage;
use tracing::info;

use super::{db, field, ApiError, ApiErrorBody};
use crate::pdf_pages::{self, is_pdf};
use crate::server::{now_utc, AppState};

type App = State<Arc<AppState>>;

/// A participant's join token, from `Authorization: Bearer <token>`.
pub struct Participant(pub JoinClaims);

impl FromRequestParts<Arc<AppState>> for Participant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = super::bearer(&parts.headers).ok_or(ApiError::Unauthorized(
            "send the join token of your lesson link: Authorization: Bearer <token>",
        ))?;
        app.tokens
            .verify(token)
            .map(Participant)
            .map_err(|e| ApiError::Token(format!("the join token is refused: {e}")))
    }
}

/// Uploads a deck of slides for the session of the host's join token.
#[utoipa::path(post, path = "/api/courseware", tag = "courseware",
    request_body(content_type = "multipart/form-data",
        description = "A `title` part, then one `page` part per slide in order: PNG, JPEG or WebP (told by its bytes), or a PDF (each of its pages becomes a slide, rendered on the server), at most 8 MiB a page, 300 pages, 64 MiB in all."),
    security(("join_token" = [])),
    responses((status = 201, body = Deck),
        (status = 400, description = "a part is missing or is not an image; `fields` names it (`pages[2]`)", body = ApiErrorBody),
        (status = 401, description = "no join token, or one that is expired or tampered", body = ApiErrorBody),
        (status = 403, description = "a join token that is not the host's", body = ApiErrorBody)))]
pub async fn upload(
    State(app): App,
    Participant(claims): Participant,
    mut form: Multipart,
) -> Result<(StatusCode, Json<Deck>), ApiError> {
    if !claims.role.may_moderate() {
        return Err(ApiError::Forbidden(format!(
            "a {} may not upload courseware; the lesson's host does, from the host's link",
            claims.role
        )));
    }
    let mut title = None;
    let mut pages = Vec::new();
    let mut total = 0usize;
    let bad = |f: &str, m: String| ApiError::body(f, m);
    while let Some(part) = form.next_field().await.map_err(|e| {
        bad(
            "body",
            format!("not a complete multipart/form-data body: {e}"),
        )
    })? {
        match part.name().unwrap_or("") {
            "title" => {
                let t = part
                    .text()
                    .await
                    .map_err(|e| bad("title", format!("the title could not be read: {e}")))?;
                title = Some(t);
            }
            "page" => {
                let index = pages.len();
                let bytes = part.bytes().await.map_err(|e| {
                    bad(
                        &format!("pages[{index}]"),
                        format!("the page could not be read: {e}"),
                    )
                })?;
                total += bytes.len();
                if total > MAX_DECK_BYTES {
                    return Err(bad(
                        "pages",
                        format!(
                            "the deck is over {} MiB; export the slides smaller or split the deck",
                            MAX_DECK_BYTES / (1024 * 1024)
                        ),
                    ));
                }
                // A PDF becomes one page per PDF page; anything else must be an image.
                let images = if is_pdf(&bytes) {
                    pdf_pages::render(&bytes).await.map_err(|e| {
                        let message = e.to_string();
                        ApiError::Body(
                            vec![field(&format!("pages[{index}]"), message.clone())],
                            message,
                        )
                    })?
                } else {
                    vec![bytes.to_vec()]
                };
                for image in images {
                    let page = NewPage::check(pages.len(), image)
                        .map_err(|e| ApiError::Body(vec![e.clone()], e.message))?;
                    pages.push(page);
                }
            }
            other => {
                return Err(bad(
                    other,
                    format!("unknown part \"{other}\"; send a `title` and `page` parts"),
                ))
            }
        }
    }
    let Some(title) = title else {
        return Err(ApiError::Body(
            vec![field("title", "give the courseware a title")],
            "a `title` part is required".into(),
        ));
    };
    let session = claims.sid;
    let new = NewDeck {
        session,
        title,
        pages,
    };
    let now = now_utc();
    let (deck, decks) = db(&app, move |s| {
        let deck = s.add_deck(&new, now)?;
        Ok::<_, ScheduleError>((deck, s.decks(session)?))
    })
    .await?;
    info!(
        session = session.0,
        deck = deck.id.0,
        pages = deck.pages.len(),
        "courseware uploaded"
    );
    // Everyone in the lesson fetches the new deck's pages ahead.
    app.rooms
        .broadcast(session, &ServerMessage::Courseware { decks });
    Ok((StatusCode::CREATED, Json(deck)))
}

/// The decks of the session of a join token (any role).
#[utoipa::path(get, path = "/api/courseware", tag = "courseware",
    security(("join_token" = [])),
    responses((status = 200, body = [Deck]),
        (status = 401, description = "no join token, or one that is expired or tampered", body = ApiErrorBody)))]
pub async fn list(
    State(app): App,
    Participant(claims): Participant,
) -> Result<Json<Vec<Deck>>, ApiError> {
    let session = claims.sid;
    Ok(Json(db(&app, move |s| s.decks(session)).await?))
}

/// One page's image, by the SHA-256 of its bytes. It never changes: cached for a year.
#[utoipa::path(get, path = "/api/courseware/pages/{digest}", tag = "courseware",
    params(("digest" = String, Path, description = "the page's SHA-256, lower-case hex")),
    responses((status = 200, content_type = "image/png", description = "the image (PNG, JPEG or WebP)"),
        (status = 304, description = "the copy the client has (If-None-Match) is this one"),
        (status = 400, description = "not a digest", body = ApiErrorBody),
        (status = 404, description = "no deck has this page", body = ApiErrorBody)))]
pub async fn page(
    State(app): App,
    Path(digest): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !is_digest(&digest) {
        return Err(ApiError::body(
            "digest",
            "a page is named by the SHA-256 of its image, 64 lower-case hex digits".into(),
        ));
    }
    let etag = format!("\"{digest}\"");
    let cache = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).map_err(|e| ApiError::Internal(e.to_string()))?,
        ),
    ];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if fresh {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    let d = digest.clone();
    let Some(image) = db(&app, move |s| s.page_image(&d)).await? else {
        return Err(ApiError::NotFound(
            "no courseware has this page; ask the host to upload the deck again".into(),
        ));
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(image.image.mime()),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        cache,
        image.bytes,
    )
        .into_response())
}
