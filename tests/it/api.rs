//! The HTTP API in process, through `warp::test`: for the tests that need no server process,
//! the requests they send `icash::http::api` and its answers as a client sees them.

use icash::http::{ApiConfig, SharedStore};
use serde_json::Value;
use warp::filters::BoxedFilter;
use warp::http::HeaderMap;
use warp::reply::Response;

/// The API as a filter that `warp::test` requests are sent to.
pub type Api = BoxedFilter<(Response,)>;

/// The API over `store`, with the default settings.
pub fn api(store: SharedStore) -> Api {
    icash::http::api(store, ApiConfig::default())
}

/// A response as a client sees it.
pub struct Answer {
    /// Its status code.
    pub status: u16,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text()))
    }

    /// A header's value, when it is there and is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The error sentence of a refusal, checking its shape: exactly `{"error": "..."}`.
    pub fn error(&self) -> String {
        let body = self.json();
        let object = body
            .as_object()
            .unwrap_or_else(|| panic!("an error body is an object: {body}"));
        assert_eq!(object.len(), 1, "an error body has only `error`: {body}");
        object["error"].as_str().expect("a sentence").to_owned()
    }
}

/// Sends `request` to `api`.
pub async fn send(api: &Api, request: warp::test::RequestBuilder) -> Answer {
    let response = request.reply(api).await;
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.body().to_vec(),
    }
}

/// A GET of `path`.
pub async fn get(api: &Api, path: &str) -> Answer {
    send(api, warp::test::request().method("GET").path(path)).await
}

/// A purchase request with a JSON `body`.
pub async fn post_json(api: &Api, body: &str) -> Answer {
    send(api, purchase_request(body)).await
}

/// A purchase request with a JSON `body`, for a test to add headers to.
pub fn purchase_request(body: &str) -> warp::test::RequestBuilder {
    warp::test::request()
        .method("POST")
        .path("/cash-register/purchase")
        .header("content-type", "application/json")
        .header("content-length", body.len().to_string())
        .body(body)
}

/// The API over `store` with `config`.
pub fn api_with(store: SharedStore, config: ApiConfig) -> Api {
    icash::http::api(store, config)
}

/// A request of `method` to `path` with `key` as its bearer key, if any.
pub fn request_with_key(method: &str, path: &str, key: Option<&str>) -> warp::test::RequestBuilder {
    let request = warp::test::request().method(method).path(path);
    match key {
        Some(key) => request.header("authorization", format!("Bearer {key}")),
        None => request,
    }
}
