//! Authentication: a hook that admits or rejects each call before anything else runs, and on a
//! client stack, attaching credentials to the calls it makes.
//!
//! ```
//! # use rust_svc_runtime::interceptors::{Interceptors, auth::Auth};
//! # use rust_svc_runtime::Status;
//! # struct Store;
//! #[derive(Clone)]
//! struct User(String);
//!
//! let service = Interceptors::server()
//!     .with(Auth::bearer(|token, _call| match token {
//!         "s3cret" => Ok(User("ada".into())),
//!         _ => Err(Status::unauthenticated("unknown token")),
//!     }))
//!     .wrap(Store);
//! // A handler reads the identity with `auth::authenticated::<User>(ctx)`.
//! ```
//!
//! Put it first in the stack, so that a rejected call costs nothing else. The checks
//! ([`Auth::new`], [`Auth::bearer`], [`Auth::peer`]) look at what a caller sent, so they run on
//! a server stack only and let every call through on a client stack; [`Auth::attach_bearer`]
//! adds credentials to outgoing calls and belongs on a client stack.

use std::fmt;
use std::sync::Arc;

use tonic::metadata::AsciiMetadataValue;

use super::{CallInfo, Finish, Interceptor, Side};
pub use crate::call::PeerCertificates;
use crate::{Code, Context, MetadataMap, Status};

/// The metadata key credentials travel in.
pub const AUTHORIZATION: &str = "authorization";

/// The metadata key of the challenge that tells a rejected caller which scheme to use
/// (RFC 6750 section 3): set on the `UNAUTHENTICATED` statuses of [`Auth::bearer`].
pub const WWW_AUTHENTICATE: &str = "www-authenticate";

/// The identity a [`Auth::bearer`] verifier returned for the call: the
/// [identity](Context::identity) of its [`Context`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated<I>(pub I);

/// The identity [`Auth::bearer`] admitted the call of `ctx` with, if it is an `I`.
pub fn authenticated<I: Clone + Send + Sync + 'static>(ctx: &Context) -> Option<&I> {
    ctx.identity::<Authenticated<I>>()
        .map(|identity| &identity.0)
}

type Hook = dyn Fn(&CallInfo, &mut Context) -> Result<(), Status> + Send + Sync;

/// The authentication interceptor (see the module docs).
#[derive(Clone)]
pub struct Auth {
    hook: Arc<Hook>,
    /// The side the hook runs on; the other side's calls pass untouched.
    side: Side,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth").field("side", &self.side).finish()
    }
}

impl Auth {
    /// Runs `check` on every call a server stack sees: it admits the call (and may give the
    /// handler an identity with `ctx.set_identity(…)`, or anything else in
    /// `ctx.extensions_mut()`) or rejects it with its status,
    /// usually `UNAUTHENTICATED` or `PERMISSION_DENIED`.
    pub fn new<F>(check: F) -> Self
    where
        F: Fn(&CallInfo, &mut Context) -> Result<(), Status> + Send + Sync + 'static,
    {
        Self {
            hook: Arc::new(check),
            side: Side::Server,
        }
    }

