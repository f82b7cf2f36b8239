//! Files shared in channels: uploads are streamed to disk (never held whole in
//! memory), stored once per content hash in the data directory, described in the
//! database, and downloadable only by people who can read the channel. Images get a
//! thumbnail made on the blocking pool.

use std::path::{Path as FsPath, PathBuf};

use axum::body::Body;
use axum::extract::{Multipart, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::auth::CurrentUser;
use crate::chat::access::ChannelAccess;
use crate::chat::load::{FILE_COLUMNS, FileRow};
use crate::chat::model::FileInfo;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::extract::Path;
use crate::store::ids::{ChannelId, FileId, MessageId, UserId};
use crate::store::now_ms;
use crate::{AppState, db};

/// Longest side of a thumbnail, in pixels.
const THUMB_SIZE: u32 = 400;

/// Where a blob with this hash lives.
pub(crate) fn blob_path(files_dir: &FsPath, sha256: &str) -> PathBuf {
    files_dir.join(&sha256[..2]).join(sha256)
}

pub(crate) fn thumb_path(files_dir: &FsPath, sha256: &str) -> PathBuf {
    files_dir
        .join(&sha256[..2])
        .join(format!("{sha256}.thumb.png"))
}

/// A file name safe to store and show: no path, no control characters, ≤ 200 chars.
fn clean_name(raw: Option<&str>) -> String {
    let base = raw
        .unwrap_or("file")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("file");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

/// The stored content type: images by their bytes, anything else as declared when it
/// looks like a MIME type, else `application/octet-stream`.
fn content_type(first_bytes: &[u8], declared: Option<&str>) -> String {
    if let Ok(format) = image::guess_format(first_bytes) {
        match format {
            image::ImageFormat::Png => return "image/png".into(),
            image::ImageFormat::Jpeg => return "image/jpeg".into(),
            image::ImageFormat::Gif => return "image/gif".into(),
            image::ImageFormat::WebP => return "image/webp".into(),
            _ => {}
        }
    }
    let declared = declared.unwrap_or_default().trim().to_ascii_lowercase();
    let valid = declared.split_once('/').is_some_and(|(a, b)| {
        let ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        };
        ok(a) && ok(b)
    });
    // Never let a declared type claim to be an image or HTML the bytes are not.
    if valid
        && !declared.starts_with("image/")
        && !declared.contains("html")
        && !declared.contains("xml")
    {
        declared
    } else {
        "application/octet-stream".into()
    }
}

fn is_image(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// Make a thumbnail of an image file; returns its size when it worked.
fn make_thumbnail(src: &FsPath, dst: &FsPath) -> Option<(u32, u32)> {
    let mut reader = image::ImageReader::open(src)
        .ok()?
        .with_guessed_format()
        .ok()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().ok()?;
    let size = (img.width(), img.height());
    img.thumbnail(THUMB_SIZE, THUMB_SIZE)
        .save_with_format(dst, image::ImageFormat::Png)
        .ok()?;
    Some(size)
}

/// Upload a file to a channel (multipart form, field `file`). Attach it to a message
/// by passing its id in `file_ids` when sending.
#[utoipa::path(post, path = "/api/channels/{id}/files", tag = "files", operation_id = "uploadFile",
    params(("id" = String, Path, description = "channel id")),
    request_body(content_type = "multipart/form-data", description = "one part named `file`"),
    security(("bearer" = [])),
    responses((status = 201, body = FileInfo), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn upload(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<ChannelId>,
    mut multipart: Multipart,
) -> AppResult<(StatusCode, axum::Json<FileInfo>)> {
    let chat = &state.chat;
    let access = ChannelAccess::load(&chat.store, id, me.user_id).await?;
    access.require_post()?;
    let limit = chat.settings.max_upload_bytes;
    let files_dir = chat.settings.files_dir.clone();
    let tmp_dir = files_dir.join("tmp");
    tokio::fs::create_dir_all(&tmp_dir)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let bad_form = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge(format!("files may be at most {limit} bytes"))
        } else {
            AppError::BadRequest(format!("bad multipart form: {}", e.body_text()))
        }
    };
    let mut field = loop {
        match multipart.next_field().await.map_err(bad_form)? {
            Some(f) if f.name() == Some("file") => break f,
            Some(_) => continue,
            None => {
                return Err(AppError::Validation(
                    "the form has no part named \"file\"".into(),
                ));
            }
        }
    };
    let name = clean_name(field.file_name());
    let declared = field.content_type().map(str::to_owned);
    let tmp = tmp_dir.join(uuid::Uuid::now_v7().to_string());
    let mut out = tokio::fs::File::create(&tmp)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(32);
    let result: AppResult<()> = async {
        while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
            size += chunk.len() as u64;
            if size > limit {
                return Err(AppError::PayloadTooLarge(format!(
                    "files may be at most {limit} bytes"
                )));
            }
            if head.len() < 32 {
                head.extend(chunk.iter().take(32 - head.len()));
            }
            hasher.update(&chunk);
            out.write_all(&chunk)
                .await
                .map_err(|e| AppError::Internal(e.into()))?;
        }
        out.flush()
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        Ok(())
    }
    .await;
    drop(out);
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e);
    }
    if size == 0 {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(AppError::Validation("the file is empty".into()));
    }
    let sha256 = format!("{:x}", hasher.finalize());
    let final_path = blob_path(&files_dir, &sha256);
    if let Some(parent) = final_path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    if tokio::fs::try_exists(&final_path).await.unwrap_or(false) {
        let _ = tokio::fs::remove_file(&tmp).await;
    } else {
        tokio::fs::rename(&tmp, &final_path)
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    let content_type = content_type(&head, declared.as_deref());
    let mut dims = None;
    if is_image(&content_type) {
        let (src, dst) = (final_path.clone(), thumb_path(&files_dir, &sha256));
        dims = tokio::task::spawn_blocking(move || make_thumbnail(&src, &dst))
            .await
            .ok()
            .flatten();
    }
    let file_id = FileId::new();
    let row: FileRow = db!(chat.store.write(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO files (id, workspace_id, channel_id, uploader_id, sha256, size, name, content_type, width, height, has_thumbnail, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {FILE_COLUMNS}"
    )))
    .bind(file_id)
    .bind(access.channel.workspace_id)
    .bind(id)
    .bind(me.user_id)
    .bind(&sha256)
    .bind(size as i64)
    .bind(&name)
    .bind(&content_type)
    .bind(dims.map(|d| d.0 as i64))
    .bind(dims.map(|d| d.1 as i64))
    .bind(dims.is_some())
    .bind(now_ms())
    .fetch_one(c)
    .await)?;
    Ok((StatusCode::CREATED, axum::Json(row.info())))
}

