use futures_util::StreamExt;
use http::HeaderValue;
use http_body::Frame;
use tonic::Code;
use tonic::codec::Streaming;

use super::*;
use crate::call::unread::PREFIX;
use crate::client::codec::RawCodec;

/// One frame of a test body, made afresh for each reading.
#[derive(Clone, Debug)]
enum Piece {
    Data(Bytes),
    Trailers(HeaderMap),
    Error(Code, &'static str),
}

fn body(pieces: &[Piece]) -> tonic::body::Body {
    let frames: Vec<Result<Frame<Bytes>, Status>> = pieces
        .iter()
        .map(|piece| match piece {
            Piece::Data(data) => Ok(Frame::data(data.clone())),
            Piece::Trailers(trailers) => Ok(Frame::trailers(trailers.clone())),
            Piece::Error(code, message) => Err(Status::new(*code, *message)),
        })
        .collect();
    tonic::body::Body::new(http_body_util::StreamBody::new(futures_util::stream::iter(
        frames,
    )))
}

/// What a reading gave, in comparable terms.
type Outcome = Result<(Bytes, Option<HeaderMap>), (Code, String)>;

fn outcome(read: Result<(Bytes, Option<MetadataMap>), Status>) -> Outcome {
    read.map(|(message, trailers)| (message, trailers.map(MetadataMap::into_headers)))
        .map_err(|status| (status.code(), status.message().to_owned()))
}

const CUT: &str = "the response ended inside a message: its length prefix promised more";

/// The body as tonic's decoder must be given it to read what is read here: failing with
/// [`CUT`] where it ends inside a message (at its trailers, or at its end), which tonic's
/// decoder would let pass.
fn failing_when_cut(pieces: &[Piece]) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut data = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Data(bytes) => data.extend_from_slice(bytes),
            Piece::Trailers(_) if cut(&data) => {
                out.push(Piece::Error(Code::Internal, CUT));
                return out;
            }
            Piece::Trailers(_) | Piece::Error(..) => {}
        }
        out.push(piece.clone());
        if matches!(piece, Piece::Trailers(_) | Piece::Error(..)) {
            return out;
        }
    }
    if cut(&data) {
        out.push(Piece::Error(Code::Internal, CUT));
    }
    out
}

/// Whether `data` stops inside an envelope.
fn cut(mut data: &[u8]) -> bool {
    loop {
        let Some(prefix) = data.get(..PREFIX) else {
            return !data.is_empty();
        };
        let len = u32::from_be_bytes(prefix[1..].try_into().unwrap()) as usize;
        match data.get(PREFIX + len..) {
            Some(rest) => data = rest,
            None => return true,
        }
    }
}

/// tonic's decoder over `pieces`, as the body of an answer with `http_status` (`None`:
/// trailers-only), as tonic's client would make it.
fn tonics(
    pieces: &[Piece],
    http_status: Option<StatusCode>,
    max: usize,
    encoding: Option<CompressionEncoding>,
) -> Streaming<Bytes> {
    let body = body(&failing_when_cut(pieces));
    match http_status {
        Some(status) => Streaming::new_response(RawCodec, body, status, encoding, Some(max)),
        None => Streaming::new_empty(RawCodec, body),
    }
}

/// The one message and the trailers of `stream`, as tonic's decoder reads them.
async fn from_streaming(
    mut stream: Streaming<Bytes>,
) -> Result<(Bytes, Option<MetadataMap>), Status> {
    let message = stream.message().await?.ok_or_else(no_message)?;
    if stream.message().await?.is_some() {
        return Err(second_message());
    }
    Ok((message, stream.trailers().await?))
}

/// The body's one message read here and read by tonic's decoder.
async fn both(pieces: &[Piece], http_status: Option<StatusCode>, max: usize) -> (Outcome, Outcome) {
    let ours = Undecoded::new(body(pieces), http_status, max, None)
        .single()
        .await;
    let tonics = from_streaming(tonics(pieces, http_status, max, None)).await;
    (outcome(ours), outcome(tonics))
}

/// Everything a stream gives, in comparable terms: each message or error, then the trailers.
type Read = (Vec<Result<Bytes, (Code, String)>>, Option<HeaderMap>);

