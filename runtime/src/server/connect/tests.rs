use std::convert::Infallible;
use std::time::Duration;

use http_body_util::Full;

use super::*;
use crate::Code;
use crate::context::ResponseMetadata;

static UNARY: MethodInfo =
    MethodInfo::new("/pkg.Svc/Get", MethodKind::Unary).idempotency(Idempotency::NoSideEffects);
static STREAM: MethodInfo = MethodInfo::new("/pkg.Svc/Watch", MethodKind::ServerStreaming);

fn post(content_type: &str, body: &'static [u8]) -> http::Request<Full<Bytes>> {
    http::Request::post("/pkg.Svc/Get")
        .header(CONTENT_TYPE, content_type)
        .header(CONTENT_LENGTH, body.len())
        .body(Full::new(Bytes::from_static(body)))
        .unwrap()
}

async fn body_of(request: http::Request<axum::body::Body>) -> Bytes {
    request.into_body().collect().await.unwrap().to_bytes()
}

#[test]
fn grpc_is_recognised_and_everything_else_is_connect() {
    let headers = |content_type: &'static str| {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers
    };
    assert!(!is_connect(&headers("application/grpc"), &Method::POST));
    assert!(!is_connect(
        &headers("application/grpc+proto"),
        &Method::POST
    ));
    assert!(is_connect(&headers("application/json"), &Method::POST));
    assert!(is_connect(&HeaderMap::new(), &Method::POST));
    assert!(is_connect(&HeaderMap::new(), &Method::GET));
}

#[tokio::test]
async fn a_unary_post_becomes_one_grpc_message_with_its_timeout_and_compression() {
    let mut request = post("application/json; charset=utf-8", b"{\"id\":1}");
    let headers = request.headers_mut();
    headers.insert(wire::TIMEOUT_MS, HeaderValue::from_static("1500"));
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    headers.insert(wire::PROTOCOL_VERSION, HeaderValue::from_static("1"));
    let (request, _reply) = translate(request, &UNARY, 1024).unwrap();
    let headers = request.headers();
    assert_eq!(headers[CONTENT_TYPE], "application/grpc");
    assert_eq!(
        crate::deadline::parse_grpc_timeout(headers[GRPC_TIMEOUT].as_bytes()).unwrap(),
        Duration::from_millis(1500)
    );
    assert_eq!(headers["grpc-encoding"], "gzip");
    assert_eq!(headers["grpc-accept-encoding"], "gzip");
    assert!(
        !headers.contains_key(CONTENT_LENGTH),
        "the framed body is longer"
    );
    assert!(!headers.contains_key(wire::PROTOCOL_VERSION));
    assert_eq!(request.extensions().get::<Format>(), Some(&Format::Json));
    let body = body_of(request).await;
    assert_eq!(&body[..5], [1, 0, 0, 0, 8], "compressed, 8 bytes");
    assert_eq!(&body[5..], b"{\"id\":1}");
}

#[tokio::test]
async fn a_unary_body_over_the_limit_is_resource_exhausted() {
    let (request, _) = translate(post("application/proto", b"0123456789"), &UNARY, 4).unwrap();
    let error = request.into_body().collect().await.unwrap_err();
    let status = Status::from_error(error.into());
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(crate::rpc::is_size_limit_message(status.message()));
}

