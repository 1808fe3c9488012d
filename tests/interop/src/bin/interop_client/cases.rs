//! The test cases, one function each, as the interop spec describes them.

use std::time::Duration;

use rust_svc_interop::grpc::testing::{
    EchoStatus, Empty, SimpleRequest, SimpleResponse, StreamingInputCallRequest,
    StreamingOutputCallRequest, TestService, TestServiceClient, UnimplementedService,
    UnimplementedServiceClient,
};
use rust_svc_interop::{ECHO_INITIAL, ECHO_TRAILING, payload};
use rust_svc_runtime::{Code, Context, MetadataMap, Status};
use tokio_stream::StreamExt;

use super::checks::*;
use super::{Compression, Target};

pub async fn empty_unary(target: &Target) -> Outcome {
    let client = target.client(Compression::None)?;
    let reply = client
        .empty_call(&Context::new(), Empty {})
        .await
        .map_err(|status| failed("EmptyCall", &status))?;
    ensure!(
        reply == Empty {},
        "EmptyCall: got {reply:?}; want an empty message"
    );
    Ok(())
}

/// The large unary call of `large_unary` and the compression cases, through `client`.
async fn large_unary_with(
    what: &str,
    client: &TestServiceClient,
    change: impl FnOnce(&mut SimpleRequest),
) -> Outcome {
    let mut request = simple_request(LARGE_REQUEST, LARGE_RESPONSE);
    change(&mut request);
    let reply: SimpleResponse = client
        .unary_call(&Context::new(), request)
        .await
        .map_err(|status| failed(what, &status))?;
    check_payload(what, reply.payload.as_ref(), LARGE_RESPONSE)
}

pub async fn large_unary(target: &Target) -> Outcome {
    let client = target.client(Compression::None)?;
    large_unary_with("UnaryCall", &client, |_| {}).await
}

/// Streams `requests` up and returns the aggregated size the server counted.
async fn stream_input(
    client: &TestServiceClient,
    requests: Vec<StreamingInputCallRequest>,
) -> Result<i32, Status> {
    let requests = tokio_stream::iter(requests.into_iter().map(Ok));
    let reply = client
        .streaming_input_call(&Context::new(), Box::pin(requests))
        .await?;
    Ok(reply.aggregated_payload_size)
}

pub async fn client_streaming(target: &Target) -> Outcome {
    let client = target.client(Compression::None)?;
    let requests = REQUEST_SIZES
        .iter()
        .map(|&size| StreamingInputCallRequest {
            payload: Some(payload(size)),
            ..Default::default()
        })
        .collect();
    let sum = stream_input(&client, requests)
        .await
        .map_err(|status| failed("StreamingInputCall", &status))?;
    let want: usize = REQUEST_SIZES.iter().sum();
    ensure!(
        sum as usize == want,
        "StreamingInputCall: aggregated {sum}; want {want}"
    );
    Ok(())
}

/// Asks for responses of `sizes` (with `change` made to the request) and checks them.
async fn stream_output(
    client: &TestServiceClient,
    sizes: &[i32],
    change: impl FnOnce(&mut StreamingOutputCallRequest),
) -> Outcome {
    let what = "StreamingOutputCall";
    let mut request = output_request(0, sizes);
    change(&mut request);
    let mut responses = client
        .streaming_output_call(&Context::new(), request)
        .await
        .map_err(|status| failed(what, &status))?;
    for (index, &size) in sizes.iter().enumerate() {
        let response = next_response(what, &mut responses).await?;
        check_payload(
            &format!("{what} response {index}"),
            response.payload.as_ref(),
            size,
        )?;
    }
    expect_end(what, &mut responses).await
}

pub async fn server_streaming(target: &Target) -> Outcome {
    let client = target.client(Compression::None)?;
    stream_output(&client, &RESPONSE_SIZES, |_| {}).await
}

pub async fn ping_pong(target: &Target) -> Outcome {
    let what = "FullDuplexCall";
    let client = target.client(Compression::None)?;
    let (tx, requests) = request_stream();
    let send = |index: usize| {
        let request = output_request(REQUEST_SIZES[index], &[RESPONSE_SIZES[index]]);
        tx.try_send(Ok(request))
            .map_err(|error| format!("{what}: sending request {index}: {error}"))
    };
    // The first ping goes before the call is answered: a server may send its headers with its
    // first response only.
    send(0)?;
    let mut responses = client
        .full_duplex_call(&Context::new(), requests)
        .await
        .map_err(|status| failed(what, &status))?;
    for (index, size) in RESPONSE_SIZES.into_iter().enumerate() {
        if index > 0 {
            send(index)?;
        }
        let response = next_response(what, &mut responses).await?;
        check_payload(
            &format!("{what} pong {index}"),
            response.payload.as_ref(),
            size,
        )?;
    }
    drop(tx);
    expect_end(what, &mut responses).await
}

