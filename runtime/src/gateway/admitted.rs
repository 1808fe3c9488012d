//! A gateway call through its service's admission (`call::admission`): served at once, once it
//! has a slot, or refused before its body is read.

use std::sync::Arc;

use axum::body::Body;

use super::routed::{Call, Dispatch, ResponseFuture};
use super::status::error_response;
use crate::Status;
use crate::call::admission::{Admit, close_after_refusal};

/// Serves `call` as the service's admission decided: at once, once it has a slot, or not at
/// all (the refusal, before the body is read). The slot is held until the answer is ready.
pub(super) fn admitted(
    admit: Admit,
    dispatch: &Dispatch,
    mut call: Call,
    version: http::Version,
) -> ResponseFuture {
    match admit {
        Admit::Refused(status) => ready_refusal(&status, version),
        Admit::Now(permit) => {
            call.inner.permit = permit;
            dispatch(call)
        }
        Admit::Wait(waiting) => {
            let dispatch = Arc::clone(dispatch);
            Box::pin(async move {
                match waiting.await {
                    Ok(permit) => {
                        call.inner.permit = permit;
                        dispatch(call).await
                    }
                    Err(status) => refusal(&status, version),
                }
            })
        }
    }
}

/// The answer to a call refused before any work (see [`close_after_refusal`]).
pub(super) fn refusal(status: &Status, version: http::Version) -> http::Response<Body> {
    let mut response = error_response(status);
    close_after_refusal(status, version, response.headers_mut());
    response
}

/// [`refusal`], as a ready response future.
pub(super) fn ready_refusal(status: &Status, version: http::Version) -> ResponseFuture {
    Box::pin(std::future::ready(refusal(status, version)))
}
