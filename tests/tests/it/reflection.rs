//! Server reflection from the generated `FILE_DESCRIPTOR_SET` (tests/build.rs turns it on):
//! tonic-reflection's v1 and v1alpha services, served in memory, list the services, find the
//! file of a service by its name, and resolve every file it imports by file name, as grpcurl
//! does.

use std::collections::{BTreeSet, VecDeque};

use prost::Message;
use prost_types::FileDescriptorProto;
use rust_svc_runtime::harness::{ServerHandle, serve_in_memory};
use rust_svc_tests::FILE_DESCRIPTOR_SET;
use tonic::transport::Channel;

/// The questions a reflection client asks, in either protocol version.
trait Reflection {
    async fn services(&mut self) -> Vec<String>;
    async fn file_containing_symbol(&mut self, symbol: &str) -> FileDescriptorProto;
    async fn file_by_filename(&mut self, name: &str) -> FileDescriptorProto;
}

/// A client of one version's service, served from the generated set. The two versions' messages
/// are the same in different packages.
macro_rules! reflection_client {
    ($version:ident, $build:ident) => {
        mod $version {
            use tonic_reflection::pb::$version::ServerReflectionRequest;
            use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
            use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
            use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;

            use super::*;

            pub struct Client {
                client: ServerReflectionClient<Channel>,
                _server: ServerHandle,
            }

            impl Client {
                pub fn serve() -> Self {
                    let service = tonic_reflection::server::Builder::configure()
                        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
                        .$build()
                        .expect("tonic-reflection accepts the set");
                    let (channel, server) = serve_in_memory(service);
                    Self {
                        client: ServerReflectionClient::new(channel),
                        _server: server,
                    }
                }

                async fn ask(&mut self, request: MessageRequest) -> MessageResponse {
                    let message = ServerReflectionRequest {
                        host: String::new(),
                        message_request: Some(request.clone()),
                    };
                    let mut responses = self
                        .client
                        .server_reflection_info(tokio_stream::iter([message]))
                        .await
                        .expect("the reflection stream opens")
                        .into_inner();
                    responses
                        .message()
                        .await
                        .unwrap_or_else(|status| panic!("{request:?}: {status:?}"))
                        .and_then(|response| response.message_response)
                        .unwrap_or_else(|| panic!("{request:?}: no response"))
                }

                async fn file(&mut self, request: MessageRequest) -> FileDescriptorProto {
                    match self.ask(request).await {
                        MessageResponse::FileDescriptorResponse(files) => {
                            assert_eq!(files.file_descriptor_proto.len(), 1);
                            FileDescriptorProto::decode(files.file_descriptor_proto[0].as_slice())
                                .expect("a FileDescriptorProto")
                        }
                        other => panic!("expected a file, got {other:?}"),
                    }
                }
            }

            impl Reflection for Client {
                async fn services(&mut self) -> Vec<String> {
                    match self.ask(MessageRequest::ListServices(String::new())).await {
                        MessageResponse::ListServicesResponse(list) => list
                            .service
                            .into_iter()
                            .map(|service| service.name)
                            .collect(),
                        other => panic!("expected services, got {other:?}"),
                    }
                }

                async fn file_containing_symbol(&mut self, symbol: &str) -> FileDescriptorProto {
                    self.file(MessageRequest::FileContainingSymbol(symbol.to_owned()))
                        .await
                }

                async fn file_by_filename(&mut self, name: &str) -> FileDescriptorProto {
                    self.file(MessageRequest::FileByFilename(name.to_owned()))
                        .await
                }
            }
        }
    };
}

reflection_client!(v1, build_v1);
reflection_client!(v1alpha, build_v1alpha);

