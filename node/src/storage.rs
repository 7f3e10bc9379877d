//! Segment files on disk: core's `SegmentStore` over one directory per partition.
//!
//! The directory holds Kafka's files, `<base offset as 20 digits>.log`, `.index` and
//! `.timeindex`, written exactly as core lays them out. Every file of every segment stays open
//! (a std `File` per file; reads use `pread`, so `&self` suffices).
//!
//! Compaction replaces a segment's three files at once, and a crash must leave either the old
//! or the new segment. The new files are written as `*.cleaned` and synced; then a
//! `<base>.swap` marker is created, the three files are renamed over the old ones, and the
//! marker is removed. At open, a marker means "finish the renames"; `*.cleaned` files without a
//! marker are an unfinished cleaning and are deleted.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use runnel_core::log::{SegmentFile, SegmentStore, segment_file_name};

/// A store failure, with the file it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct StoreError {
    path: PathBuf,
    source: io::Error,
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError {
        path: path.to_path_buf(),
        source,
    }
}

/// The three open files of one segment.
#[derive(Debug)]
struct SegmentFiles {
    files: [File; 3],
}

/// One partition's segments in one directory.
#[derive(Debug)]
pub struct FileSegmentStore {
    dir: PathBuf,
    segments: BTreeMap<i64, SegmentFiles>,
}

impl FileSegmentStore {
    /// Opens (creating if needed) the partition directory `dir` and every segment in it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(dir).map_err(at(dir))?;
        finish_or_discard_swaps(dir)?;
        let mut bases = Vec::new();
        for entry in fs::read_dir(dir).map_err(at(dir))? {
            let entry = entry.map_err(at(dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(stem) = name.strip_suffix(".log")
                && stem.len() == 20
                && let Ok(base) = stem.parse::<i64>()
            {
                bases.push(base);
            }
        }
        bases.sort_unstable();
        let mut store = Self {
            dir: dir.to_path_buf(),
            segments: BTreeMap::new(),
        };
        for base in bases {
            let files = store.open_files(base, false)?;
            store.segments.insert(base, files);
        }
        Ok(store)
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, base: i64, file: SegmentFile) -> PathBuf {
        self.dir.join(segment_file_name(base, file))
    }

    fn open_files(&self, base: i64, create: bool) -> Result<SegmentFiles, StoreError> {
        let open = |file| {
            let path = self.path(base, file);
            OpenOptions::new()
                .read(true)
                .append(true)
                .create(create)
                .open(&path)
                .map_err(at(&path))
        };
        Ok(SegmentFiles {
            files: [
                open(SegmentFile::Log)?,
                open(SegmentFile::OffsetIndex)?,
                open(SegmentFile::TimeIndex)?,
            ],
        })
    }

    fn file(&self, base: i64, file: SegmentFile) -> Result<&File, StoreError> {
        self.segments
            .get(&base)
            .map(|s| &s.files[file as usize])
            .ok_or_else(|| StoreError {
                path: self.path(base, file),
                source: io::Error::new(io::ErrorKind::NotFound, "no such segment"),
            })
    }

    /// Forces the newest segment's files to disk (fsync): what `flush.messages`, `flush.ms`
    /// and fsync-before-ack call. Older segments were synced when they stopped being active.
    pub fn sync(&self) -> Result<(), StoreError> {
        if let Some((base, files)) = self.segments.iter().next_back() {
            for (file, handle) in SegmentFile::ALL.iter().zip(&files.files) {
                handle.sync_data().map_err(at(&self.path(*base, *file)))?;
            }
        }
        Ok(())
    }

    fn sync_dir(&self) -> Result<(), StoreError> {
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(at(&self.dir))
    }
}

impl SegmentStore for FileSegmentStore {
    type Error = StoreError;

    fn segments(&self) -> Result<Vec<i64>, StoreError> {
        Ok(self.segments.keys().copied().collect())
    }

