//! Compression for record batches: gzip, snappy, lz4 and zstd behind core's `Codec` trait.
//!
//! Formats are the ones Kafka clients write: gzip streams; snappy in xerial framing (the Java
//! client's `SnappyOutputStream`; raw snappy is accepted too, as Kafka does); the LZ4 frame
//! format; zstd frames. Decompression is bounded: a batch that claims to inflate past
//! [`DECOMPRESSED_MAX_BYTES`] is refused rather than allowed to exhaust memory.

use std::io::Read;

use runnel_core::batch::{Codec, CodecError, Compression};

/// The most bytes one batch may decompress to (a decompression bomb stops here).
pub const DECOMPRESSED_MAX_BYTES: usize = 64 << 20;

/// zstd level for batches the broker writes (compaction output): zstd's default.
const ZSTD_LEVEL: i32 = 3;

const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_LEN: usize = 16;
/// xerial's default block size.
const XERIAL_BLOCK: usize = 32 * 1024;

/// The node's codec: every compression Kafka defines.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeCodec;

fn corrupt(compression: Compression, reason: impl ToString) -> CodecError {
    CodecError::Corrupt {
        compression,
        reason: reason.to_string(),
    }
}

/// Reads all of `reader` into `out`, refusing more than the bound.
fn read_bounded(
    compression: Compression,
    reader: impl Read,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    let read = reader
        .take(DECOMPRESSED_MAX_BYTES as u64 + 1)
        .read_to_end(out)
        .map_err(|e| corrupt(compression, e))?;
    if read > DECOMPRESSED_MAX_BYTES {
        return Err(corrupt(compression, "decompresses past the size bound"));
    }
    Ok(())
}

impl Codec for NodeCodec {
    fn compress(&self, c: Compression, input: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
        match c {
            Compression::None => out.extend_from_slice(input),
            Compression::Gzip => {
                let mut encoder =
                    flate2::write::GzEncoder::new(out, flate2::Compression::default());
                std::io::Write::write_all(&mut encoder, input).map_err(|e| corrupt(c, e))?;
                encoder.finish().map_err(|e| corrupt(c, e))?;
            }
            Compression::Snappy => {
                out.extend_from_slice(XERIAL_MAGIC);
                out.extend_from_slice(&1i32.to_be_bytes()); // version
                out.extend_from_slice(&1i32.to_be_bytes()); // minimum compatible version
                let mut encoder = snap::raw::Encoder::new();
                for block in input.chunks(XERIAL_BLOCK) {
                    let compressed = encoder.compress_vec(block).map_err(|e| corrupt(c, e))?;
                    out.extend_from_slice(&(compressed.len() as u32).to_be_bytes());
                    out.extend_from_slice(&compressed);
                }
            }
            Compression::Lz4 => {
                let mut encoder = lz4_flex::frame::FrameEncoder::new(out);
                std::io::Write::write_all(&mut encoder, input).map_err(|e| corrupt(c, e))?;
                encoder.finish().map_err(|e| corrupt(c, e))?;
            }
            Compression::Zstd => {
                let compressed =
                    zstd::bulk::compress(input, ZSTD_LEVEL).map_err(|e| corrupt(c, e))?;
                out.extend_from_slice(&compressed);
            }
        }
        Ok(())
    }

    fn decompress(
        &self,
        c: Compression,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        match c {
            Compression::None => {
                out.extend_from_slice(input);
                Ok(())
            }
            Compression::Gzip => read_bounded(c, flate2::read::GzDecoder::new(input), out),
            Compression::Snappy => snappy_decompress(input, out),
            Compression::Lz4 => read_bounded(c, lz4_flex::frame::FrameDecoder::new(input), out),
            Compression::Zstd => {
                let decoder = zstd::stream::read::Decoder::new(input).map_err(|e| corrupt(c, e))?;
                read_bounded(c, decoder, out)
            }
        }
    }
}

fn snappy_decompress(input: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
    let c = Compression::Snappy;
    let mut decoder = snap::raw::Decoder::new();
    let mut raw = |block: &[u8], out: &mut Vec<u8>| -> Result<(), CodecError> {
        let len = snap::raw::decompress_len(block).map_err(|e| corrupt(c, e))?;
        if out.len() + len > DECOMPRESSED_MAX_BYTES {
            return Err(corrupt(c, "decompresses past the size bound"));
        }
        let start = out.len();
        out.resize(start + len, 0);
        decoder
            .decompress(block, &mut out[start..])
            .map_err(|e| corrupt(c, e))?;
        Ok(())
    };
    if !input.starts_with(XERIAL_MAGIC) {
        return raw(input, out);
    }
    let mut rest = input
        .get(XERIAL_HEADER_LEN..)
        .ok_or_else(|| corrupt(c, "truncated xerial header"))?;
    while !rest.is_empty() {
        let len_bytes: [u8; 4] = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| corrupt(c, "truncated block length"))?;
        let len = u32::from_be_bytes(len_bytes) as usize;
        let block = rest
            .get(4..4 + len)
            .ok_or_else(|| corrupt(c, "truncated block"))?;
        raw(block, out)?;
        rest = &rest[4 + len..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips_and_refuses_garbage() {
        let input: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let mut packed = Vec::new();
            NodeCodec.compress(c, &input, &mut packed).unwrap();
            if c != Compression::None {
                assert!(packed.len() < input.len() / 2, "{c:?} compresses");
                let mut out = Vec::new();
                assert!(
                    NodeCodec
                        .decompress(c, &packed[..packed.len() / 2], &mut out)
                        .is_err()
                        || out != input,
                    "{c:?} truncated"
                );
            }
            let mut out = Vec::new();
            NodeCodec.decompress(c, &packed, &mut out).unwrap();
            assert_eq!(out, input, "{c:?}");
        }
        // Raw (unframed) snappy, as some clients write it.
        let raw = snap::raw::Encoder::new().compress_vec(&input).unwrap();
        let mut out = Vec::new();
        NodeCodec
            .decompress(Compression::Snappy, &raw, &mut out)
            .unwrap();
        assert_eq!(out, input);
    }

    #[test]
    fn a_decompression_bomb_is_refused() {
        let zeros = vec![0u8; DECOMPRESSED_MAX_BYTES + 1024];
        let mut packed = Vec::new();
        NodeCodec
            .compress(Compression::Zstd, &zeros, &mut packed)
            .unwrap();
        let mut out = Vec::new();
        assert!(
            NodeCodec
                .decompress(Compression::Zstd, &packed, &mut out)
                .is_err()
        );
    }
}