/// The file declaring `service` and every file it imports, transitively, fetched one by one
/// as a reflection client resolves types.
async fn resolve(reflection: &mut impl Reflection, service: &str) -> BTreeSet<String> {
    let file = reflection.file_containing_symbol(service).await;
    let short_name = service.rsplit('.').next().unwrap();
    assert!(
        file.service.iter().any(|s| s.name() == short_name),
        "{service} in {}",
        file.name()
    );
    let mut seen = BTreeSet::from([file.name().to_owned()]);
    let mut queue: VecDeque<String> = file.dependency.into();
    while let Some(name) = queue.pop_front() {
        if seen.insert(name.clone()) {
            let dependency = reflection.file_by_filename(&name).await;
            assert_eq!(dependency.name(), name);
            queue.extend(dependency.dependency);
        }
    }
    seen
}

async fn serves_the_generated_services(mut reflection: impl Reflection) {
    let services = reflection.services().await;
    for service in [
        "tests.streaming.Streaming",
        "tests.resilience.Flaky",
        "tests.gateway.Echo",
    ] {
        assert!(services.iter().any(|s| s == service), "{services:?}");
    }

    let files = resolve(&mut reflection, "tests.streaming.Streaming").await;
    assert_eq!(files, BTreeSet::from(["streaming.proto".to_owned()]));
    // Custom options: the policies' file, and descriptor.proto that it extends.
    let files = resolve(&mut reflection, "tests.resilience.Flaky").await;
    for file in [
        "rust_svc/v1/options.proto",
        "google/protobuf/descriptor.proto",
        "google/protobuf/duration.proto",
    ] {
        assert!(files.contains(file), "{file} in {files:?}");
    }
    // http rules and well-known types.
    let files = resolve(&mut reflection, "tests.gateway.Echo").await;
    for file in [
        "google/api/annotations.proto",
        "google/api/http.proto",
        "google/protobuf/timestamp.proto",
    ] {
        assert!(files.contains(file), "{file} in {files:?}");
    }

    // Served as encoded, custom options included: the method's `google.api.http` (field
    // 72295728 of MethodOptions) survives, which prost would drop.
    let file = reflection
        .file_containing_symbol("tests.gateway.Echo")
        .await;
    let raw = encoded_file(file.name());
    assert!(contains(&raw, &http_option_key()), "{}", file.name());
}

/// The encoded `FileDescriptorProto` named `name` in the generated set.
fn encoded_file(name: &str) -> Vec<u8> {
    #[derive(Clone, PartialEq, prost::Message)]
    struct RawSet {
        #[prost(bytes = "vec", repeated, tag = "1")]
        file: Vec<Vec<u8>>,
    }
    RawSet::decode(FILE_DESCRIPTOR_SET)
        .unwrap()
        .file
        .into_iter()
        .find(|raw| FileDescriptorProto::decode(raw.as_slice()).unwrap().name() == name)
        .unwrap_or_else(|| panic!("{name} in the set"))
}

/// The key of `google.api.http` (MethodOptions field 72295728, length-delimited).
fn http_option_key() -> Vec<u8> {
    let mut key = Vec::new();
    prost::encoding::encode_key(
        72_295_728,
        prost::encoding::WireType::LengthDelimited,
        &mut key,
    );
    key
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test]
async fn reflection_v1_serves_the_generated_services_and_their_imports() {
    serves_the_generated_services(v1::Client::serve()).await;
}

#[tokio::test]
async fn reflection_v1alpha_serves_the_generated_services_and_their_imports() {
    serves_the_generated_services(v1alpha::Client::serve()).await;
}

#[test]
fn file_descriptor_set_path_wrote_the_constant() {
    let written = include_bytes!(concat!(env!("OUT_DIR"), "/file_descriptor_set.bin"));
    assert_eq!(&written[..], FILE_DESCRIPTOR_SET);
    let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
    // Every import is in the set, before the files that import it (what a descriptor pool
    // needs to load it in one pass).
    let names: Vec<&str> = set.file.iter().map(|file| file.name()).collect();
    for (index, file) in set.file.iter().enumerate() {
        for dependency in &file.dependency {
            let position = names.iter().position(|name| name == dependency);
            assert!(
                position.is_some_and(|position| position < index),
                "{dependency} before {}",
                file.name()
            );
        }
    }
}
