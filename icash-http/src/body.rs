//! Reading a JSON request body: declared as JSON, within the size limit, and well-formed, with
//! a sentence naming the field at fault otherwise.

use bytes::{Buf, BytesMut};
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use warp::Filter;

use crate::error::ApiError;

/// A request body not yet read: its declared type and length, and the stream of its bytes.
pub(crate) struct RawBody<S> {
    content_type: Option<String>,
    content_length: Option<u64>,
    stream: S,
}

/// Extracts the body without reading it, so that the handler can refuse it by its headers
/// first and read at most the limit.
pub(crate) fn raw_body() -> impl Filter<
    Extract = (RawBody<impl Stream<Item = Result<impl Buf, warp::Error>> + Send + Unpin>,),
    Error = warp::Rejection,
> + Clone {
    warp::header::optional::<String>("content-type")
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .map(|content_type, content_length, stream| RawBody {
            content_type,
            content_length,
            stream,
        })
}

impl<S, B> RawBody<S>
where
    S: Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    B: Buf,
{
    /// Reads and parses the body as a `T`, refusing a body that is not JSON (415), larger than
    /// `limit` bytes (413), or malformed (400).
    pub(crate) async fn json<T: DeserializeOwned>(mut self, limit: u64) -> Result<T, ApiError> {
        let is_json = self.content_type.as_deref().is_some_and(|value| {
            let essence = value.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("application/json")
        });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        if self.content_length.is_some_and(|length| length > limit) {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        let mut bytes = BytesMut::new();
        while let Some(chunk) = self.stream.next().await {
            let mut chunk = chunk.map_err(|_| {
                ApiError::BadRequest("the request body could not be read".to_owned())
            })?;
            if bytes.len() as u64 + chunk.remaining() as u64 > limit {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            while chunk.has_remaining() {
                let part = chunk.chunk();
                bytes.extend_from_slice(part);
                let read = part.len();
                chunk.advance(read);
            }
        }
        parse_json(&bytes)
    }
}

/// Parses JSON, naming the field at fault.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "the request body is empty: expected a JSON object".to_owned(),
        ));
    }
    // serde_json checks the UTF-8 of the strings it keeps, not of those it skips.
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::BadRequest(
            "the request body is not valid UTF-8".to_owned(),
        ));
    }
    // serde also reads a struct from an array of its fields in order; a client must name them.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::BadRequest(
            "the request body must be a JSON object".to_owned(),
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            format!("the request body is not valid JSON: {inner}")
        } else if path == "." {
            format!("the request body is not valid: {inner}")
        } else {
            format!("field `{path}` is not valid: {inner}")
        };
        ApiError::BadRequest(message)
    })?;
    deserializer.end().map_err(|error| {
        ApiError::BadRequest(format!("the request body is not valid JSON: {error}"))
    })?;
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dto::PurchaseRequest;

    fn message(body: &str) -> String {
        match parse_json::<PurchaseRequest>(body.as_bytes()) {
            Err(ApiError::BadRequest(message)) => message,
            other => panic!("{body}: expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn each_mistake_names_its_field() {
        assert!(message("").contains("empty"));
        assert!(message("{").contains("not valid JSON"));
        assert!(message("{}").contains("missing field"));
        assert!(message("[]").contains("must be a JSON object"));
        assert!(message(r#"[1, "new", [{"product_id": 1}]]"#).contains("must be a JSON object"));
        assert!(message("null").contains("must be a JSON object"));
        assert!(
            message(r#"{"user_id":"new","items":[]}"#).contains("missing field `supermarket_id`")
        );
        let wrong_type = message(r#"{"supermarket_id":"1","user_id":"new","items":[]}"#);
        assert!(
            wrong_type.starts_with("field `supermarket_id` is not valid: invalid type: string"),
            "{wrong_type}"
        );
        let item = message(r#"{"supermarket_id":1,"user_id":"new","items":[{"product_id":1.5}]}"#);
        assert!(
            item.starts_with("field `items[0].product_id` is not valid"),
            "{item}"
        );
        assert!(
            message(r#"{"supermarket_id":1,"supermarket_id":2,"user_id":"new","items":[]}"#)
                .contains("duplicate field")
        );
        assert!(message(r#"{"supermarket_id":1,"user_id":null,"items":[]}"#).contains("user_id"));
        assert!(
            message(r#"{"supermarket_id":1e400,"user_id":"new","items":[]}"#).contains("not valid")
        );
        assert!(
            message(r#"{"supermarket_id":1,"user_id":"new","items":[]} trailing"#)
                .contains("trailing")
        );
        assert!(
            message(r#"{"supermarket_id":1,"user_id":"new","items":[[1]]}"#)
                .contains("expected an item object")
        );
        let invalid_utf8 = b"{\"note\":\"\xff\xfe\",\"supermarket_id\":1,\"user_id\":\"new\",\"items\":[{\"product_id\":4}]}";
        assert!(
            matches!(parse_json::<PurchaseRequest>(invalid_utf8), Err(ApiError::BadRequest(m)) if m.contains("UTF-8"))
        );
        let deep = format!("{{\"a\":{}", "[".repeat(10_000));
        assert!(message(&deep).contains("not valid"));
    }
}
