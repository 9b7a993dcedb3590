//! Batches in EIP-4844 blobs: the packing of a batch's bytes into blobs and back, the
//! check of a blob against its versioned hash, and the sidecar of a blob transaction.
//!
//! Packing (`docs/spec/batches.md` §6.2): the stream `len ‖ bytes`, with `len` the batch
//! length as 4 big-endian bytes, is cut into 31-byte pieces; piece `k` fills bytes 1..32
//! of field element `k` (byte 0 stays zero, which keeps every element below the BLS
//! modulus), blob after blob, 4 096 elements per blob; the rest is zero. So the byte at
//! stream offset `o` sits in blob `o / 126 976`, element `(o % 126 976) / 31`, byte
//! `1 + o % 31`: a proof about one transaction opens only the elements that hold it.

use crate::L1Error;
use alloy::eips::eip4844::env_settings::EnvKzgSettings;
use alloy::eips::eip4844::{
    BYTES_PER_BLOB, Blob, BlobTransactionSidecar, FIELD_ELEMENTS_PER_BLOB, kzg_to_versioned_hash,
};
use alloy::eips::eip7594::{BlobTransactionSidecarEip7594, BlobTransactionSidecarVariant};
use alloy::primitives::B256;

/// Payload bytes per field element (its first byte stays zero).
pub const PAYLOAD_BYTES_PER_ELEMENT: usize = 31;
/// Payload bytes per blob: 4 096 elements of 31 bytes.
pub const PAYLOAD_BYTES_PER_BLOB: usize =
    FIELD_ELEMENTS_PER_BLOB as usize * PAYLOAD_BYTES_PER_ELEMENT;
/// Most blobs one batch transaction carries (the Osaka per-transaction limit, EIP-7594).
pub const BLOBS_PER_BATCH_MAX: usize = 6;
/// Largest batch that fits in [`BLOBS_PER_BATCH_MAX`] blobs, bytes.
pub const BLOB_BATCH_BYTES_MAX: usize = BLOBS_PER_BATCH_MAX * PAYLOAD_BYTES_PER_BLOB - LENGTH_BYTES;
/// The length prefix of the packed stream.
const LENGTH_BYTES: usize = 4;

/// Blobs needed for a batch of `len` bytes.
pub fn blobs_needed(len: usize) -> usize {
    (len + LENGTH_BYTES).div_ceil(PAYLOAD_BYTES_PER_BLOB)
}

/// Packs `data` into as few blobs as hold it.
pub fn pack(data: &[u8]) -> Result<Vec<Blob>, L1Error> {
    if data.is_empty() || data.len() > BLOB_BATCH_BYTES_MAX {
        return Err(L1Error::Blob(format!(
            "a blob batch holds 1 to {BLOB_BATCH_BYTES_MAX} bytes, not {}",
            data.len()
        )));
    }
    let length = u32::try_from(data.len()).map_err(|_| L1Error::Blob("batch too long".into()))?;
    let stream: Vec<u8> = length.to_be_bytes().iter().chain(data).copied().collect();
    let mut blobs = vec![Blob::ZERO; blobs_needed(data.len())];
    for (piece_index, piece) in stream.chunks(PAYLOAD_BYTES_PER_ELEMENT).enumerate() {
        let blob = piece_index / FIELD_ELEMENTS_PER_BLOB as usize;
        let element = piece_index % FIELD_ELEMENTS_PER_BLOB as usize;
        let start = element * 32 + 1;
        blobs[blob][start..start + piece.len()].copy_from_slice(piece);
    }
    Ok(blobs)
}

/// The batch bytes packed in `blobs`: the length in the first four payload bytes, then
/// the batch. Fails on a length of zero or beyond the blobs. Each element's payload is
/// its last 31 bytes: its first byte (zero as the batcher packs it) is read by no one,
/// here or in the L1 opener, so no element can make a batch one side takes and the other
/// refuses, whether or not it is opened there.
pub fn unpack(blobs: &[Blob]) -> Result<Vec<u8>, L1Error> {
    let elements: Vec<&[u8]> = blobs.iter().flat_map(|blob| blob.chunks(32)).collect();
    let payload = |index: usize| -> &[u8] { &elements[index][1..] };
    if elements.is_empty() {
        return Err(L1Error::Blob("no blobs".into()));
    }
    let first = payload(0);
    let length = u32::from_be_bytes([first[0], first[1], first[2], first[3]]) as usize;
    let needed = (LENGTH_BYTES + length).div_ceil(PAYLOAD_BYTES_PER_ELEMENT);
    if length == 0 || needed > elements.len() {
        return Err(L1Error::Blob(format!(
            "the length prefix {length} does not fit in {} blobs",
            blobs.len()
        )));
    }
    let mut stream = Vec::with_capacity(needed * PAYLOAD_BYTES_PER_ELEMENT);
    for index in 0..needed {
        stream.extend_from_slice(payload(index));
    }
    Ok(stream[LENGTH_BYTES..LENGTH_BYTES + length].to_vec())
}

/// The KZG setup for checking blobs: commitments need no precomputed tables, which
/// take seconds to build (the batcher's cell proofs use them; see [`sidecar`]).
pub(crate) fn verification_settings() -> &'static alloy::eips::eip4844::c_kzg::KzgSettings {
    alloy::eips::eip4844::c_kzg::ethereum_kzg_settings(0)
}

/// Loads the KZG setup for checking blobs (once per process), so that the first blob
/// batch does not wait for it. Call it on a blocking thread at startup.
pub fn warm_up() {
    let _ = verification_settings();
}

