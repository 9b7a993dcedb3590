//! The write-ahead log: every accepted transaction is appended and fsynced here before its
//! receipt is sent, so a crash loses nothing that was acknowledged.
//!
//! Records are framed `len (u32 BE) ‖ crc32 (u32 BE) ‖ kind (u8) ‖ payload`, where `len`
//! counts kind and payload and the CRC covers them. A block starts with a `BlockOpen`
//! record (number, timestamp) and its transactions follow in execution order, so the log
//! alone determines every block that is not yet in the database. Files are segments named
//! by the first block they hold; a segment is deleted once the database holds all its
//! blocks. A torn record at the end of the last segment (a crash mid-write) is cut off on
//! recovery; damage anywhere else is refused.

pub mod disk;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use straddle_primitives::codec::{Reader, Writer};

pub use disk::{FsDisk, SegmentFile, SimDisk, WalDisk};

/// Segment size after which the next block starts a new segment.
pub const WAL_SEGMENT_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Largest record accepted when reading (a transaction is ~118 bytes).
pub const WAL_RECORD_BYTES_MAX: u32 = 4096;

const KIND_BLOCK_OPEN: u8 = 1;
const KIND_TX: u8 = 2;
const FRAME_HEADER_BYTES: usize = 8;

/// Errors of the write-ahead log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// The file system failed.
    #[error("wal i/o: {0}")]
    Io(#[from] io::Error),
    /// A damaged record before the end of the log: refusing to guess.
    #[error("wal segment {segment} is corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset of the bad record.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
}

/// One block as logged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalBlock {
    /// Block number.
    pub number: u64,
    /// Block time, unix milliseconds.
    pub timestamp_ms: u64,
    /// Canonical signed-action bytes, in order.
    pub transactions: Vec<Vec<u8>>,
}

/// Appends the frame of a `BlockOpen` record to `out`.
pub fn frame_block_open(out: &mut Vec<u8>, number: u64, timestamp_ms: u64) {
    let mut payload = Writer::with_capacity(17);
    payload.u8(KIND_BLOCK_OPEN).u64(number).u64(timestamp_ms);
    frame(out, &payload.bytes);
}

/// Appends the frame of a transaction record to `out`.
pub fn frame_tx(out: &mut Vec<u8>, tx_bytes: &[u8]) {
    let mut payload = Vec::with_capacity(1 + tx_bytes.len());
    payload.push(KIND_TX);
    payload.extend_from_slice(tx_bytes);
    frame(out, &payload);
}

fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_be_bytes());
    out.extend_from_slice(payload);
}

fn segment_name(first_block: u64) -> String {
    format!("{first_block:020}.wal")
}