/// The body's messages read here as a stream and read by tonic's decoder.
async fn both_streamed(
    pieces: &[Piece],
    http_status: Option<StatusCode>,
    max: usize,
    encoding: Option<CompressionEncoding>,
) -> (Read, Read) {
    let mut ours = Undecoded::new(body(pieces), http_status, max, encoding).into_stream();
    let mut read = Vec::new();
    while let Some(item) = ours.next().await {
        read.push(item.map_err(|status| (status.code(), status.message().to_owned())));
    }
    let ours = (read, ours.trailers().map(MetadataMap::into_headers));
    let mut theirs = tonics(pieces, http_status, max, encoding);
    let mut read = Vec::new();
    // tonic's stream gives a body's error twice; a reader stops at the first.
    while let Some(item) = theirs.next().await {
        let failed = item.is_err();
        read.push(item.map_err(|status| (status.code(), status.message().to_owned())));
        if failed {
            break;
        }
    }
    let ended_well = read.last().is_none_or(Result::is_ok);
    let trailers = match theirs.trailers().await {
        Ok(trailers) if ended_well => trailers.map(MetadataMap::into_headers),
        _ => None,
    };
    (ours, (read, trailers))
}

fn message(flag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn trailers(status: &'static str) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static(status));
    trailers
}

const OK: Option<StatusCode> = Some(StatusCode::OK);
const MAX: usize = 4 << 20;

#[tokio::test]
async fn a_message_in_one_frame_is_a_view_of_it_and_the_trailers_come_back() {
    let data = Bytes::from(message(0, b"hello"));
    let mut ok = trailers("0");
    ok.insert("x-served-by", HeaderValue::from_static("a"));
    let pieces = [Piece::Data(data.clone()), Piece::Trailers(ok.clone())];
    let (ours, tonics) = both(&pieces, OK, MAX).await;
    assert_eq!(ours, tonics);
    let (read, read_trailers) = ours.unwrap();
    assert_eq!(read, &b"hello"[..]);
    assert_eq!(read.as_ptr(), data[PREFIX..].as_ptr(), "copied, not sliced");
    assert_eq!(read_trailers, Some(ok));
}

#[tokio::test]
async fn a_message_split_anywhere_reads_the_same() {
    let whole = message(0, b"split across frames");
    for cut in 1..whole.len() {
        let pieces = [
            Piece::Data(Bytes::copy_from_slice(&whole[..cut])),
            Piece::Data(Bytes::copy_from_slice(&whole[cut..])),
            Piece::Trailers(trailers("0")),
        ];
        let (ours, tonics) = both(&pieces, OK, MAX).await;
        assert_eq!(ours, tonics, "cut at {cut}");
        assert_eq!(ours.unwrap().0, &b"split across frames"[..]);
    }
}

#[tokio::test]
async fn the_errors_are_tonics() {
    let two = [message(0, b"a"), message(0, b"b")].concat();
    let cases: Vec<(&str, Vec<Piece>, Option<StatusCode>, usize)> = vec![
        ("no message", vec![Piece::Trailers(trailers("0"))], OK, MAX),
        (
            "two messages",
            vec![Piece::Data(two.into()), Piece::Trailers(trailers("0"))],
            OK,
            MAX,
        ),
        (
            "an error status after a message",
            vec![
                Piece::Data(message(0, b"a").into()),
                Piece::Trailers(trailers("14")),
            ],
            OK,
            MAX,
        ),
        (
            "no trailers after a 200",
            vec![Piece::Data(message(0, b"a").into())],
            OK,
            MAX,
        ),
        (
            "no trailers after a 503",
            vec![],
            Some(StatusCode::SERVICE_UNAVAILABLE),
            MAX,
        ),
        (
            "trailers without a status",
            vec![
                Piece::Data(message(0, b"a").into()),
                Piece::Trailers(HeaderMap::new()),
            ],
            OK,
            MAX,
        ),
        (
            "compressed",
            vec![Piece::Data(message(1, b"a").into())],
            OK,
            MAX,
        ),
        (
            "an unknown flag",
            vec![Piece::Data(message(7, b"a").into())],
            OK,
            MAX,
        ),
        (
            "an unknown flag, trailers-only",
            vec![Piece::Data(message(7, b"a").into())],
            None,
            MAX,
        ),
        (
            "too long",
            vec![Piece::Data(message(0, b"abcdef").into())],
            OK,
            5,
        ),
        (
            "cut, then the end",
            vec![Piece::Data(message(0, b"abc")[..6].to_vec().into())],
            OK,
            MAX,
        ),
        (
            "cut, then trailers",
            vec![
                Piece::Data(message(0, b"abc")[..6].to_vec().into()),
                Piece::Trailers(trailers("0")),
            ],
            OK,
            MAX,
        ),
        (
            "a failing body",
            vec![
                Piece::Data(message(0, b"a").into()),
                Piece::Error(Code::Cancelled, "the body failed"),
            ],
            OK,
            MAX,
        ),
        ("a trailers-only answer", vec![], None, MAX),
    ];
    for (name, pieces, http_status, max) in cases {
        let (ours, tonics) = both(&pieces, http_status, max).await;
        assert!(ours.is_err(), "{name}: {ours:?}");
        assert_eq!(ours, tonics, "{name}");
    }
}

/// xorshift64: the same bodies on every run.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> usize {
        usize::try_from(self.next() % n).unwrap()
    }
}

