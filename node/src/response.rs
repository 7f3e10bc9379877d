//! Responses as they go out: a framed response is a list of chunks, bytes in memory and
//! ranges of segment files, so a Fetch answer carries its records without copying them.
//!
//! Kafka serves consumers with `sendfile(2)` from the segment file (`FileRecords.writeTo`,
//! `TransferableRecords`): the records go from the page cache to the socket, never through the
//! broker's memory. So does runnel on a plain TCP connection ([`TcpResponses`]); on a TLS one
//! ([`CopyingResponses`]) the file bytes are read and encrypted, as Kafka does over SSL.
//!
//! The Fetch response is encoded by `kafka-protocol` as any other, with each file-backed
//! partition's records standing in as a [placeholder](placeholder) of their length; the
//! [`SplicingBuf`] it is encoded into puts the file ranges where the placeholders would be
//! copied.

use std::fs::File;
use std::future::Future;
use std::io;
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::protocol::buf::ByteBufMut;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::tcp::OwnedWriteHalf;

/// `len` bytes of an open segment file from `position`.
#[derive(Clone, Debug)]
pub struct FileRange {
    /// The file (kept open while the response waits to be sent, even if the segment is
    /// deleted or replaced meanwhile: the reader then gets the bytes it was promised).
    pub file: Arc<File>,
    /// Where the bytes start, in bytes.
    pub position: u64,
    /// How many.
    pub len: usize,
}

/// One piece of a response on the wire.
#[derive(Clone, Debug)]
pub enum Chunk {
    /// Bytes in memory.
    Bytes(Bytes),
    /// Bytes of a segment file.
    File(FileRange),
}

impl Chunk {
    /// Its length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Chunk::Bytes(b) => b.len(),
            Chunk::File(f) => f.len,
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A framed response: its size, header and body, in chunks.
#[derive(Clone, Debug, Default)]
pub struct Response(pub Vec<Chunk>);

impl From<BytesMut> for Response {
    fn from(bytes: BytesMut) -> Self {
        Response(vec![Chunk::Bytes(bytes.freeze())])
    }
}

impl Response {
    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.0.iter().map(Chunk::len).sum()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The largest run of file bytes one partition's records may stand for as a placeholder
/// (larger ones are read into memory). Kafka's `message.max.bytes` default is 1 MiB and a
/// partition answers `max.partition.fetch.bytes` (1 MiB) or one batch.
const PLACEHOLDER_BYTES: usize = 64 << 20;

/// Never read or written: only its address is compared. Zeroed pages that nothing touches
/// (a large zeroed allocation is a lazy anonymous mapping, see [`crate::alloc`]), so it
/// takes address space but no memory; a `static` would put 64 MiB of zeros in the binary.
fn placeholder_bytes() -> &'static [u8] {
    static PLACEHOLDER: std::sync::OnceLock<&'static [u8]> = std::sync::OnceLock::new();
    PLACEHOLDER.get_or_init(|| vec![0; PLACEHOLDER_BYTES].leak())
}

/// A stand-in for `len` bytes of records in a response to be encoded into a [`SplicingBuf`]
/// (which puts the file ranges there instead); `None` when `len` is too large for one.
pub fn placeholder(len: usize) -> Option<Bytes> {
    (len <= PLACEHOLDER_BYTES).then(|| Bytes::from_static(&placeholder_bytes()[..len]))
}

/// An encoding buffer that turns each [`placeholder`] written into it into the next file
/// ranges of `files`, and everything else into bytes.
#[derive(Debug)]
pub struct SplicingBuf {
    chunks: Vec<Chunk>,
    current: BytesMut,
    /// Bytes in `chunks`.
    before: usize,
    files: std::vec::IntoIter<Vec<FileRange>>,
}

impl SplicingBuf {
    /// A buffer holding `start`, whose placeholders, in the order they are written, stand
    /// for `files`.
    pub fn new(start: BytesMut, files: Vec<Vec<FileRange>>) -> Self {
        Self {
            chunks: Vec::new(),
            current: start,
            before: 0,
            files: files.into_iter(),
        }
    }

