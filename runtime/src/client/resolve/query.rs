//! The DNS server a target names (`dns://10.0.0.2:53/inventory:50051`), asked directly: one A
//! and one AAAA question over UDP, recursion desired, as gRPC's DNS resolver asks the
//! authority it is given. The system resolver (`getaddrinfo`) cannot be pointed at a server,
//! and a full resolver crate (hickory) would add a DNS stack with its own cache and
//! configuration to every client for the two questions asked here; the packets are
//! simple-dns's.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use simple_dns::rdata::RData;
use simple_dns::{CLASS, Name, Packet, PacketFlag, QTYPE, Question, RCODE, TYPE};
use tokio::net::UdpSocket;

use crate::client::connect::BoxError;

/// How long one question waits for its answer before it is asked once more.
const WAIT: Duration = Duration::from_secs(2);

/// The A and AAAA addresses of `host` that `server` answers, each with `port`. A name the
/// server does not know is no address, not an error.
pub(super) async fn ask(server: &str, host: &str, port: u16) -> Result<Vec<SocketAddr>, BoxError> {
    let server = server_address(server).await?;
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(server).await?;
    let mut addresses = Vec::new();
    for (number, kind) in [TYPE::A, TYPE::AAAA].into_iter().enumerate() {
        let id = question_id(number);
        let query = question(id, host, kind)?;
        let answer = exchange(&socket, &query, id).await.map_err(|error| {
            format!("the DNS server {server} did not answer for {host}: {error}")
        })?;
        addresses.extend(
            read_addresses(&answer, id)?
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port)),
        );
    }
    Ok(addresses)
}

/// The server's address: an IP with or without a port (53 by default), or a name the system
/// resolves.
async fn server_address(server: &str) -> Result<SocketAddr, BoxError> {
    if let Ok(address) = server.parse::<SocketAddr>() {
        return Ok(address);
    }
    if let Ok(ip) = server.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    let with_port = if server.contains(':') {
        server.to_owned()
    } else {
        format!("{server}:53")
    };
    tokio::net::lookup_host(with_port)
        .await?
        .next()
        .ok_or_else(|| format!("the DNS server {server} has no address").into())
}

/// A question id: not guessable from outside (the time's low bits mixed with the question's
/// number), as an answer's id must match it.
fn question_id(number: usize) -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    (nanos as u16) ^ ((nanos >> 16) as u16) ^ (number as u16).wrapping_mul(0x9e37)
}

/// The encoded question of `kind` records of `host`.
fn question(id: u16, host: &str, kind: TYPE) -> Result<Vec<u8>, BoxError> {
    let mut packet = Packet::new_query(id);
    packet.set_flags(PacketFlag::RECURSION_DESIRED);
    let name = Name::new(host).map_err(|error| format!("{host} is not a DNS name: {error}"))?;
    packet.questions.push(Question::new(
        name,
        QTYPE::TYPE(kind),
        CLASS::IN.into(),
        false,
    ));
    Ok(packet.build_bytes_vec()?)
}

/// Sends `query` and waits for the answer with its id, asking once more after [`WAIT`].
async fn exchange(socket: &UdpSocket, query: &[u8], id: u16) -> Result<Vec<u8>, BoxError> {
    let mut buffer = vec![0; 4096];
    for _ in 0..2 {
        socket.send(query).await?;
        let waited = tokio::time::timeout(WAIT, async {
            loop {
                let read = socket.recv(&mut buffer).await?;
                // An answer to an earlier question (one asked again) is skipped.
                if read >= 2 && u16::from_be_bytes([buffer[0], buffer[1]]) == id {
                    return Ok::<_, std::io::Error>(read);
                }
            }
        })
        .await;
        if let Ok(read) = waited {
            buffer.truncate(read?);
            return Ok(buffer);
        }
    }
    Err(format!("no answer within {} s, twice", WAIT.as_secs()).into())
}

/// The A and AAAA addresses among an answer's records.
fn read_addresses(answer: &[u8], id: u16) -> Result<Vec<IpAddr>, BoxError> {
    let packet = Packet::parse(answer)?;
    if packet.id() != id || !packet.has_flags(PacketFlag::RESPONSE) {
        return Err("the DNS server's answer is not one to the question asked".into());
    }
    match packet.rcode() {
        RCODE::NoError | RCODE::NameError => {}
        other => return Err(format!("the DNS server answered {other:?}").into()),
    }
    Ok(packet
        .answers
        .iter()
        .filter_map(|record| match &record.rdata {
            RData::A(a) => Some(IpAddr::from(std::net::Ipv4Addr::from(a.address))),
            RData::AAAA(aaaa) => Some(IpAddr::from(std::net::Ipv6Addr::from(aaaa.address))),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_reads_back_and_answers_are_read() {
        let query = question(7, "inventory.test", TYPE::A).unwrap();
        let parsed = Packet::parse(&query).unwrap();
        assert_eq!(parsed.id(), 7);
        assert!(parsed.has_flags(PacketFlag::RECURSION_DESIRED));
        assert_eq!(parsed.questions[0].qname.to_string(), "inventory.test");

        let mut reply = parsed.into_reply();
        reply.answers.push(simple_dns::ResourceRecord::new(
            Name::new_unchecked("inventory.test"),
            CLASS::IN,
            5,
            RData::A(simple_dns::rdata::A {
                address: u32::from(std::net::Ipv4Addr::new(127, 0, 0, 3)),
            }),
        ));
        let bytes = reply.build_bytes_vec().unwrap();
        assert_eq!(
            read_addresses(&bytes, 7).unwrap(),
            [IpAddr::from([127, 0, 0, 3])]
        );
        assert!(
            read_addresses(&bytes, 8).is_err(),
            "another question's answer"
        );
    }
}
