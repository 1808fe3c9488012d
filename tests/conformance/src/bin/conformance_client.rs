//! The client under test of `connectconformance --mode client`: reads `ClientCompatRequest`s
//! from stdin until it ends, runs each with the generated client
//! ([`rust_svc_conformance::client::run`]), all at once as the runner sends them, and writes a
//! `ClientCompatResponse` for each to stdout as it finishes.

use rust_svc_conformance::connections::Connections;
use rust_svc_conformance::pb;
use rust_svc_conformance::{client, read_message, write_message};
use tokio::sync::mpsc;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (sender, mut finished) = mpsc::unbounded_channel::<pb::ClientCompatResponse>();
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(response) = finished.recv().await {
            write_message(&mut stdout, &response).await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let connections = Connections::default();
    let mut stdin = tokio::io::stdin();
    while let Some(request) = read_message::<pb::ClientCompatRequest>(&mut stdin).await? {
        let sender = sender.clone();
        let connections = connections.clone();
        tokio::spawn(async move {
            let _ = sender.send(client::run(&connections, request).await);
        });
    }
    // The writer ends once every call has reported.
    drop(sender);
    writer.await.map_err(std::io::Error::other)?
}