    fn create(&mut self, base_offset: i64) -> Result<(), StoreError> {
        // The segment that stops being active is synced now, so only the newest one ever has
        // unsynced data; then the new files and their directory entries are made durable.
        // All or nothing: a failure part way (a full disk, no inodes) removes the files made,
        // so the store and its directory agree and a restart does not meet half a segment.
        self.sync()?;
        let made = self
            .open_files(base_offset, true)
            .and_then(|files| self.sync_dir().map(|()| files));
        match made {
            Ok(files) => {
                self.segments.insert(base_offset, files);
                Ok(())
            }
            Err(e) => {
                for file in SegmentFile::ALL {
                    let _ = fs::remove_file(self.path(base_offset, file));
                }
                Err(e)
            }
        }
    }

    fn append(&mut self, base: i64, file: SegmentFile, bytes: &[u8]) -> Result<(), StoreError> {
        let mut handle = self.file(base, file)?;
        handle
            .write_all(bytes)
            .map_err(|e| at(&self.path(base, file))(e))
    }

    fn read(
        &self,
        base: i64,
        file: SegmentFile,
        position: u64,
        len: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        // Up to the file's end without asking its size first (a statx per read, and every
        // fetch reads batch headers): a read that returns nothing is the end.
        let handle = self.file(base, file)?;
        let start = out.len();
        out.resize(start + len, 0);
        let mut filled = 0;
        while filled < len {
            match handle.read_at(&mut out[start + filled..], position + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    out.truncate(start);
                    return Err(at(&self.path(base, file))(e));
                }
            }
        }
        out.truncate(start + filled);
        Ok(())
    }

    fn len(&self, base: i64, file: SegmentFile) -> Result<u64, StoreError> {
        let handle = self.file(base, file)?;
        let metadata = handle
            .metadata()
            .map_err(|e| at(&self.path(base, file))(e))?;
        Ok(metadata.len())
    }

    fn truncate(&mut self, base: i64, file: SegmentFile, len: u64) -> Result<(), StoreError> {
        let path = self.path(base, file);
        self.file(base, file)?.set_len(len).map_err(at(&path))
    }

    fn delete(&mut self, base: i64) -> Result<(), StoreError> {
        self.segments.remove(&base);
        for file in SegmentFile::ALL {
            let path = self.path(base, file);
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(at(&path)(e)),
                _ => {}
            }
        }
        self.sync_dir()
    }

    fn replace(
        &mut self,
        base: i64,
        log: &[u8],
        offset_index: &[u8],
        time_index: &[u8],
    ) -> Result<(), StoreError> {
        let contents = [log, offset_index, time_index];
        for (file, bytes) in SegmentFile::ALL.iter().zip(contents) {
            let path = cleaned_path(&self.path(base, *file));
            let mut f = File::create(&path).map_err(at(&path))?;
            f.write_all(bytes).map_err(at(&path))?;
            f.sync_all().map_err(at(&path))?;
        }
        let marker = self.dir.join(format!("{base:020}.swap"));
        File::create(&marker).map_err(at(&marker))?;
        self.sync_dir()?;
        for file in SegmentFile::ALL {
            let path = self.path(base, file);
            fs::rename(cleaned_path(&path), &path).map_err(at(&path))?;
        }
        self.sync_dir()?;
        fs::remove_file(&marker).map_err(at(&marker))?;
        let files = self.open_files(base, false)?;
        self.segments.insert(base, files);
        Ok(())
    }
}

fn cleaned_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".cleaned");
    PathBuf::from(name)
}