/// Segments on `disk` as `(first block, name)`, ascending.
fn segments(disk: &dyn WalDisk) -> Result<Vec<(u64, String)>, WalError> {
    let mut out: Vec<(u64, String)> = disk
        .list()?
        .into_iter()
        .filter_map(|name| {
            let first = name.strip_suffix(".wal")?.parse::<u64>().ok()?;
            Some((first, name))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Reads every block in the log in `dir`, cutting off a torn tail of the last segment.
pub fn recover(dir: &Path) -> Result<Vec<WalBlock>, WalError> {
    recover_from(&FsDisk::new(dir))
}

/// [`recover`] from the log on `disk`.
pub fn recover_from(disk: &dyn WalDisk) -> Result<Vec<WalBlock>, WalError> {
    let segments = segments(disk)?;
    let mut blocks: Vec<WalBlock> = Vec::new();
    for (i, (_, name)) in segments.iter().enumerate() {
        let is_last = i + 1 == segments.len();
        let bytes = disk.read(name)?;
        let mut offset = 0usize;
        while offset < bytes.len() {
            match parse_record(&bytes[offset..]) {
                Ok((kind, payload, used)) => {
                    apply_record(&mut blocks, kind, payload).map_err(|reason| {
                        WalError::Corrupt {
                            segment: disk.path(name),
                            offset: offset as u64,
                            reason,
                        }
                    })?;
                    offset += used;
                }
                Err(reason) if is_last => {
                    tracing::warn!(segment = %disk.path(name).display(), offset, reason, "cutting torn tail off the write-ahead log");
                    disk.truncate(name, offset as u64)?;
                    break;
                }
                Err(reason) => {
                    return Err(WalError::Corrupt {
                        segment: disk.path(name),
                        offset: offset as u64,
                        reason,
                    });
                }
            }
        }
    }
    Ok(blocks)
}

fn parse_record(bytes: &[u8]) -> Result<(u8, &[u8], usize), &'static str> {
    if bytes.len() < FRAME_HEADER_BYTES {
        return Err("truncated frame header");
    }
    let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let crc = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if len == 0 || len > WAL_RECORD_BYTES_MAX {
        return Err("record length out of range");
    }
    let end = FRAME_HEADER_BYTES + len as usize;
    let payload = bytes
        .get(FRAME_HEADER_BYTES..end)
        .ok_or("truncated record")?;
    if crc32fast::hash(payload) != crc {
        return Err("checksum mismatch");
    }
    Ok((payload[0], &payload[1..], end))
}

fn apply_record(blocks: &mut Vec<WalBlock>, kind: u8, payload: &[u8]) -> Result<(), &'static str> {
    match kind {
        KIND_BLOCK_OPEN => {
            let mut r = Reader::new(payload);
            let number = r.u64().map_err(|_| "short block-open record")?;
            let timestamp_ms = r.u64().map_err(|_| "short block-open record")?;
            if let Some(last) = blocks.last()
                && number != last.number + 1
            {
                return Err("block numbers are not consecutive");
            }
            blocks.push(WalBlock {
                number,
                timestamp_ms,
                transactions: Vec::new(),
            });
            Ok(())
        }
        KIND_TX => {
            let block = blocks
                .last_mut()
                .ok_or("transaction before any block-open record")?;
            block.transactions.push(payload.to_vec());
            Ok(())
        }
        _ => Err("unknown record kind"),
    }
}

/// The appending side of the log. Owned by one thread.
pub struct WalWriter {
    disk: Arc<dyn WalDisk>,
    file: Box<dyn SegmentFile>,
    segment_first_block: u64,
    segment_bytes: u64,
    /// First blocks of the segments before the current one.
    closed: Vec<u64>,
}

impl WalWriter {
    /// Deletes every segment in `dir` (their blocks are all in the database) and starts a
    /// fresh one whose first block is `next_block`.
    pub fn start_fresh(dir: &Path, next_block: u64) -> Result<WalWriter, WalError> {
        WalWriter::start_fresh_on(Arc::new(FsDisk::new(dir)), next_block)
    }

    /// [`WalWriter::start_fresh`] on `disk`.
    pub fn start_fresh_on(disk: Arc<dyn WalDisk>, next_block: u64) -> Result<WalWriter, WalError> {
        for (_, name) in segments(disk.as_ref())? {
            disk.remove(&name)?;
        }
        let file = disk.open_append(&segment_name(next_block))?;
        Ok(WalWriter {
            disk,
            file,
            segment_first_block: next_block,
            segment_bytes: 0,
            closed: Vec::new(),
        })
    }

    /// Starts a new segment if the current one is full; call before a block's first record.
    pub fn maybe_rotate(&mut self, next_block: u64) -> Result<(), WalError> {
        if self.segment_bytes < WAL_SEGMENT_BYTES_MAX || next_block == self.segment_first_block {
            return Ok(());
        }
        let file = self.disk.open_append(&segment_name(next_block))?;
        let old = std::mem::replace(&mut self.file, file);
        drop(old);
        self.closed.push(self.segment_first_block);
        self.segment_first_block = next_block;
        self.segment_bytes = 0;
        Ok(())
    }

    /// Writes framed records and fsyncs them.
    pub fn append_and_sync(&mut self, framed: &[u8]) -> Result<(), WalError> {
        self.file.append(framed)?;
        self.file.sync()?;
        self.segment_bytes += framed.len() as u64;
        Ok(())
    }

    /// Deletes closed segments whose blocks are all at or below `committed_block`.
    pub fn prune(&mut self, committed_block: u64) -> Result<(), WalError> {
        let mut next_first = self.segment_first_block;
        let mut keep = Vec::new();
        for first in self.closed.drain(..).rev() {
            if next_first.saturating_sub(1) <= committed_block {
                self.disk.remove(&segment_name(first))?;
            } else {
                keep.push(first);
            }
            next_first = first;
        }
        keep.reverse();
        self.closed = keep;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_blocks_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = WalWriter::start_fresh(dir.path(), 1).unwrap();
        let mut buf = Vec::new();
        frame_block_open(&mut buf, 1, 1000);
        frame_tx(&mut buf, b"tx-a");
        frame_tx(&mut buf, b"tx-b");
        frame_block_open(&mut buf, 2, 1100);
        frame_tx(&mut buf, b"tx-c");
        wal.append_and_sync(&buf).unwrap();
        // A crash in the middle of the next record.
        let mut torn = Vec::new();
        frame_tx(&mut torn, b"tx-d");
        wal.append_and_sync(&torn[..torn.len() - 2]).unwrap();
        drop(wal);

        let blocks = recover(dir.path()).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(
            blocks[0].transactions,
            vec![b"tx-a".to_vec(), b"tx-b".to_vec()]
        );
        assert_eq!(
            blocks[1],
            WalBlock {
                number: 2,
                timestamp_ms: 1100,
                transactions: vec![b"tx-c".to_vec()]
            }
        );
        // The tail was cut: a second recovery sees the same and nothing torn.
        assert_eq!(recover(dir.path()).unwrap(), blocks);
    }

    #[test]
    fn refuses_damage_before_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = WalWriter::start_fresh(dir.path(), 1).unwrap();
        let mut buf = Vec::new();
        frame_block_open(&mut buf, 1, 1000);
        frame_tx(&mut buf, b"tx-a");
        wal.append_and_sync(&buf).unwrap();
        drop(wal);
        // Damage the first segment, then add a later one so the damage is not a tail.
        let first = dir.path().join(segment_name(1));
        let mut bytes = std::fs::read(&first).unwrap();
        bytes[FRAME_HEADER_BYTES + 3] ^= 0xff;
        std::fs::write(&first, bytes).unwrap();
        let mut later = Vec::new();
        frame_block_open(&mut later, 2, 1100);
        std::fs::write(dir.path().join(segment_name(2)), later).unwrap();
        assert!(matches!(recover(dir.path()), Err(WalError::Corrupt { .. })));
    }
}
