//! What the REST tests share: the example system on a loopback port (what the
//! `example_gateway` binary runs), a reqwest client for it, and a reader of streamed bodies.
//! The logistics example's tests use it too (examples/logistics/tests/it/main.rs), a different
//! part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

use example_services::courier_directory::CourierDirectory;
use example_services::inventory_store::InventoryStore;
use example_services::system::ExampleSystem;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Response, StatusCode};
use rust_svc_runtime::client::Channel;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The system on an ephemeral loopback port; dropping it stops the server.
pub struct Running {
    base: String,
    http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

/// SKU-1: 3 units in wh_a and 4 in wh_b; SKU-2: 10 in wh_a. Couriers cour_1 and cour_2.
pub async fn start() -> Running {
    let inventory = InventoryStore::new();
    for (warehouse, sku, on_hand) in [
        ("wh_a", "SKU-1", 3),
        ("wh_b", "SKU-1", 4),
        ("wh_a", "SKU-2", 10),
    ] {
        inventory.set_on_hand(warehouse, sku, on_hand).unwrap();
    }
    let dispatch = CourierDirectory::new();
    dispatch.add_courier("cour_1").unwrap();
    dispatch.add_courier("cour_2").unwrap();
    let system = ExampleSystem::new(inventory, dispatch);
    let (listener, addr) = ExampleSystem::bind(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        system.serve(listener, shutdown).await.unwrap();
    });
    Running {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        _stop: stop,
    }
}

impl Running {
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// A call with an optional JSON body; the status and the JSON answered.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let content_type = response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(content_type, "application/json", "{path}");
        (status, response.json().await.unwrap())
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    pub fn channel(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(self.base.clone())
            .unwrap()
            .connect_lazy()
    }
}

/// Reads a streamed body line by line (NDJSON) or event by event (SSE: blank-line separated).
pub struct Chunks {
    response: Response,
    buffer: Vec<u8>,
    separator: &'static [u8],
}

impl Chunks {
    pub fn new(response: Response, separator: &'static [u8]) -> Self {
        Self {
            response,
            buffer: Vec::new(),
            separator,
        }
    }

    pub async fn next(&mut self) -> Option<String> {
        loop {
            let found = self
                .buffer
                .windows(self.separator.len())
                .position(|window| window == self.separator);
            if let Some(end) = found {
                let rest = self.buffer.split_off(end + self.separator.len());
                let mut item = std::mem::replace(&mut self.buffer, rest);
                item.truncate(end);
                return Some(String::from_utf8(item).unwrap());
            }
            let chunk = self.response.chunk().await.unwrap()?;
            self.buffer.extend_from_slice(&chunk);
        }
    }

    pub async fn next_json(&mut self) -> Option<Value> {
        let line = self.next().await?;
        Some(serde_json::from_str(&line).unwrap())
    }
}

pub fn order_body(customer: &str, lines: &[(&str, i32, i64)]) -> Value {
    let items: Vec<Value> = lines
        .iter()
        .map(|&(sku, quantity, price)| json!({"sku": sku, "quantity": quantity, "unitPriceCents": price.to_string()}))
        .collect();
    json!({"customerId": customer, "items": items, "currency": "USD"})
}