#[tokio::test]
async fn a_get_reads_its_message_from_the_query() {
    let request = http::Request::get("/pkg.Svc/Get?connect=v1&encoding=proto&base64=1&message=CAE")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (request, _) = translate(request, &UNARY, 1024).unwrap();
    assert_eq!(request.method(), Method::POST);
    assert_eq!(request.extensions().get::<Format>(), Some(&Format::Proto));
    assert_eq!(&body_of(request).await[..], [0, 0, 0, 0, 2, 8, 1]);

    for (query, wrong) in [
        ("message=%7B%7D", "no encoding"),
        ("encoding=xml&message=x", "an unknown encoding"),
        ("encoding=proto&base64=1&message=!!", "bad base64"),
        ("encoding=json&connect=v2&message=%7B%7D", "another version"),
    ] {
        let request = http::Request::get(format!("/pkg.Svc/Get?{query}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = translate(request, &UNARY, 1024).unwrap_err();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{wrong}");
    }
    let request = http::Request::get("/pkg.Svc/Watch?encoding=json&message=%7B%7D")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = translate(request, &STREAM, 1024).unwrap_err();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_stream_keeps_its_envelopes_and_renames_its_compression_headers() {
    let mut request = post("application/connect+proto", b"\x00\x00\x00\x00\x00");
    request
        .headers_mut()
        .insert(wire::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    request
        .headers_mut()
        .insert(wire::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    let (request, _) = translate(request, &STREAM, 1024).unwrap();
    assert_eq!(request.headers()["grpc-encoding"], "gzip");
    assert_eq!(request.headers()["grpc-accept-encoding"], "gzip");
    assert_eq!(&body_of(request).await[..], [0, 0, 0, 0, 0]);

    let response = translate(post("application/proto", b""), &STREAM, 1024).unwrap_err();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let response = translate(post("application/connect+json", b""), &UNARY, 1024).unwrap_err();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// A gRPC answer as tonic gives it: headers, then a body of `data` and `trailers`.
fn grpc_answer(data: &'static [u8], trailers: &[(&'static str, &'static str)]) -> Response {
    let mut trailer_map = HeaderMap::new();
    for (name, value) in trailers {
        trailer_map.append(*name, HeaderValue::from_static(value));
    }
    let frames = vec![
        Ok::<_, Status>(http_body::Frame::data(Bytes::from_static(data))),
        Ok(http_body::Frame::trailers(trailer_map)),
    ];
    let body = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
    let mut response = http::Response::new(tonic::body::Body::new(body));
    response
        .headers_mut()
        .insert("x-header", HeaderValue::from_static("h"));
    response
}

async fn connect_answer(grpc: Response, reply: Reply) -> (http::response::Parts, Bytes) {
    let ready = std::future::ready(Ok::<_, Infallible>(grpc));
    let response = super::reply(ready, reply, ResponseMetadata::new())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    (parts, body.collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn a_unary_answer_is_the_message_with_its_trailers_as_headers() {
    let grpc = grpc_answer(
        b"\x00\x00\x00\x00\x02\x08\x01",
        &[("grpc-status", "0"), ("x-trailer", "t")],
    );
    let (parts, body) = connect_answer(grpc, Reply::new(false, Format::Proto)).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(parts.headers[CONTENT_TYPE], "application/proto");
    assert_eq!(parts.headers["x-header"], "h");
    assert_eq!(parts.headers["trailer-x-trailer"], "t");
    assert!(!parts.headers.contains_key("grpc-status"));
    assert_eq!(&body[..], [8, 1]);
}

#[tokio::test]
async fn a_unary_error_is_json_with_the_codes_http_status() {
    let grpc = grpc_answer(
        b"",
        &[
            ("grpc-status", "5"),
            ("grpc-message", "gone"),
            ("x-trailer", "t"),
        ],
    );
    let (parts, body) = connect_answer(grpc, Reply::new(false, Format::Json)).await;
    assert_eq!(parts.status, StatusCode::NOT_FOUND);
    assert_eq!(parts.headers[CONTENT_TYPE], "application/json");
    assert_eq!(parts.headers["trailer-x-trailer"], "t");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"code": "not_found", "message": "gone"})
    );

    // Trailers-only: the status in the headers.
    let mut grpc = Status::permission_denied("no").into_http::<tonic::body::Body>();
    grpc.headers_mut()
        .insert("x-header", HeaderValue::from_static("h"));
    let (parts, body) = connect_answer(grpc, Reply::new(false, Format::Proto)).await;
    assert_eq!(parts.status, StatusCode::FORBIDDEN);
    assert_eq!(parts.headers["x-header"], "h");
    assert!(body.starts_with(b"{\"code\":\"permission_denied\""));
}

#[tokio::test]
async fn a_stream_ends_with_its_status_and_trailers_as_json() {
    let grpc = grpc_answer(
        b"\x00\x00\x00\x00\x02{}",
        &[("grpc-status", "0"), ("x-trailer", "t")],
    );
    let (parts, body) = connect_answer(grpc, Reply::new(true, Format::Json)).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(parts.headers[CONTENT_TYPE], "application/connect+json");
    assert_eq!(&body[..7], b"\x00\x00\x00\x00\x02{}");
    assert_eq!(body[7], wire::FLAG_END_STREAM);
    let end: serde_json::Value = serde_json::from_slice(&body[12..]).unwrap();
    assert_eq!(end, serde_json::json!({"metadata": {"x-trailer": ["t"]}}));
}
