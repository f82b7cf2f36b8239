//! The web client (embedded in the binary, or served from a directory in
//! development), the OpenAPI document, and the JSON 404 for unknown API paths.

use std::path::Path;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use tower_http::services::{ServeDir, ServeFile};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::AppError;

#[derive(RustEmbed)]
#[folder = "../web"]
#[exclude = "*.md"]
struct Assets;

/// Serve an embedded file, `index.html` for client-side routes, 404 for missing assets.
async fn embedded(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    let (file, _) = match Assets::get(path) {
        Some(f) if !path.is_empty() => (f, path),
        // Paths without an extension are client routes (e.g. /w/<id>/admin).
        _ if !path.rsplit('/').next().unwrap_or_default().contains('.') => {
            match Assets::get("index.html") {
                Some(f) => (f, "index.html"),
                None => return StatusCode::NOT_FOUND.into_response(),
            }
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mime = file.metadata.mimetype().to_owned();
    let mut response = file.data.into_owned().into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // No hashed file names: revalidate every time (cheap with the ETag).
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The client router: embedded, or from `dir` when set (development).
pub fn client<S: Clone + Send + Sync + 'static>(dir: Option<&Path>) -> Router<S> {
    match dir {
        Some(dir) => Router::new()
            .fallback_service(ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")))),
        None => Router::new().fallback(embedded),
    }
}

/// JSON 404 for unknown `/api` paths.
pub async fn api_not_found() -> AppError {
    AppError::NotFound("no such API endpoint".into())
}

/// JSON 405 for a known path with the wrong method.
pub async fn method_not_allowed() -> Response {
    let mut r = AppError::BadRequest("method not allowed on this endpoint".into()).into_response();
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}

/// Top-level OpenAPI description; paths come from each module's router.
#[derive(OpenApi)]
#[openapi(
    info(title = "Convene API", description = "Self-hosted team chat and video meetings. Errors are `{\"error\": {\"code\", \"message\"}}`."),
    modifiers(&BearerAuth),
    tags(
        (name = "setup", description = "First-run setup"),
        (name = "auth", description = "Sign-in, tokens and registration"),
        (name = "me", description = "My account"),
        (name = "workspaces", description = "Workspaces"),
        (name = "members", description = "Workspace members and roles"),
        (name = "invites", description = "Invitations"),
        (name = "teams", description = "Teams (departments)"),
        (name = "audit", description = "Audit log"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Every operation can answer with some errors its handler does not list: 400 (a
/// malformed query or body), 422 (invalid values), 401 (secured operations), 404
/// (operations with path parameters), 409 (changes that conflict with the current
/// state), 413 and 415 (operations with a body). Documenting them here keeps each
/// handler's list about what is special to it. Applied after the module routers'
/// paths are merged (modifiers on [`ApiDoc`] run before that).
pub struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::Operation;
        use utoipa::openapi::{Content, Ref, ResponseBuilder};

        fn add(op: &mut Operation, status: &str, description: &str) {
            op.responses
                .responses
                .entry(status.to_owned())
                .or_insert_with(|| {
                    ResponseBuilder::new()
                        .description(description)
                        .content(
                            "application/json",
                            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                        )
                        .build()
                        .into()
                });
        }

        for item in openapi.paths.paths.values_mut() {
            let has_path_params = item.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let ops = [
                (&mut item.get, false),
                (&mut item.put, true),
                (&mut item.post, true),
                (&mut item.delete, true),
                (&mut item.patch, true),
            ];
            for (op, mutating) in ops {
                let Some(op) = op.as_mut() else { continue };
                add(op, "400", "Malformed request");
                add(op, "422", "Invalid values");
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    add(
                        op,
                        "401",
                        "Missing, invalid or expired token, or ended session",
                    );
                }
                let path_params = has_path_params
                    || op.parameters.as_ref().is_some_and(|ps| {
                        ps.iter().any(|p| {
                            matches!(p, utoipa::openapi::RefOr::T(p) if p.parameter_in == utoipa::openapi::path::ParameterIn::Path)
                        })
                    });
                if path_params {
                    add(op, "404", "Not found, or not visible to you");
                }
                if mutating {
                    add(op, "409", "Conflicts with the current state");
                }
                if op.request_body.is_some() {
                    add(op, "413", "Body too large");
                    add(op, "415", "Wrong content type");
                }
            }
        }
    }
}
