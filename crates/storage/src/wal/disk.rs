//! The disk under the write-ahead log, as a trait: the real file system ([`FsDisk`]) or a
//! simulated one ([`SimDisk`]) that loses unsynced bytes on a crash, tears the last write
//! and counts fsyncs, so a simulation can crash the sequencer at any point from a seed.
//!
//! What the log needs of a disk: segment files in one directory, listed by name; appends
//! that are durable only after `sync`; truncation and removal that are durable when they
//! return (the log calls them only in recovery and pruning, after a directory sync).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// A segment file open for appending.
pub trait SegmentFile: Send {
    /// Appends `bytes` (not yet durable).
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes every appended byte durable.
    fn sync(&mut self) -> io::Result<()>;
}

/// The directory of segment files the log lives in.
pub trait WalDisk: Send + Sync {
    /// Where a file is, for error messages.
    fn path(&self, name: &str) -> PathBuf;
    /// The names of the files in the directory (created if missing).
    fn list(&self) -> io::Result<Vec<String>>;
    /// A file's durable and not yet durable bytes, as a read sees them.
    fn read(&self, name: &str) -> io::Result<Vec<u8>>;
    /// Creates `name` (empty) if missing, durably, and opens it for appending.
    fn open_append(&self, name: &str) -> io::Result<Box<dyn SegmentFile>>;
    /// Cuts `name` to `len` bytes, durably.
    fn truncate(&self, name: &str, len: u64) -> io::Result<()>;
    /// Removes `name`.
    fn remove(&self, name: &str) -> io::Result<()>;
}

// ------------------------------------------------------------------ the file system

/// The log's directory on the real file system.
#[derive(Clone, Debug)]
pub struct FsDisk {
    dir: PathBuf,
}

impl FsDisk {
    /// The directory `dir` (created on first use).
    pub fn new(dir: &Path) -> FsDisk {
        FsDisk {
            dir: dir.to_path_buf(),
        }
    }

    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }
}

impl SegmentFile for File {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

impl WalDisk for FsDisk {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn list(&self) -> io::Result<Vec<String>> {
        fs::create_dir_all(&self.dir)?;
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            if let Some(name) = entry?.file_name().to_str() {
                names.push(name.to_string());
            }
        }
        Ok(names)
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        File::open(self.path(name))?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn open_append(&self, name: &str) -> io::Result<Box<dyn SegmentFile>> {
        fs::create_dir_all(&self.dir)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(name))?;
        self.sync_dir()?;
        Ok(Box::new(file))
    }

    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(self.path(name))?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        fs::remove_file(self.path(name))
    }
}

// ------------------------------------------------------------------ the simulated disk

#[derive(Clone, Debug, Default)]
struct SimFile {
    /// What survives a crash.
    durable: Vec<u8>,
    /// Appended since the last sync: a crash keeps some prefix of it, or none.
    unsynced: Vec<u8>,
}

#[derive(Debug, Default)]
struct SimDiskState {
    files: BTreeMap<String, SimFile>,
    syncs: u64,
    /// When set, the next sync makes only this many of the unsynced bytes durable and
    /// fails: power was lost while the fsync was in flight.
    lose_power_in_next_sync: Option<usize>,
}

/// A disk in memory that forgets unsynced bytes on [`SimDisk::crash`] (keeping a torn
/// prefix of them, as a real disk may), and can lose power in the middle of an fsync.
/// Clones share the disk: the simulation keeps one to crash the node that uses another.
#[derive(Clone, Debug, Default)]
pub struct SimDisk(Arc<Mutex<SimDiskState>>);

impl SimDisk {
    /// An empty disk.
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    fn state(&self) -> MutexGuard<'_, SimDiskState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The machine crashes: of each file's unsynced bytes only the first
    /// `torn(name, unsynced_len)` survive (clamped to what was written).
    pub fn crash(&self, mut torn: impl FnMut(&str, usize) -> usize) {
        let mut state = self.state();
        state.lose_power_in_next_sync = None;
        for (name, file) in state.files.iter_mut() {
            let keep = torn(name, file.unsynced.len()).min(file.unsynced.len());
            let unsynced = std::mem::take(&mut file.unsynced);
            file.durable.extend_from_slice(&unsynced[..keep]);
        }
    }

    /// Power is lost during the next fsync, after `durable_bytes` of what it was writing
    /// reached the platter; that fsync fails.
    pub fn lose_power_in_next_sync(&self, durable_bytes: usize) {
        self.state().lose_power_in_next_sync = Some(durable_bytes);
    }

    /// Fsyncs completed so far.
    pub fn syncs(&self) -> u64 {
        self.state().syncs
    }
}

struct SimSegment {
    disk: SimDisk,
    name: String,
}

fn missing(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no file {name}"))
}

impl SegmentFile for SimSegment {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.disk.state();
        let file = state
            .files
            .get_mut(&self.name)
            .ok_or_else(|| missing(&self.name))?;
        file.unsynced.extend_from_slice(bytes);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut state = self.disk.state();
        let power_loss = state.lose_power_in_next_sync.take();
        let file = state
            .files
            .get_mut(&self.name)
            .ok_or_else(|| missing(&self.name))?;
        let unsynced = std::mem::take(&mut file.unsynced);
        match power_loss {
            Some(durable) => {
                let durable = durable.min(unsynced.len());
                file.durable.extend_from_slice(&unsynced[..durable]);
                Err(io::Error::other("power lost during fsync"))
            }
            None => {
                file.durable.extend_from_slice(&unsynced);
                state.syncs += 1;
                Ok(())
            }
        }
    }
}

impl WalDisk for SimDisk {
    fn path(&self, name: &str) -> PathBuf {
        PathBuf::from("sim").join(name)
    }

    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.state().files.keys().cloned().collect())
    }

    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let state = self.state();
        let file = state.files.get(name).ok_or_else(|| missing(name))?;
        Ok([file.durable.as_slice(), &file.unsynced].concat())
    }

    fn open_append(&self, name: &str) -> io::Result<Box<dyn SegmentFile>> {
        self.state().files.entry(name.to_string()).or_default();
        Ok(Box::new(SimSegment {
            disk: self.clone(),
            name: name.to_string(),
        }))
    }

    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        let mut state = self.state();
        let file = state.files.get_mut(name).ok_or_else(|| missing(name))?;
        let mut bytes = [file.durable.as_slice(), &file.unsynced].concat();
        bytes.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        *file = SimFile {
            durable: bytes,
            unsynced: Vec::new(),
        };
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.state()
            .files
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| missing(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_keeps_synced_bytes_and_a_torn_prefix_of_the_rest() {
        let disk = SimDisk::new();
        let mut file = disk.open_append("a.wal").unwrap();
        file.append(b"synced").unwrap();
        file.sync().unwrap();
        file.append(b"-unsynced").unwrap();
        assert_eq!(disk.read("a.wal").unwrap(), b"synced-unsynced");
        disk.crash(|_, len| {
            assert_eq!(len, 9);
            3
        });
        assert_eq!(disk.read("a.wal").unwrap(), b"synced-un");
        assert_eq!(disk.syncs(), 1);
    }

    #[test]
    fn power_lost_in_an_fsync_fails_it_and_keeps_part() {
        let disk = SimDisk::new();
        let mut file = disk.open_append("a.wal").unwrap();
        file.append(b"abcdef").unwrap();
        disk.lose_power_in_next_sync(2);
        assert!(file.sync().is_err());
        disk.crash(|_, _| usize::MAX);
        assert_eq!(disk.read("a.wal").unwrap(), b"ab");
    }
}
