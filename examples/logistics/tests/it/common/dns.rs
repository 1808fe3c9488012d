//! A DNS server the test runs on loopback, answering A questions for the names it is given
//! and nothing else, so that a test decides what a name resolves to while a client in another
//! process follows it (`dns://127.0.0.1:PORT/inventory.test:50051`).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use simple_dns::rdata::{A, RData};
use simple_dns::{CLASS, Name, Packet, QTYPE, ResourceRecord, TYPE};
use tokio::net::UdpSocket;

/// The server's address, and the records it answers.
pub struct DnsServer {
    pub addr: SocketAddr,
    records: Arc<Mutex<HashMap<String, Vec<Ipv4Addr>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl DnsServer {
    pub async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let records: Arc<Mutex<HashMap<String, Vec<Ipv4Addr>>>> = Arc::default();
        let answering = Arc::clone(&records);
        let task = tokio::spawn(async move {
            let mut buffer = [0; 512];
            loop {
                let Ok((read, from)) = socket.recv_from(&mut buffer).await else {
                    return;
                };
                let Ok(question) = Packet::parse(&buffer[..read]) else {
                    continue;
                };
                let Some(asked) = question.questions.first() else {
                    continue;
                };
                let name = asked.qname.to_string();
                let wants_a = asked.qtype == QTYPE::TYPE(TYPE::A);
                let addresses = answering
                    .lock()
                    .unwrap()
                    .get(&name)
                    .cloned()
                    .unwrap_or_default();
                let mut reply = question.clone().into_reply();
                if wants_a {
                    for address in addresses {
                        reply.answers.push(ResourceRecord::new(
                            Name::new_unchecked(&name).into_owned(),
                            CLASS::IN,
                            0,
                            RData::A(A {
                                address: u32::from(address),
                            }),
                        ));
                    }
                }
                if let Ok(bytes) = reply.build_bytes_vec() {
                    let _ = socket.send_to(&bytes, from).await;
                }
            }
        });
        Self {
            addr,
            records,
            task,
        }
    }

    /// From now on, `name` resolves to `addresses`.
    pub fn set(&self, name: &str, addresses: &[Ipv4Addr]) {
        self.records
            .lock()
            .unwrap()
            .insert(name.to_owned(), addresses.to_vec());
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