    /// The chunks written, in order.
    pub fn finish(mut self) -> Response {
        if !self.current.is_empty() {
            self.chunks.push(Chunk::Bytes(self.current.freeze()));
        }
        Response(self.chunks)
    }

    fn splice(&mut self, ranges: Vec<FileRange>) {
        let bytes = self.current.split().freeze();
        self.before += bytes.len();
        if !bytes.is_empty() {
            self.chunks.push(Chunk::Bytes(bytes));
        }
        for range in ranges {
            self.before += range.len;
            self.chunks.push(Chunk::File(range));
        }
    }
}

// SAFETY: every method hands over to the `BytesMut` being filled; `put_slice` only decides
// whether a slice is copied into it or stands for file ranges.
unsafe impl BufMut for SplicingBuf {
    fn remaining_mut(&self) -> usize {
        self.current.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: the caller initialised `cnt` bytes of `chunk_mut`, which is `current`'s.
        unsafe { self.current.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.current.chunk_mut()
    }

    fn put_slice(&mut self, src: &[u8]) {
        if std::ptr::eq(src.as_ptr(), placeholder_bytes().as_ptr())
            && !src.is_empty()
            && let Some(ranges) = self.files.next()
        {
            debug_assert_eq!(ranges.iter().map(|r| r.len).sum::<usize>(), src.len());
            self.splice(ranges);
        } else {
            self.current.put_slice(src);
        }
    }
}

impl ByteBufMut for SplicingBuf {
    fn offset(&self) -> usize {
        self.before + self.current.len()
    }

    /// Only within the bytes since the last file range (the Fetch response, the one
    /// encoded into this buffer, seeks nowhere).
    fn seek(&mut self, offset: usize) {
        self.current.resize(offset.saturating_sub(self.before), 0);
    }

