//! JSON request bodies with errors that name the field (serde_path_to_error).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use orgcert_core::DomainError;
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

/// Largest JSON body accepted (a CSR is the biggest legitimate field).
pub const MAX_BODY: usize = 256 * 1024;

/// A JSON body, parsed with precise errors, plus its raw bytes.
pub struct JsonBody<T> {
    /// The parsed value.
    pub value: T,
    /// The raw bytes (for idempotency hashing).
    pub raw: Bytes,
}

/// Parses JSON bytes, naming the offending field in the error.
///
/// # Errors
/// `Malformed` with the field for syntax errors, wrong types, unknown or missing fields.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DomainError> {
    /// Every body is a JSON object (see [`orgcert_core::app::object`]).
    struct Body<T>(T);
    impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Body<T> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            orgcert_core::app::object(d).map(Body)
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<Body<T>, _> = serde_path_to_error::deserialize(de);
    parsed.map(|b| b.0).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        let field = if path != "." && !path.is_empty() {
            Some(path)
        } else {
            // Missing/unknown fields are reported at the parent: the name is in backticks.
            message.split('`').nth(1).map(str::to_owned)
        };
        let field = match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                field.filter(|_| false)
            }
            _ => field,
        };
        DomainError::Malformed {
            field,
            message: format!("invalid JSON body: {message}"),
        }
    })
}

/// A JSON body that may be left out: an empty body reads as `{}` (every field optional).
pub struct OptionalJsonBody<T>(pub JsonBody<T>);

/// The body of a route that takes none, read to its end and dropped. Many clients send
/// `{}` with every POST; hyper keeps a keep-alive connection only when the request was
/// read to its end (or the rest can be drained at once), so an unread body would cost
/// such a client a new connection after each request: a TCP handshake, or a TLS one.
pub struct NoBody;

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map(|_| NoBody)
            .map_err(|_| {
                ApiError(DomainError::Malformed {
                    field: None,
                    message: format!(
                        "this request takes no body; one of at most {MAX_BODY} bytes is ignored, \
                         a longer one or one that breaks off is refused"
                    ),
                })
            })
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        read(req, state, false).await
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        read(req, state, true).await.map(Self)
    }
}

async fn read<S: Send + Sync, T: DeserializeOwned>(
    req: Request,
    state: &S,
    optional: bool,
) -> Result<JsonBody<T>, ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            let ct = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            ct == "application/json" || ct.ends_with("+json")
        });
    let raw = Bytes::from_request(req, state).await.map_err(|_| {
        ApiError(DomainError::Malformed {
            field: None,
            message: "the request body could not be read".into(),
        })
    })?;
    if raw.len() > MAX_BODY {
        return Err(ApiError(DomainError::Malformed {
            field: None,
            message: format!("the request body must be at most {MAX_BODY} bytes"),
        }));
    }
    let empty = raw.iter().all(u8::is_ascii_whitespace);
    if is_json == Some(false) && !(optional && raw.is_empty()) {
        return Err(ApiError(DomainError::Malformed {
            field: None,
            message: "the body must be application/json".into(),
        }));
    }
    // Only routes whose fields are all optional take no body (the OpenAPI document says
    // which: `requestBody.required`); the others need one, as a PUT replaces a whole value.
    let bytes: &[u8] = match (empty, optional) {
        (true, true) => b"{}",
        (true, false) => {
            return Err(ApiError(DomainError::Malformed {
                field: None,
                message: "this request needs a JSON body".into(),
            }))
        }
        (false, _) => &raw,
    };
    let value = parse_json(bytes)?;
    Ok(JsonBody { value, raw })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        name: String,
        #[serde(default)]
        n: Option<u32>,
        #[serde(default, deserialize_with = "opt_object")]
        inner: Option<I>,
    }
    fn opt_object<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<I>, D::Error> {
        orgcert_core::app::object(d).map(Some)
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct I {
        flag: bool,
    }

    fn field(json: &str) -> Option<String> {
        match parse_json::<T>(json.as_bytes()) {
            Err(DomainError::Malformed { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field(r#"{"name": 3}"#).as_deref(), Some("name"));
        assert_eq!(field(r#"{}"#).as_deref(), Some("name"));
        assert_eq!(field(r#"{"name":"a","bogus":1}"#).as_deref(), Some("bogus"));
        assert_eq!(field(r#"{"name":"a","n":-1}"#).as_deref(), Some("n"));
        assert_eq!(
            field(r#"{"name":"a","inner":{"flag":"x"}}"#).as_deref(),
            Some("inner.flag")
        );
        assert_eq!(field(r#"{"name": "a""#), None);
        assert_eq!(field(r#"not json"#), None);
        // Structs come from objects only, not from arrays of their fields.
        assert!(parse_json::<T>(br#"["a"]"#).is_err());
        assert!(parse_json::<T>(br#"{"name":"a","inner":[true]}"#).is_err());
    }
}