pub async fn empty_stream(target: &Target) -> Outcome {
    let what = "FullDuplexCall";
    let client = target.client(Compression::None)?;
    let requests = Box::pin(tokio_stream::empty());
    let mut responses = client
        .full_duplex_call(&Context::new(), requests)
        .await
        .map_err(|status| failed(what, &status))?;
    expect_end(what, &mut responses).await
}

pub async fn timeout_on_sleeping_server(target: &Target) -> Outcome {
    let what = "FullDuplexCall";
    let client = target.client(Compression::None)?;
    let ctx = Context::new().with_timeout(Duration::from_millis(1));
    let (tx, requests) = request_stream();
    tx.try_send(Ok(output_request(27_182, &[])))
        .map_err(|error| format!("{what}: {error}"))?;
    // The request stream stays open (`tx` lives on): the server waits for more and sends
    // nothing, until the deadline ends the call.
    let result = match client.full_duplex_call(&ctx, requests).await {
        Err(status) => Err(status),
        Ok(mut responses) => match responses.next().await {
            Some(Err(status)) => Err(status),
            Some(Ok(_)) => Ok(()),
            None => Ok(()),
        },
    };
    drop(tx);
    expect_status(what, result, Code::DeadlineExceeded, None)
}

/// The error that cancels a call, sent down its request stream.
fn cancel() -> Status {
    Status::cancelled("cancelled by the interop client")
}

pub async fn cancel_after_begin(target: &Target) -> Outcome {
    let client = target.client(Compression::None)?;
    let (tx, requests) = request_stream::<StreamingInputCallRequest>();
    let ctx = Context::new();
    let call = client.streaming_input_call(&ctx, requests);
    let cancel_later = async {
        // Time for the call's headers to go out before it is cancelled.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = tx.send(Err(cancel())).await;
    };
    let (result, ()) = tokio::join!(call, cancel_later);
    expect_status("StreamingInputCall", result, Code::Cancelled, None)
}

pub async fn cancel_after_first_response(target: &Target) -> Outcome {
    let what = "FullDuplexCall";
    let client = target.client(Compression::None)?;
    let (tx, requests) = request_stream();
    tx.try_send(Ok(output_request(27_182, &[31_415])))
        .map_err(|error| format!("{what}: {error}"))?;
    let mut responses = client
        .full_duplex_call(&Context::new(), requests)
        .await
        .map_err(|status| failed(what, &status))?;
    let response = next_response(what, &mut responses).await?;
    check_payload(what, response.payload.as_ref(), 31_415)?;
    tx.send(Err(cancel()))
        .await
        .map_err(|error| format!("{what}: cancelling: {error}"))?;
    let result = match responses.next().await {
        Some(Err(status)) => Err(status),
        Some(Ok(_)) => Ok("a response"),
        None => Ok("the end of the stream"),
    };
    expect_status(what, result, Code::Cancelled, None)
}

pub async fn custom_metadata(target: &Target) -> Outcome {
    let client = target.client(Compression::None)?;
    let context = || {
        let mut metadata = MetadataMap::new();
        metadata.insert(ECHO_INITIAL, INITIAL_VALUE.parse().expect("an ASCII value"));
        metadata.insert_bin(
            ECHO_TRAILING,
            tonic::metadata::MetadataValue::from_bytes(TRAILING_VALUE),
        );
        Context::new().with_outgoing_metadata(metadata)
    };
    let ctx = context();
    let reply = client
        .unary_call(&ctx, simple_request(1, 1))
        .await
        .map_err(|status| failed("UnaryCall", &status))?;
    check_payload("UnaryCall", reply.payload.as_ref(), 1)?;
    check_echo("UnaryCall", &ctx)?;

    let what = "FullDuplexCall";
    let ctx = context();
    let (tx, requests) = request_stream();
    tx.try_send(Ok(output_request(1, &[1])))
        .map_err(|error| format!("{what}: {error}"))?;
    let mut responses = client
        .full_duplex_call(&ctx, requests)
        .await
        .map_err(|status| failed(what, &status))?;
    let response = next_response(what, &mut responses).await?;
    check_payload(what, response.payload.as_ref(), 1)?;
    drop(tx);
    expect_end(what, &mut responses).await?;
    check_echo(what, &ctx)
}

/// The status `status_code_and_message` and `special_status_message` ask the server for.
fn echo_status(message: &str) -> EchoStatus {
    EchoStatus {
        code: Code::Unknown as i32,
        message: message.to_owned(),
    }
}