    fn range(&mut self, r: Range<usize>) -> &mut [u8] {
        let start = r.start.saturating_sub(self.before);
        let end = r.end.saturating_sub(self.before);
        &mut self.current[start..end]
    }
}

/// Where a connection's responses are written.
pub trait Responses: Send {
    /// Writes `response` whole, and flushes it.
    fn send(&mut self, response: Response) -> impl Future<Output = io::Result<()>> + Send;
}

/// A plain TCP connection's writing half: file ranges go with `sendfile(2)`.
#[derive(Debug)]
pub struct TcpResponses(pub OwnedWriteHalf);

impl Responses for TcpResponses {
    async fn send(&mut self, response: Response) -> io::Result<()> {
        for chunk in response.0 {
            match chunk {
                Chunk::Bytes(bytes) => self.0.write_all(&bytes).await?,
                Chunk::File(range) => send_file(&self.0, &range).await?,
            }
        }
        Ok(())
    }
}

/// Sends `range` to the socket with `sendfile(2)`, waiting whenever the socket is full.
/// A file shorter than the range (cut since it was read: a truncation) is an error, which
/// closes the connection, as Kafka's `FileRecords.writeTo` fails.
async fn send_file(socket: &OwnedWriteHalf, range: &FileRange) -> io::Result<()> {
    let stream: &tokio::net::TcpStream = socket.as_ref();
    let mut offset = i64::try_from(range.position).map_err(io::Error::other)?;
    let mut left = range.len;
    while left > 0 {
        stream.writable().await?;
        let sent = stream.try_io(tokio::io::Interest::WRITABLE, || {
            // SAFETY: both descriptors stay open for the call (`stream` and `range.file` are
            // borrowed), and `offset` is a valid i64 the kernel updates.
            let n = unsafe {
                libc::sendfile(
                    stream.as_raw_fd(),
                    range.file.as_raw_fd(),
                    &mut offset,
                    left,
                )
            };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        });
        match sent {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the segment file is shorter than the records promised",
                ));
            }
            Ok(n) => left -= n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Any other connection (TLS): file ranges are read, then written like the rest.
#[derive(Debug)]
pub struct CopyingResponses<W: AsyncWrite + Unpin + Send>(pub BufWriter<W>);

impl<W: AsyncWrite + Unpin + Send> Responses for CopyingResponses<W> {
    async fn send(&mut self, response: Response) -> io::Result<()> {
        for chunk in response.0 {
            match chunk {
                Chunk::Bytes(bytes) => self.0.write_all(&bytes).await?,
                Chunk::File(range) => {
                    let mut bytes = vec![0; range.len];
                    range.file.read_exact_at(&mut bytes, range.position)?;
                    self.0.write_all(&bytes).await?;
                }
            }
        }
        self.0.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::{FetchResponse, TopicName};
    use kafka_protocol::protocol::{Encodable, StrBytes};
    use std::io::Write;

    /// A Fetch response whose records stand as placeholders for file ranges goes out as the
    /// same bytes as one with the records inline, at every Fetch version runnel serves (4 to
    /// 12: the non-flexible and the flexible encodings), with the file ranges where the
    /// records go and nothing copied.
    #[test]
    fn a_spliced_fetch_response_is_the_same_bytes_as_a_copied_one() {
        let path = std::env::temp_dir().join(format!("runnel-splice-{}", std::process::id()));
        let mut file = File::create(&path).expect("a temp file");
        let contents: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        file.write_all(&contents).expect("written");
        let file = Arc::new(File::open(&path).expect("reopened"));
        let _ = std::fs::remove_file(&path);
        let range = |position: u64, len: usize| FileRange {
            file: file.clone(),
            position,
            len,
        };
        // Partition 0 from two segments' ranges, partition 1 inline, partition 2 from one.
        let files = vec![
            vec![range(10, 700), range(2000, 300)],
            vec![range(4000, 999)],
        ];
        let inline = Bytes::from_static(b"inline records");
        let records = [
            Bytes::from([&contents[10..710], &contents[2000..2300]].concat()),
            inline.clone(),
            Bytes::copy_from_slice(&contents[4000..4999]),
        ];
        let response = |records: [Option<Bytes>; 3]| {
            let partitions = records
                .into_iter()
                .enumerate()
                .map(|(i, r)| {
                    PartitionData::default()
                        .with_partition_index(i as i32)
                        .with_high_watermark(5000)
                        .with_records(r)
                })
                .collect();
            let topic = FetchableTopicResponse::default()
                .with_topic(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(partitions);
            FetchResponse::default().with_responses(vec![topic])
        };
        let copied = response(records.clone().map(Some));
        let spliced = response([placeholder(1000), Some(inline), placeholder(999)]);
        for version in 4..=12 {
            let mut expected = BytesMut::new();
            copied.encode(&mut expected, version).expect("encoded");
            assert_eq!(spliced.compute_size(version).ok(), Some(expected.len()));
            let mut buf = SplicingBuf::new(BytesMut::from(&b"head"[..]), files.clone());
            spliced.encode(&mut buf, version).expect("encoded");
            let chunks = buf.finish().0;
            let kinds: Vec<bool> = chunks.iter().map(|c| matches!(c, Chunk::File(_))).collect();
            // Flexible versions (12) end with tagged fields after the last records.
            let tail = (version >= 12).then_some(false);
            let expected_kinds: Vec<bool> = [false, true, true, false, true]
                .into_iter()
                .chain(tail)
                .collect();
            assert_eq!(kinds, expected_kinds, "v{version}");
            let mut sent = Vec::new();
            for chunk in chunks {
                match chunk {
                    Chunk::Bytes(b) => sent.extend_from_slice(&b),
                    Chunk::File(f) => sent.extend_from_slice(
                        &contents[f.position as usize..f.position as usize + f.len],
                    ),
                }
            }
            assert_eq!(&sent[..4], b"head");
            assert!(sent[4..] == expected[..], "v{version}: the same bytes");
        }
    }
}