/// Bodies of any shape (messages of any flag and length, cut or not, in frames of any size,
/// ending in any way) read the same here as by tonic's decoder, for one message and as a
/// stream.
#[tokio::test]
async fn any_body_reads_as_tonic_reads_it() {
    let mut draw = Draw(0x9e37_79b9_7f4a_7c15);
    let mut read_one = 0;
    let mut read_well = 0;
    for case in 0..3000 {
        let mut bytes = Vec::new();
        let encoding = match draw.below(4) {
            0 => Some(CompressionEncoding::Gzip),
            1 => Some(CompressionEncoding::Zstd),
            _ => None,
        };
        let messages = match draw.below(6) {
            0 => 0,
            1..=3 => 1,
            more => more - 2,
        };
        for _ in 0..messages {
            let flag = match draw.below(20) {
                0 => 1,
                1 => 2,
                _ => 0,
            };
            let payload: Vec<u8> = (0..draw.below(24)).map(|i| i as u8).collect();
            // A compressed message in the answer's encoding, when it has one.
            match encoding {
                Some(encoding) if flag == 1 => {
                    let mut compressed = bytes::BytesMut::new();
                    crate::call::compression::compress(encoding, &payload, &mut compressed)
                        .unwrap();
                    bytes.extend(message(1, &compressed));
                }
                _ => bytes.extend(message(flag, &payload)),
            }
        }
        if draw.below(5) == 0 && !bytes.is_empty() {
            bytes.truncate(draw.below(bytes.len() as u64));
        }
        let mut pieces = Vec::new();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let size = 1 + draw.below(rest.len() as u64);
            pieces.push(Piece::Data(Bytes::copy_from_slice(&rest[..size])));
            rest = &rest[size..];
        }
        match draw.below(10) {
            0..=3 => pieces.push(Piece::Trailers(trailers("0"))),
            4 => pieces.push(Piece::Trailers(trailers("9"))),
            5 => pieces.push(Piece::Trailers(trailers("00"))),
            6 => pieces.push(Piece::Trailers(HeaderMap::new())),
            7 => pieces.push(Piece::Error(Code::Unavailable, "the body failed")),
            _ => {}
        }
        let http_status = match draw.below(8) {
            0 => None,
            1 => Some(StatusCode::NOT_FOUND),
            _ => OK,
        };
        let max = if draw.below(4) == 0 { 10 } else { MAX };
        let (ours, tonics) = both(&pieces, http_status, max).await;
        // One message: tonic's decoder given no encoding, as the trailers-only bodies are.
        if encoding.is_none() {
            assert_eq!(
                ours, tonics,
                "case {case}: {pieces:?}, {http_status:?}, max {max}"
            );
            read_one += usize::from(ours.is_ok());
        }
        let (ours, tonics) = both_streamed(&pieces, http_status, max, encoding).await;
        assert_eq!(
            ours, tonics,
            "streamed, case {case}: {pieces:?}, {http_status:?}, max {max}, {encoding:?}"
        );
        read_well += usize::from(ours.0.iter().all(Result::is_ok));
    }
    // The generator reaches both ends.
    assert!(read_one > 200, "{read_one} of 3000 bodies read one message");
    assert!(
        read_well > 600,
        "{read_well} of 3000 bodies read as a stream ended well"
    );
}