pub async fn status_code_and_message(target: &Target) -> Outcome {
    const MESSAGE: &str = "test status message";
    let client = target.client(Compression::None)?;
    let request = SimpleRequest {
        response_status: Some(echo_status(MESSAGE)),
        ..Default::default()
    };
    let result = client.unary_call(&Context::new(), request).await;
    expect_status("UnaryCall", result, Code::Unknown, Some(MESSAGE))?;

    let request = StreamingOutputCallRequest {
        response_status: Some(echo_status(MESSAGE)),
        ..Default::default()
    };
    let requests = Box::pin(tokio_stream::iter([Ok(request)]));
    let result = match client.full_duplex_call(&Context::new(), requests).await {
        Err(status) => Err(status),
        Ok(mut responses) => match responses.next().await {
            Some(Err(status)) => Err(status),
            Some(Ok(_)) => Ok("a response"),
            None => Ok("the end of the stream"),
        },
    };
    expect_status("FullDuplexCall", result, Code::Unknown, Some(MESSAGE))
}

pub async fn special_status_message(target: &Target) -> Outcome {
    const MESSAGE: &str = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";
    let client = target.client(Compression::None)?;
    let request = SimpleRequest {
        response_status: Some(echo_status(MESSAGE)),
        ..Default::default()
    };
    let ctx = Context::new().with_timeout(Duration::from_secs(10));
    let result = client.unary_call(&ctx, request).await;
    expect_status("UnaryCall", result, Code::Unknown, Some(MESSAGE))
}

pub async fn unimplemented_method(target: &Target) -> Outcome {
    let client = target.client(Compression::None)?;
    let result = client.unimplemented_call(&Context::new(), Empty {}).await;
    expect_status(
        "TestService/UnimplementedCall",
        result,
        Code::Unimplemented,
        None,
    )
}

pub async fn unimplemented_service(target: &Target) -> Outcome {
    let client = UnimplementedServiceClient::connect_lazy([&target.url])
        .map_err(|error| format!("client for {}: {error}", target.url))?;
    let result = client.unimplemented_call(&Context::new(), Empty {}).await;
    expect_status(
        "UnimplementedService/UnimplementedCall",
        result,
        Code::Unimplemented,
        None,
    )
}

pub async fn client_compressed_unary(target: &Target) -> Outcome {
    let plain = target.client(Compression::None)?;
    let gzip = target.client(Compression::Send)?;
    // The probe: an uncompressed request that says it is compressed must be refused.
    let mut probe = simple_request(LARGE_REQUEST, LARGE_RESPONSE);
    probe.expect_compressed = bool_value(true);
    let result = plain.unary_call(&Context::new(), probe).await;
    expect_status("UnaryCall (probe)", result, Code::InvalidArgument, None)?;
    large_unary_with("UnaryCall (compressed)", &gzip, |request| {
        request.expect_compressed = bool_value(true);
    })
    .await?;
    large_unary_with("UnaryCall (uncompressed)", &plain, |request| {
        request.expect_compressed = bool_value(false);
    })
    .await
}

pub async fn server_compressed_unary(target: &Target) -> Outcome {
    let accepting = target.client(Compression::Accept)?;
    let plain = target.client(Compression::None)?;
    large_unary_with("UnaryCall (compressed response)", &accepting, |request| {
        request.response_compressed = bool_value(true);
    })
    .await?;
    large_unary_with("UnaryCall (uncompressed response)", &plain, |request| {
        request.response_compressed = bool_value(false);
    })
    .await
}

pub async fn client_compressed_streaming(target: &Target) -> Outcome {
    let plain = target.client(Compression::None)?;
    let gzip = target.client(Compression::Send)?;
    let request = |size: usize, compressed: bool| StreamingInputCallRequest {
        payload: Some(payload(size)),
        expect_compressed: bool_value(compressed),
    };
    let result = stream_input(&plain, vec![request(27_182, true)]).await;
    expect_status(
        "StreamingInputCall (probe)",
        result,
        Code::InvalidArgument,
        None,
    )?;
    let sum = stream_input(&gzip, vec![request(27_182, true), request(45_904, false)])
        .await
        .map_err(|status| failed("StreamingInputCall", &status))?;
    ensure!(
        sum == 73_086,
        "StreamingInputCall: aggregated {sum}; want 73086"
    );
    Ok(())
}

pub async fn server_compressed_streaming(target: &Target) -> Outcome {
    let accepting = target.client(Compression::Accept)?;
    stream_output(&accepting, &[31_415, 92_653], |request| {
        request.response_parameters[0].compressed = bool_value(true);
        request.response_parameters[1].compressed = bool_value(false);
    })
    .await
}
