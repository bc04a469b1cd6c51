//! The web page at `/ui/`: a till, a manager's view and the owner's dashboard, as static files
//! embedded in the binary at compile time (`icash-http/ui/`), so it needs no network beyond
//! the gateway. The files hold no data and answer anyone; every figure the page shows comes
//! from the JSON API, with the key the person signs in with.
//!
//! ```
//! use warp::Filter;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let store = std::sync::Arc::new(icash_core::MemoryStore::new());
//! let served = icash_http::ui().or(icash_http::api(store, icash_http::ApiConfig::default()));
//!
//! let page = warp::test::request().path("/ui/").reply(&served).await;
//! assert_eq!(page.status(), 200);
//! assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
//! # }
//! ```

use std::fmt::Write as _;

use rust_embed::RustEmbed;
use warp::filters::BoxedFilter;
use warp::filters::path::FullPath;
use warp::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH,
    LOCATION, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use warp::http::{HeaderMap, Method, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::routes::{get, without_body_for_head};

/// The page's files.
#[derive(RustEmbed)]
#[folder = "ui/"]
struct Assets;

/// Scripts, styles, images and requests from the gateway's own origin only, and nothing
/// inline: the page runs no code but its own files.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' \
                      data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
                      base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The page: `GET /ui/` and its files under `/ui/`, and `GET /ui`, redirected to `/ui/` (so
/// that the page's relative links resolve). Each `GET` also answers `HEAD`. A path it does not
/// hold is rejected, so it mounts before [`api`](crate::api), or under a prefix as the API
/// does (the page finds the API at `..`, relative to itself).
pub fn ui() -> BoxedFilter<(Response,)> {
    let file = warp::path("ui")
        .and(warp::path::tail())
        .and(warp::path::full())
        .and(warp::header::headers_cloned())
        .and_then(
            |tail: warp::path::Tail, full: FullPath, headers: HeaderMap| async move {
                if tail.as_str().is_empty() && !full.as_str().ends_with('/') {
                    return Ok(redirect());
                }
                asset(tail.as_str(), &headers).ok_or_else(warp::reject::not_found)
            },
        );
    get()
        .and(file)
        .and(warp::method())
        .map(|response, method: Method| without_body_for_head(response, method))
        .boxed()
}

/// `/ui` to `/ui/`, relative, so that it holds under any prefix the host mounts the page at.
fn redirect() -> Response {
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static("ui/"));
    response
}

/// The file at `path` under `/ui/` (the page itself for the empty path), or 304 when the
/// client's copy, named by `If-None-Match`, is current.
fn asset(path: &str, headers: &HeaderMap) -> Option<Response> {
    let path = if path.is_empty() { "index.html" } else { path };
    let file = Assets::get(path)?;
    let etag = file
        .metadata
        .sha256_hash()
        .iter()
        .fold(String::from("\""), |mut tag, byte| {
            let _ = write!(tag, "{byte:02x}");
            tag
        })
        + "\"";
    let current = headers
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let mut response = if current {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(file.data.into_owned().into());
        let mime = file.metadata.mimetype();
        let textual = mime.starts_with("text/") || mime.ends_with("javascript");
        let content_type = if textual {
            format!("{mime}; charset=utf-8")
        } else {
            mime.to_owned()
        };
        if let Ok(value) = HeaderValue::from_str(&content_type) {
            response.headers_mut().insert(CONTENT_TYPE, value);
        }
        response
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, value);
    }
    // Revalidated on every use (a 304 costs a round trip and no body), so that a new build's
    // page is never mixed with an old build's scripts.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fetch(path: &str, headers: &[(&str, &str)]) -> warp::http::Response<bytes::Bytes> {
        let mut request = warp::test::request().path(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.reply(&ui()).await
    }

    #[tokio::test]
    async fn the_page_and_its_files_are_served_with_their_types_and_a_strict_policy() {
        let page = fetch("/ui/", &[]).await;
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let policy = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.contains("script-src 'self';"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(page.headers()[CACHE_CONTROL], "no-cache");
        let body = String::from_utf8_lossy(page.body());
        assert!(
            body.contains("<script type=\"module\" src=\"app.js\">"),
            "{body}"
        );

        let script = fetch("/ui/app.js", &[]).await;
        assert_eq!(script.status(), 200);
        assert_eq!(
            script.headers()[CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let style = fetch("/ui/style.css", &[]).await;
        assert_eq!(style.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
    }

    #[tokio::test]
    async fn a_current_copy_is_answered_304_and_a_missing_file_is_left_to_other_filters() {
        let page = fetch("/ui/app.js", &[]).await;
        let etag = page.headers()[ETAG].to_str().unwrap().to_owned();
        let again = fetch("/ui/app.js", &[("if-none-match", &etag)]).await;
        assert_eq!(again.status(), 304);
        assert!(again.body().is_empty());

        let missing = warp::test::request()
            .path("/ui/nothing-here.js")
            .filter(&ui())
            .await;
        assert!(missing.is_err(), "rejected, for the API's 404");
    }

    #[tokio::test]
    async fn the_bare_path_is_redirected_to_the_page() {
        let redirect = fetch("/ui", &[]).await;
        assert_eq!(redirect.status(), 308);
        assert_eq!(redirect.headers()[LOCATION], "ui/");
    }
}