/// The versioned hash of `blob`'s KZG commitment (what the inbox records).
pub fn versioned_hash(blob: &Blob) -> Result<B256, L1Error> {
    let settings = verification_settings();
    let blob = c_kzg_blob(blob)?;
    let commitment = settings
        .blob_to_kzg_commitment(&blob)
        .map_err(|e| L1Error::Blob(format!("KZG commitment: {e}")))?;
    Ok(kzg_to_versioned_hash(commitment.to_bytes().as_slice()))
}

pub(crate) fn c_kzg_blob(blob: &Blob) -> Result<alloy::eips::eip4844::c_kzg::Blob, L1Error> {
    alloy::eips::eip4844::c_kzg::Blob::from_bytes(blob.as_slice())
        .map_err(|e| L1Error::Blob(format!("not a blob: {e}")))
}

/// Which sidecar an L1 accepts: blob proofs (Cancun, Prague) or cell proofs (Osaka on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SidecarKind {
    /// One KZG proof per blob (EIP-4844).
    BlobProofs,
    /// 128 cell proofs per blob (EIP-7594).
    CellProofs,
}

/// The sidecar carrying `blobs`, with commitments and proofs.
pub fn sidecar(
    blobs: Vec<Blob>,
    kind: SidecarKind,
) -> Result<BlobTransactionSidecarVariant, L1Error> {
    let settings = EnvKzgSettings::Default.get();
    let error = |e: alloy::eips::eip4844::c_kzg::Error| L1Error::Blob(format!("KZG proof: {e}"));
    Ok(match kind {
        SidecarKind::BlobProofs => BlobTransactionSidecarVariant::Eip4844(
            BlobTransactionSidecar::try_from_blobs_with_settings(blobs, settings).map_err(error)?,
        ),
        SidecarKind::CellProofs => BlobTransactionSidecarVariant::Eip7594(
            BlobTransactionSidecarEip7594::try_from_blobs_with_settings(blobs, settings)
                .map_err(error)?,
        ),
    })
}

/// A blob from the bytes an RPC returned.
pub fn blob_from_bytes(bytes: &[u8]) -> Result<Blob, L1Error> {
    Blob::try_from(bytes).map_err(|_| {
        L1Error::Blob(format!(
            "a blob has {BYTES_PER_BLOB} bytes, not {}",
            bytes.len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_at_the_edges_of_elements_and_blobs() {
        let lengths = [
            1,
            PAYLOAD_BYTES_PER_ELEMENT - LENGTH_BYTES,
            PAYLOAD_BYTES_PER_ELEMENT - LENGTH_BYTES + 1,
            PAYLOAD_BYTES_PER_BLOB - LENGTH_BYTES,
            PAYLOAD_BYTES_PER_BLOB - LENGTH_BYTES + 1,
            BLOB_BATCH_BYTES_MAX,
        ];
        for length in lengths {
            let data: Vec<u8> = (0..length).map(|i| (i * 7 + 3) as u8).collect();
            let blobs = pack(&data).unwrap();
            assert_eq!(blobs.len(), blobs_needed(length), "length {length}");
            assert!(blobs.iter().all(|b| b.chunks(32).all(|e| e[0] == 0)));
            assert_eq!(unpack(&blobs).unwrap(), data, "length {length}");
        }
    }

    #[test]
    fn a_byte_sits_where_the_layout_says() {
        let data: Vec<u8> = (0..PAYLOAD_BYTES_PER_BLOB * 2)
            .map(|i| (i % 251) as u8)
            .collect();
        let blobs = pack(&data).unwrap();
        for offset in [0usize, 26, 27, 126_971, 126_972, 200_000] {
            let stream_offset = offset + LENGTH_BYTES;
            let blob = stream_offset / PAYLOAD_BYTES_PER_BLOB;
            let element = (stream_offset % PAYLOAD_BYTES_PER_BLOB) / PAYLOAD_BYTES_PER_ELEMENT;
            let byte = 1 + stream_offset % PAYLOAD_BYTES_PER_ELEMENT;
            assert_eq!(
                blobs[blob][element * 32 + byte],
                data[offset],
                "offset {offset}"
            );
        }
    }

    #[test]
    fn the_checking_setup_gives_the_versioned_hash_of_the_sidecar() {
        let blobs = pack(b"a batch in a blob").unwrap();
        let started = std::time::Instant::now();
        let hash = versioned_hash(&blobs[0]).unwrap();
        eprintln!("setup and one commitment: {:?}", started.elapsed());
        let sidecar = sidecar(blobs, SidecarKind::BlobProofs).unwrap();
        assert_eq!(sidecar.versioned_hashes().next(), Some(hash));
    }

    #[test]
    fn bad_blobs_and_sizes_are_refused() {
        assert!(pack(&[]).is_err());
        assert!(pack(&vec![1; BLOB_BATCH_BYTES_MAX + 1]).is_err());
        // An element's first byte is read by no one, where the length or the batch is
        // and past it.
        let long = vec![9u8; 40];
        for element in [0, 1, 2] {
            let mut blobs = pack(&long).unwrap();
            blobs[0][element * 32] = 0x5a;
            assert_eq!(unpack(&blobs).unwrap(), long, "element {element}");
        }
        let mut blobs = pack(b"batch").unwrap();
        blobs[0][1..5].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(unpack(&blobs).is_err(), "a length beyond the blobs");
        assert!(unpack(&[]).is_err());
        assert!(blob_from_bytes(&[0; 10]).is_err());
    }
}
