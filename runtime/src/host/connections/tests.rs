//! The connection guard on a paused clock, the accept back-off and the default bound.

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;

/// A connection guarded by `limits`, and the peer's end of it.
fn guarded(limits: &ConnectionLimits) -> (Guarded<DuplexStream>, DuplexStream) {
    let (server, client) = tokio::io::duplex(1024);
    let open = Arc::new(AtomicUsize::new(1));
    let guard = Guard {
        slot: Slot {
            open,
            label: "test".into(),
        },
        preface_deadline: Instant::now() + limits.preface_timeout,
        idle_timeout: limits.idle_timeout,
    };
    (guard.wrap(server), client)
}

/// Reads once: the bytes, or the error.
async fn read(connection: &mut Guarded<DuplexStream>) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; 64];
    let n = connection.read(&mut buf).await?;
    buf.truncate(n);
    Ok(buf)
}

/// Whether a read is still waiting after `wait` of (paused) time.
async fn still_open_after(connection: &mut Guarded<DuplexStream>, wait: Duration) -> bool {
    tokio::time::timeout(wait, read(connection)).await.is_err()
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_sends_nothing_times_out() {
    let limits = ConnectionLimits::default().preface_timeout(Duration::from_secs(10));
    let (mut connection, _client) = guarded(&limits);
    let started = Instant::now();
    let error = read(&mut connection).await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    assert_eq!(started.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn part_of_the_http2_preface_is_not_enough() {
    let limits = ConnectionLimits::default().preface_timeout(Duration::from_secs(10));
    let (mut connection, mut client) = guarded(&limits);
    client.write_all(&H2_PREFACE[..16]).await.unwrap();
    assert_eq!(read(&mut connection).await.unwrap(), &H2_PREFACE[..16]);
    let error = read(&mut connection).await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::TimedOut);
}

#[tokio::test(start_paused = true)]
async fn the_whole_preface_or_an_http1_byte_ends_the_preface_timeout() {
    let limits = ConnectionLimits::default().preface_timeout(Duration::from_secs(10));
    for (first, rest) in [
        (&H2_PREFACE[..5], &H2_PREFACE[5..]),
        (&b"G"[..], &b"ET "[..]),
    ] {
        let (mut connection, mut client) = guarded(&limits);
        client.write_all(first).await.unwrap();
        read(&mut connection).await.unwrap();
        client.write_all(rest).await.unwrap();
        read(&mut connection).await.unwrap();
        // No idle timeout by default: the connection stays, however long it waits.
        assert!(still_open_after(&mut connection, Duration::from_secs(3_600)).await);
    }
}

#[tokio::test(start_paused = true)]
async fn an_idle_connection_times_out_and_activity_either_way_postpones_it() {
    let limits = ConnectionLimits::default().idle_timeout(Some(Duration::from_secs(5)));
    let (mut connection, mut client) = guarded(&limits);
    client.write_all(H2_PREFACE).await.unwrap();
    read(&mut connection).await.unwrap();

    assert!(still_open_after(&mut connection, Duration::from_secs(4)).await);
    // A write 4 s in: idle again from here.
    connection.write_all(b"settings").await.unwrap();
    assert!(still_open_after(&mut connection, Duration::from_secs(4)).await);
    // A read 8 s in.
    client.write_all(b"ping").await.unwrap();
    assert_eq!(read(&mut connection).await.unwrap(), b"ping");
    let started = Instant::now();
    let error = read(&mut connection).await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

#[test]
fn a_slot_is_given_back_when_its_connection_closes() {
    let open = Arc::new(AtomicUsize::new(3));
    drop(Slot {
        open: open.clone(),
        label: "test".into(),
    });
    assert_eq!(open.load(Ordering::Acquire), 2);
}

#[test]
fn backoff_doubles_from_5_ms_to_1_s_and_resets() {
    let mut backoff = Backoff::default();
    let waits: Vec<u128> = (0..10).map(|_| backoff.fail().as_millis()).collect();
    assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    assert_eq!(backoff.succeed(), 10);
    assert_eq!(backoff.fail(), FIRST_BACKOFF);
}

#[test]
fn per_connection_accept_errors_do_not_back_off() {
    assert!(is_connection_error(&io::Error::from(
        io::ErrorKind::ConnectionAborted
    )));
    // EMFILE and ENOMEM come as `Other` / `OutOfMemory`: the process's trouble.
    assert!(!is_connection_error(&io::Error::from_raw_os_error(24)));
    assert!(!is_connection_error(&io::Error::from(
        io::ErrorKind::OutOfMemory
    )));
}

#[test]
fn the_default_bound_stays_under_the_descriptor_limit() {
    let max = ConnectionLimits::default().max_open_connections();
    assert!((1..=MAX_DEFAULT_OPEN).contains(&max), "{max}");
    #[cfg(unix)]
    if let Some(soft) = rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
        assert!(
            (max as u64) < soft.max(2),
            "{max} against a limit of {soft}"
        );
    }
    assert_eq!(
        ConnectionLimits::default()
            .max_open(0)
            .max_open_connections(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn while_a_service_sheds_load_new_connections_are_accepted_at_the_paced_rate() {
    use std::sync::atomic::AtomicBool;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shedding = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&shedding);
    let limits = ConnectionLimits::default().accepts_while_shedding(10);
    let mut incoming = Incoming::new(
        listener,
        limits,
        "test",
        Box::new(move || flag.load(Ordering::Relaxed)),
    );
    let mut clients = Vec::new();
    for _ in 0..6 {
        clients.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut accept = async || std::future::poll_fn(|cx| incoming.poll_admit(cx)).await;

    let started = Instant::now();
    for _ in 0..3 {
        drop(accept().await);
    }
    assert_eq!(started.elapsed(), Duration::ZERO, "not shedding: no pacing");

    shedding.store(true, Ordering::Relaxed);
    for _ in 0..3 {
        drop(accept().await);
    }
    assert_eq!(
        started.elapsed(),
        Duration::from_millis(300),
        "10 a second while shedding"
    );
}
