//! grpc-gateway's ways in for a client whose query would make its URL too long, over real
//! HTTP/1.1: a `POST` of an HTML form to a path with a `GET` route (the path-length fallback),
//! or with `X-HTTP-Method-Override`, is served as that method with the form's fields as the
//! query. The cases follow grpc-gateway's `runtime/mux_test.go`.

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use rust_svc_runtime::Code;
use serde_json::json;

use crate::gateway_common::{Reply, Rest, serve, serve_with};

const FORM: &str = "application/x-www-form-urlencoded";

/// `POST path` with `form` as an HTML form body, and `X-HTTP-Method-Override: method` if given.
async fn post_form(rest: &Rest, path: &str, form: &str, method: Option<&str>) -> Reply {
    let mut request = rest
        .request("POST", path)
        .header(CONTENT_TYPE, FORM)
        .body(form.to_owned());
    if let Some(method) = method {
        request = request.header("x-http-method-override", method);
    }
    rest.send(request).await
}

#[tokio::test]
async fn a_form_post_to_a_path_without_post_is_its_get_with_the_fields_as_the_query() {
    let served = serve().await;
    // `/v1/everything/{id}` has GET, PUT and DELETE routes, and no POST one. The form's
    // fields come before the URL's query, as Go's `Request.Form` has them.
    let reply = post_form(
        &served.rest,
        "/v1/everything/abc?small=3",
        "big=42&flag=true&maybe_note=a+b%21",
        None,
    )
    .await;
    let body = reply.ok_json();
    assert_eq!(body["id"], "abc", "{body}");
    assert_eq!(body["small"], 3, "{body}");
    assert_eq!(body["big"], "42", "{body}");
    assert_eq!(body["flag"], true, "{body}");
    assert_eq!(body["maybeNote"], "a b!", "{body}");
    served.domain.last("get_everything");
}

#[tokio::test]
async fn the_override_header_names_the_method() {
    let served = serve().await;
    // `/v1/everything` has a POST route too: the override, in any case, takes the GET one.
    let reply = post_form(&served.rest, "/v1/everything", "small=7", Some("get")).await;
    let items = reply.ok_json();
    assert_eq!(items[0]["small"], 7, "{items}");
    served.domain.last("list_everything");

    let reply = post_form(&served.rest, "/v1/everything/abc", "", Some("DELETE")).await;
    assert_eq!(reply.ok_json(), json!({}));
    served.domain.last("delete_everything");

    let reply = post_form(&served.rest, "/v1/everything", "", Some("GE T")).await;
    reply.error(400, Code::InvalidArgument, &["X-HTTP-Method-Override"]);
}

#[tokio::test]
async fn a_form_post_to_a_post_route_is_that_route_and_only_get_is_fallen_back_to() {
    let served = serve().await;
    // The POST route reads its body as JSON, whatever the Content-Type (grpc-gateway's
    // default marshaler): a form is not JSON.
    let reply = post_form(&served.rest, "/v1/everything", "id=x", None).await;
    reply.error(400, Code::InvalidArgument, &[]);
    assert!(
        served.domain.calls().is_empty(),
        "{:?}",
        served.domain.calls()
    );

    // `/v1/items/{item.id}` has only PATCH: no fallback to it.
    let reply = post_form(&served.rest, "/v1/items/x", "", None).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{reply:?}");

    // Only an HTML form falls back.
    let reply = served
        .rest
        .send(
            served
                .rest
                .request("POST", "/v1/everything/abc")
                .header(CONTENT_TYPE, "application/json")
                .body("{}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{reply:?}");
}

#[tokio::test]
async fn a_form_sent_to_a_route_without_a_body_is_its_query() {
    // grpc-gateway's TestRequestParseForm: `POST /v1/example/echo/{id}` (no `body`) with the
    // form `num=1` answers with num 1: its handlers read the request's form, body included,
    // as the query, whatever parameters its media type has; a JSON body there is ignored.
    let served = serve().await;
    let reply = post_form(
        &served.rest,
        "/v1/everything/t:touch?small=3",
        "big=42",
        None,
    )
    .await;
    let body = reply.ok_json();
    assert_eq!(body, json!({"id": "t", "small": 3, "big": "42"}));
    served.domain.last("get_everything");
    // A browser's `URLSearchParams` body: the media type with a charset.
    let reply = served
        .rest
        .send(
            served
                .rest
                .request("POST", "/v1/everything/t:touch")
                .header(
                    CONTENT_TYPE,
                    "application/x-www-form-urlencoded;charset=UTF-8",
                )
                .body("big=7"),
        )
        .await;
    assert_eq!(reply.ok_json(), json!({"id": "t", "big": "7"}));
    let reply = served
        .rest
        .send(
            served
                .rest
                .request("POST", "/v1/everything/t:touch?small=3")
                .header(CONTENT_TYPE, "application/json")
                .body(r#"{"big": "42"}"#),
        )
        .await;
    assert_eq!(reply.ok_json(), json!({"id": "t", "small": 3}));
}

#[tokio::test]
async fn both_can_be_turned_off() {
    let served =
        serve_with(|builder| builder.path_length_fallback(false).method_override(false)).await;
    let reply = post_form(&served.rest, "/v1/everything/abc", "small=1", None).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{reply:?}");
    // The header is ignored: the POST route takes the request (an empty body is an empty
    // message).
    let reply = post_form(&served.rest, "/v1/everything", "", Some("GET")).await;
    assert_eq!(reply.ok_json(), json!({}));
    served.domain.last("create_everything");
}