#[derive(sqlx::FromRow)]
struct Stored {
    channel_id: ChannelId,
    uploader_id: Option<UserId>,
    message_id: Option<MessageId>,
    sha256: String,
    name: String,
    content_type: String,
    size: i64,
    has_thumbnail: bool,
}

/// Find a file the caller may download: in a channel they can read, attached to a
/// message, or their own upload not sent yet.
async fn downloadable(state: &AppState, id: FileId, user: UserId) -> AppResult<Stored> {
    let row: Option<Stored> = db!(state.store.read(), c => sqlx::query_as(
        "SELECT channel_id, uploader_id, message_id, sha256, name, content_type, size, has_thumbnail FROM files WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await)?;
    let row = row.ok_or_else(|| AppError::not_found("file"))?;
    ChannelAccess::load(&state.store, row.channel_id, user)
        .await
        .map_err(|_| AppError::not_found("file"))?;
    if row.message_id.is_none() && row.uploader_id != Some(user) {
        return Err(AppError::not_found("file"));
    }
    Ok(row)
}

/// `filename*=UTF-8''…` (RFC 5987) plus an ASCII fallback.
fn disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

async fn stream(
    path: PathBuf,
    content_type: &str,
    disposition_value: String,
    len: Option<i64>,
) -> AppResult<Response> {
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| AppError::not_found("file"))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition_value) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    // Even if a browser opened it directly, nothing in it may run.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}

/// Download a file.
#[utoipa::path(get, path = "/api/files/{id}", tag = "files", operation_id = "downloadFile",
    params(("id" = String, Path, description = "file id")), security(("bearer" = [])),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn download(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<FileId>,
) -> AppResult<Response> {
    let f = downloadable(&state, id, me.user_id).await?;
    let inline = is_image(&f.content_type);
    let served_type = if inline {
        f.content_type.as_str()
    } else {
        "application/octet-stream"
    };
    let path = blob_path(&state.chat.settings.files_dir, &f.sha256);
    stream(
        path,
        served_type,
        disposition(if inline { "inline" } else { "attachment" }, &f.name),
        Some(f.size),
    )
    .await
}

/// An image file's thumbnail (PNG, at most 400×400).
#[utoipa::path(get, path = "/api/files/{id}/thumbnail", tag = "files", operation_id = "downloadThumbnail",
    params(("id" = String, Path, description = "file id")), security(("bearer" = [])),
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 404, body = ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn thumbnail(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<FileId>,
) -> AppResult<Response> {
    let f = downloadable(&state, id, me.user_id).await?;
    if !f.has_thumbnail {
        return Err(AppError::not_found("thumbnail"));
    }
    let path = thumb_path(&state.chat.settings.files_dir, &f.sha256);
    stream(
        path,
        "image/png",
        disposition("inline", &format!("{}.png", f.name)),
        None,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(clean_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_name(Some("C:\\x\\报告.pdf")), "报告.pdf");
        assert_eq!(clean_name(Some(".bashrc")), "bashrc");
        assert_eq!(clean_name(None), "file");
    }

    #[test]
    fn content_types_come_from_bytes_for_images_and_never_claim_html() {
        assert_eq!(
            content_type(b"\x89PNG\r\n\x1a\n0000", Some("text/html")),
            "image/png"
        );
        assert_eq!(
            content_type(b"<html>", Some("text/html")),
            "application/octet-stream"
        );
        assert_eq!(
            content_type(b"<svg>", Some("image/svg+xml")),
            "application/octet-stream"
        );
        assert_eq!(
            content_type(b"%PDF", Some("application/pdf")),
            "application/pdf"
        );
        assert_eq!(
            content_type(b"x", Some("bad type")),
            "application/octet-stream"
        );
    }

    #[test]
    fn dispositions_encode_unicode_names() {
        let d = disposition("attachment", "会议 纪要.pdf");
        assert!(d.starts_with("attachment; filename=\""));
        assert!(d.contains("filename*=UTF-8''%E4%BC%9A"));
    }
}
