//! grpc-gateway's two ways in for a client that cannot put a long query in its URL, both on by
//! default in its `ServeMux` and so relied on by its users: a `POST` whose body is an HTML form
//! (`Content-Type: application/x-www-form-urlencoded`, exactly)
//!
//! - to a path that has a `GET` route and no `POST` one is served by the `GET` route (the
//!   path-length fallback; no other method is fallen back to);
//! - with an `X-HTTP-Method-Override` header is served as that method, upper-cased.
//!
//! Either way the form's fields are read as query parameters, before the URL's own (as Go's
//! `Request.ParseForm` puts them in `Request.Form`, which grpc-gateway's handlers read), and
//! there is no request body. So is a form `POST`, `PUT` or `PATCH` to a route whose rule has
//! no `body` ([`is_form_body`]), which grpc-gateway's handlers read the same way. [`GatewayBuilder::path_length_fallback`] and
//! [`GatewayBuilder::method_override`] turn them off, as grpc-gateway's
//! `WithDisablePathLengthFallback` and `WithDisableHTTPMethodOverride` do.
//!
//! [`GatewayBuilder::path_length_fallback`]: super::GatewayBuilder::path_length_fallback
//! [`GatewayBuilder::method_override`]: super::GatewayBuilder::method_override

use std::borrow::Cow;

use http::header::{CONTENT_TYPE, HeaderName};
use http::{Method, request::Parts};

use crate::Status;

/// The header that names the method a form `POST` stands for.
static METHOD_OVERRIDE: HeaderName = HeaderName::from_static("x-http-method-override");

/// Which of the two a gateway does (both, by default).
#[derive(Debug, Clone, Copy)]
pub(super) struct FormFallback {
    pub(super) path_length: bool,
    pub(super) method_override: bool,
}

impl Default for FormFallback {
    fn default() -> Self {
        Self {
            path_length: true,
            method_override: true,
        }
    }
}

/// Whether `parts` is a `POST` of an HTML form, the only request either way applies to.
pub(super) fn is_form_post(parts: &Parts) -> bool {
    parts.method == Method::POST
        && parts
            .headers
            .get(CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes() == b"application/x-www-form-urlencoded")
}

/// Whether `parts` is a `POST`, `PUT` or `PATCH` of an HTML form: the requests whose form Go's
/// `Request.ParseForm` reads into the fields a grpc-gateway handler of a rule without a body
/// reads (`POST /v1/echo/{id}` with `num=1`), before the URL's query.
pub(super) fn is_form_body(parts: &Parts) -> bool {
    // `ParseForm` reads the media type, so parameters (`;charset=UTF-8`, as a browser's
    // `URLSearchParams` body and jQuery send it) and its case do not matter here.
    matches!(parts.method, Method::POST | Method::PUT | Method::PATCH)
        && parts.headers.get(CONTENT_TYPE).is_some_and(|value| {
            let media_type = value
                .as_bytes()
                .split(|&b| b == b';')
                .next()
                .unwrap_or_default();
            media_type
                .trim_ascii()
                .eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
        })
}

/// The method a form `POST` stands for by its `X-HTTP-Method-Override`, if it has one; a 400
/// when the header is not a method.
pub(super) fn overridden_method(parts: &Parts) -> Result<Option<Method>, Status> {
    let Some(value) = parts
        .headers
        .get(&METHOD_OVERRIDE)
        .filter(|value| !value.is_empty())
    else {
        return Ok(None);
    };
    let method = value
        .to_str()
        .ok()
        .and_then(|text| Method::from_bytes(text.to_ascii_uppercase().as_bytes()).ok())
        .ok_or_else(|| {
            Status::invalid_argument(format!(
                "header `X-HTTP-Method-Override`: {value:?} is not an HTTP method"
            ))
        })?;
    Ok(Some(method))
}

/// The query a form-fallback call reads: the form's fields, then the URL's query.
pub(super) fn query<'a>(
    form: &'a [u8],
    url_query: Option<&'a str>,
) -> Result<Cow<'a, str>, Status> {
    let form = std::str::from_utf8(form).map_err(|_| {
        Status::invalid_argument(
            "form body: not UTF-8 text, as `application/x-www-form-urlencoded` is",
        )
    })?;
    Ok(match url_query.filter(|query| !query.is_empty()) {
        None => Cow::Borrowed(form),
        Some(query) if form.is_empty() => Cow::Borrowed(query),
        Some(query) => Cow::Owned(format!("{form}&{query}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, content_type: Option<&str>, method_override: Option<&str>) -> Parts {
        let mut request = http::Request::builder().method(method).uri("/v1/x");
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        if let Some(method_override) = method_override {
            request = request.header(&METHOD_OVERRIDE, method_override);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn only_a_form_post_falls_back() {
        let form = "application/x-www-form-urlencoded";
        assert!(is_form_post(&parts("POST", Some(form), None)));
        assert!(!is_form_post(&parts("PUT", Some(form), None)));
        assert!(!is_form_post(&parts(
            "POST",
            Some("application/json"),
            None
        )));
        assert!(!is_form_post(&parts("POST", None, None)));
        // grpc-gateway compares the whole header, parameters included.
        let with_charset = "application/x-www-form-urlencoded; charset=utf-8";
        assert!(!is_form_post(&parts("POST", Some(with_charset), None)));
    }

    #[test]
    fn the_override_is_a_method_in_upper_case() {
        let form = Some("application/x-www-form-urlencoded");
        let method = |value| overridden_method(&parts("POST", form, value));
        assert_eq!(method(Some("get")).unwrap(), Some(Method::GET));
        assert_eq!(method(Some("DELETE")).unwrap(), Some(Method::DELETE));
        assert_eq!(method(None).unwrap(), None);
        assert_eq!(method(Some("")).unwrap(), None);
        let error = method(Some("GE T")).unwrap_err();
        assert_eq!(error.code(), crate::Code::InvalidArgument);
        assert!(
            error.message().contains("X-HTTP-Method-Override"),
            "{error:?}"
        );
    }

    #[test]
    fn the_form_comes_before_the_url_query() {
        assert_eq!(query(b"a=1&b=2", Some("c=3")).unwrap(), "a=1&b=2&c=3");
        assert_eq!(query(b"a=1", None).unwrap(), "a=1");
        assert_eq!(query(b"a=1", Some("")).unwrap(), "a=1");
        assert_eq!(query(b"", Some("c=3")).unwrap(), "c=3");
        assert!(query(b"a=\xff", None).is_err());
    }
}