    /// Admits calls carrying `authorization: Bearer <token>` (RFC 6750; the scheme in any case)
    /// that `verify` accepts, and stores the identity it returns as [`Authenticated<I>`].
    /// A call with no bearer token, or a malformed one, is answered `UNAUTHENTICATED` without
    /// calling `verify`. `verify` rejects with the status it chooses: `UNAUTHENTICATED` for a
    /// token it does not accept, `PERMISSION_DENIED` for a caller not allowed this method.
    /// Every `UNAUTHENTICATED` carries a `www-authenticate: Bearer …` challenge.
    pub fn bearer<I, F>(verify: F) -> Self
    where
        I: Clone + Send + Sync + 'static,
        F: Fn(&str, &CallInfo) -> Result<I, Status> + Send + Sync + 'static,
    {
        Self::new(move |call, ctx| {
            let token = bearer_token(ctx.metadata())?;
            let identity = verify(token, call).map_err(|mut status| {
                if status.code() == Code::Unauthenticated
                    && !status.metadata().contains_key(WWW_AUTHENTICATE)
                {
                    challenge(&mut status, r#"Bearer error="invalid_token""#);
                }
                status
            })?;
            ctx.set_identity(Authenticated(identity));
            Ok(())
        })
    }

    /// Admits the calls whose TLS client certificates `check` accepts: it gets the
    /// [`PeerCertificates`] of the call (`None` when the caller presented none, or the
    /// connection is not TLS) and rejects with the status it chooses.
    pub fn peer<F>(check: F) -> Self
    where
        F: Fn(Option<&PeerCertificates>, &CallInfo) -> Result<(), Status> + Send + Sync + 'static,
    {
        Self::new(move |call, ctx| check(ctx.extensions().get::<PeerCertificates>(), call))
    }

    /// For a client stack: sends `authorization: Bearer <token>` on every call, the token
    /// asked of `token` per call (so that a refreshed token is picked up). It replaces an
    /// `authorization` the caller put in the outgoing metadata, and is marked sensitive so that
    /// it is not logged. A token that is not valid metadata (not visible ASCII) fails the call
    /// with `UNAUTHENTICATED` before it is sent.
    pub fn attach_bearer<F>(token: F) -> Self
    where
        F: Fn() -> String + Send + Sync + 'static,
    {
        Self {
            hook: Arc::new(move |_call, ctx| {
                let mut value = AsciiMetadataValue::try_from(format!("Bearer {}", token()))
                    .map_err(|_| {
                        Status::unauthenticated("the bearer token is not valid metadata")
                    })?;
                value.set_sensitive(true);
                ctx.outgoing_metadata_mut().insert(AUTHORIZATION, value);
                Ok(())
            }),
            side: Side::Client,
        }
    }
}

impl Interceptor for Auth {
    fn start(&self, call: &CallInfo, ctx: &mut Context) -> Result<Finish, Status> {
        if call.side == self.side {
            (self.hook)(call, ctx)?;
        }
        Ok(Finish::nothing())
    }
}

/// The token of the `authorization: Bearer <token>` in `metadata`, or the `UNAUTHENTICATED`
/// status (with its challenge) to answer when there is none or it is malformed.
fn bearer_token(metadata: &MetadataMap) -> Result<&str, Status> {
    // The standard header's parsed name: a string key would be parsed again on every call.
    let Some(value) = metadata.as_ref().get(http::header::AUTHORIZATION) else {
        let mut status = Status::unauthenticated("missing bearer token");
        challenge(&mut status, "Bearer");
        return Err(status);
    };
    value.to_str().ok().and_then(parse_bearer).ok_or_else(|| {
        let mut status = Status::unauthenticated("malformed bearer token");
        challenge(&mut status, r#"Bearer error="invalid_request""#);
        status
    })
}

/// The token of an `authorization` value of the `Bearer` scheme: `Bearer` in any case, one or
/// more spaces, then a `b64token` (RFC 6750 section 2.1), nothing after it.
fn parse_bearer(value: &str) -> Option<&str> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    // The scheme is what precedes the first space: `Bearer` when a space follows its six
    // letters. Compared in place, as every call pays for it.
    let (scheme, rest) = (value.get(..6)?, value.get(6..)?);
    if !scheme.eq_ignore_ascii_case("bearer") || !rest.starts_with(' ') {
        return None;
    }
    let token = rest.trim_start_matches(' ');
    let body = token.trim_end_matches('=');
    let b64token = |byte: u8| {
        byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
    };
    (!body.is_empty() && body.bytes().all(b64token)).then_some(token)
}

fn challenge(status: &mut Status, value: &'static str) {
    status
        .metadata_mut()
        .insert(WWW_AUTHENTICATE, AsciiMetadataValue::from_static(value));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interceptors::Interceptors;
    use crate::interceptors::testing::{ECHO, Svc, echo};

    #[derive(Debug, Clone, PartialEq)]
    struct User(&'static str);

    fn with_authorization(value: &str) -> Context {
        let mut metadata = MetadataMap::new();
        metadata.insert(AUTHORIZATION, value.parse().unwrap());
        Context::new().with_metadata(metadata)
    }

    fn tokens() -> Auth {
        Auth::bearer(|token, call| match token {
            "ada-token" => Ok(User("ada")),
            "bob-token" if call.method.method() == "Echo" => {
                Err(Status::permission_denied("bob may not echo"))
            }
            _ => Err(Status::unauthenticated("unknown token")),
        })
    }

    fn challenge_of(status: &Status) -> &str {
        status
            .metadata()
            .get(WWW_AUTHENTICATE)
            .unwrap()
            .to_str()
            .unwrap()
    }

    #[tokio::test]
    async fn a_valid_bearer_token_admits_the_call_with_its_identity() {
        let service = Interceptors::server().with(tokens()).wrap(Svc::default());
        for value in [
            "Bearer ada-token",
            "bearer   ada-token",
            "BEARER ada-token ",
        ] {
            let ctx = with_authorization(value);
            assert_eq!(
                service.intercept_unary(&ECHO, &ctx, 5, echo).await.unwrap(),
                5
            );
            let seen = service.inner().last_context();
            assert_eq!(authenticated::<User>(&seen), Some(&User("ada")));
        }
    }

    #[tokio::test]
    async fn missing_or_malformed_tokens_are_unauthenticated_with_a_challenge() {
        let service = Interceptors::server().with(tokens()).wrap(Svc::default());

        let status = service
            .intercept_unary(&ECHO, &Context::new(), 5, echo)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(challenge_of(&status), "Bearer");

        for malformed in [
            "Basic YWRhOnB3",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer =abc",
        ] {
            let ctx = with_authorization(malformed);
            let status = service
                .intercept_unary(&ECHO, &ctx, 5, echo)
                .await
                .unwrap_err();
            assert_eq!(status.code(), Code::Unauthenticated, "{malformed}");
            assert_eq!(challenge_of(&status), r#"Bearer error="invalid_request""#);
        }
        assert_eq!(service.inner().calls(), 0);
    }

    #[tokio::test]
    async fn the_verifier_decides_between_unauthenticated_and_permission_denied() {
        let service = Interceptors::server().with(tokens()).wrap(Svc::default());

        let ctx = with_authorization("Bearer unknown-token==");
        let status = service
            .intercept_unary(&ECHO, &ctx, 5, echo)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(challenge_of(&status), r#"Bearer error="invalid_token""#);

        let ctx = with_authorization("Bearer bob-token");
        let status = service
            .intercept_unary(&ECHO, &ctx, 5, echo)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
        assert!(status.metadata().get(WWW_AUTHENTICATE).is_none());
        assert_eq!(service.inner().calls(), 0);
    }

    #[tokio::test]
    async fn a_hook_may_reject_or_attach_an_identity() {
        let hook = Auth::new(|call, ctx| {
            if ctx.metadata().get("x-tenant").is_none() {
                return Err(Status::permission_denied(format!(
                    "{} needs a tenant",
                    call.method.full_name()
                )));
            }
            ctx.extensions_mut().insert(User("tenant-admin"));
            Ok(())
        });
        let service = Interceptors::server().with(hook).wrap(Svc::default());

        let status = service
            .intercept_unary(&ECHO, &Context::new(), 1, echo)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
        assert_eq!(status.message(), "test.v1.Echo/Echo needs a tenant");

        let mut metadata = MetadataMap::new();
        metadata.insert("x-tenant", "acme".parse().unwrap());
        let ctx = Context::new().with_metadata(metadata);
        service.intercept_unary(&ECHO, &ctx, 1, echo).await.unwrap();
        let seen = service.inner().last_context();
        assert_eq!(seen.extensions().get::<User>(), Some(&User("tenant-admin")));
    }

    #[tokio::test]
    async fn peer_checks_see_the_client_certificates() {
        let only_ada = Auth::peer(
            |certs, _call| match certs.and_then(PeerCertificates::leaf) {
                Some(b"ada-cert") => Ok(()),
                Some(_) => Err(Status::permission_denied("unknown client certificate")),
                None => Err(Status::unauthenticated("a client certificate is required")),
            },
        );
        let service = Interceptors::server().with(only_ada).wrap(Svc::default());

        let status = service
            .intercept_unary(&ECHO, &Context::new(), 1, echo)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);

        let mut ctx = Context::new();
        let chain = PeerCertificates::new(vec![b"eve-cert".to_vec(), b"ca".to_vec()]);
        ctx.extensions_mut().insert(chain);
        let status = service
            .intercept_unary(&ECHO, &ctx, 1, echo)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);

        let mut ctx = Context::new();
        let chain = PeerCertificates::new(vec![b"ada-cert".to_vec(), b"ca".to_vec()]);
        assert_eq!(chain.len(), 2);
        ctx.extensions_mut().insert(chain);
        assert_eq!(
            service.intercept_unary(&ECHO, &ctx, 1, echo).await.unwrap(),
            1
        );
    }

    #[tokio::test]
    async fn a_client_stack_attaches_a_fresh_token_and_skips_the_checks() {
        let issued = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = issued.clone();
        let attach = Auth::attach_bearer(move || {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            format!("token-{n}")
        });
        let client = Interceptors::client()
            // A server-side check on a client stack lets calls through.
            .with(tokens())
            .with(attach)
            .wrap(Svc::default());

        let mut outgoing = MetadataMap::new();
        outgoing.insert(AUTHORIZATION, "Bearer stale".parse().unwrap());
        let ctx = Context::new().with_outgoing_metadata(outgoing);
        for expected in ["Bearer token-0", "Bearer token-1"] {
            client.intercept_unary(&ECHO, &ctx, 1, echo).await.unwrap();
            let seen = client.inner().last_context();
            let sent = seen.outgoing_metadata().get(AUTHORIZATION).unwrap();
            assert_eq!(sent, expected);
            assert!(sent.is_sensitive());
            // The caller's own context is left as it was.
            assert_eq!(
                ctx.outgoing_metadata().get(AUTHORIZATION).unwrap(),
                "Bearer stale"
            );
        }

        let bad = Interceptors::client()
            .with(Auth::attach_bearer(|| "line\nbreak".into()))
            .wrap(Svc::default());
        let status = bad
            .intercept_unary(&ECHO, &Context::new(), 1, echo)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(bad.inner().calls(), 0);
    }
}