/// Completes replacements whose swap marker exists; deletes cleanings that never got one.
fn finish_or_discard_swaps(dir: &Path) -> Result<(), StoreError> {
    let mut markers = Vec::new();
    let mut cleaned = Vec::new();
    for entry in fs::read_dir(dir).map_err(at(dir))? {
        let path = entry.map_err(at(dir))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        match name {
            Some(n) if n.ends_with(".swap") => markers.push(path),
            Some(n) if n.ends_with(".cleaned") => cleaned.push(path),
            _ => {}
        }
    }
    for marker in &markers {
        let stem = marker.with_extension("");
        for path in &cleaned {
            if path
                .to_string_lossy()
                .starts_with(&format!("{}.", stem.to_string_lossy()))
            {
                let target = path.with_extension("");
                fs::rename(path, &target).map_err(at(path))?;
            }
        }
        fs::remove_file(marker).map_err(at(marker))?;
    }
    for path in cleaned {
        if path.exists() {
            fs::remove_file(&path).map_err(at(&path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use runnel_core::batch::{BatchBuilder, NoCodec};
    use runnel_core::log::{Log, LogConfig};

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("runnel-storage-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn one_batch(i: u8) -> Vec<u8> {
        let (key, value) = ([i], [i; 100]);
        let mut b = BatchBuilder::new(0);
        b.push(i64::from(i), Some(&key), Some(&value), Vec::new());
        b.build(&NoCodec).unwrap()
    }

    #[test]
    fn writes_kafka_named_files_and_reopens() {
        let dir = temp_dir("reopen");
        let config = LogConfig {
            segment_bytes: 500,
            ..LogConfig::default()
        };
        let mut log = Log::new(FileSegmentStore::open(&dir).unwrap(), config.clone(), 0).unwrap();
        for i in 0..10 {
            log.append(&mut one_batch(i), 0, &NoCodec, 0).unwrap();
        }
        assert!(dir.join("00000000000000000000.log").exists());
        assert!(dir.join("00000000000000000000.index").exists());
        assert!(dir.join("00000000000000000000.timeindex").exists());
        let bases: Vec<i64> = log.segments().iter().map(|s| s.base_offset).collect();
        assert!(bases.len() > 2);
        assert!(
            dir.join(segment_file_name(bases[1], SegmentFile::Log))
                .exists()
        );
        let all = log.read(0, usize::MAX, 10).unwrap();
        drop(log);

        // A torn write at the tail: reopening cuts it and keeps every earlier record.
        let last = dir.join(segment_file_name(*bases.last().unwrap(), SegmentFile::Log));
        let mut f = OpenOptions::new().append(true).open(&last).unwrap();
        f.write_all(&one_batch(99)[..30]).unwrap();
        drop(f);
        let (log, cut) = Log::open(FileSegmentStore::open(&dir).unwrap(), config, 0).unwrap();
        assert_eq!(cut, 30);
        assert_eq!(log.log_end_offset(), 10);
        assert_eq!(log.read(0, usize::MAX, 10).unwrap(), all);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_interrupted_swap_is_finished_and_an_unmarked_one_discarded() {
        let dir = temp_dir("swap");
        let mut store = FileSegmentStore::open(&dir).unwrap();
        store.create(0).unwrap();
        store.append(0, SegmentFile::Log, b"old").unwrap();
        drop(store);
        // Crash after writing the cleaned files and the marker, before the renames.
        for file in SegmentFile::ALL {
            let p = cleaned_path(&dir.join(segment_file_name(0, file)));
            fs::write(p, b"new").unwrap();
        }
        fs::write(dir.join(format!("{:020}.swap", 0)), b"").unwrap();
        let store = FileSegmentStore::open(&dir).unwrap();
        let mut out = Vec::new();
        store.read(0, SegmentFile::Log, 0, 10, &mut out).unwrap();
        assert_eq!(out, b"new");
        drop(store);
        // Crash before the marker: the old segment stays.
        fs::write(
            cleaned_path(&dir.join(segment_file_name(0, SegmentFile::Log))),
            b"partial",
        )
        .unwrap();
        let store = FileSegmentStore::open(&dir).unwrap();
        let mut out = Vec::new();
        store.read(0, SegmentFile::Log, 0, 10, &mut out).unwrap();
        assert_eq!(out, b"new");
        assert!(!cleaned_path(&dir.join(segment_file_name(0, SegmentFile::Log))).exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
