//! A data directory belongs to one broker process and one node, as Kafka's log directories do.
//!
//! At start the broker takes an exclusive `flock(2)` on `<log.dirs>/.lock` (Kafka's lock file
//! name; `LogManager.lockLogDirs`) and keeps it for its lifetime: a second process on the same
//! directory is refused before it reads or writes anything. The directory's `meta.properties`
//! (Kafka's file: `version`, `node.id`, `cluster.id`) is written on first start and checked on
//! every later one: a directory that belongs to another node id is refused, as Kafka refuses a
//! `meta.properties` whose `node.id` differs from its configuration. The cluster id it holds is
//! the one Metadata answers with.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use base64::Engine;

/// Kafka's name of the lock file in each log directory.
pub const LOCK_FILE: &str = ".lock";
/// Kafka's name of the file that says which node and cluster a log directory belongs to.
pub const META_PROPERTIES: &str = "meta.properties";

/// A claimed data directory: the lock is held until this is dropped (or the process ends).
#[derive(Debug)]
pub struct DataDir {
    /// The directory.
    pub path: PathBuf,
    /// The cluster id from `meta.properties` (22 characters of URL-safe base64, as Kafka's).
    pub cluster_id: String,
    /// Held open: closing it releases the `flock`.
    _lock: File,
}

/// Why a data directory cannot be used; each is one line for the user.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// Another process holds the lock.
    #[error(
        "{0} is in use by another runnel process (it holds {0}/.lock): a data directory belongs to one broker"
    )]
    InUse(PathBuf),
    /// `meta.properties` names another node.
    #[error(
        "{path}/meta.properties belongs to node.id={found}, but this broker is node.id={configured}: a data directory belongs to one node"
    )]
    OtherNode {
        /// The directory.
        path: PathBuf,
        /// The node id in the file.
        found: String,
        /// The node id configured.
        configured: i32,
    },
    /// The directory or its files could not be created, read or written.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

impl DataDir {
    /// Claims `path` for node `node_id`: creates it when missing, takes the lock, and writes
    /// or checks `meta.properties`. A new directory gets `new_cluster_id` when given (a cluster's
    /// nodes derive the same one), else a random one.
    ///
    /// # Errors
    /// [`DataDirError::InUse`] when another process holds the lock,
    /// [`DataDirError::OtherNode`] when the directory belongs to another node id,
    /// [`DataDirError::Io`] for file errors. Nothing is written in the first two cases.
    pub fn claim(
        path: &Path,
        node_id: i32,
        new_cluster_id: Option<String>,
    ) -> Result<Self, DataDirError> {
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |e| DataDirError::Io(p, e)
        };
        fs::create_dir_all(path).map_err(io(path))?;
        let lock_path = path.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        // SAFETY: flock(2) on a descriptor we own; it touches no memory.
        let taken = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if taken != 0 {
            let e = std::io::Error::last_os_error();
            return Err(if e.kind() == std::io::ErrorKind::WouldBlock {
                DataDirError::InUse(path.to_path_buf())
            } else {
                DataDirError::Io(lock_path, e)
            });
        }
        let meta_path = path.join(META_PROPERTIES);
        let properties = match File::open(&meta_path) {
            Ok(mut f) => {
                let mut text = String::new();
                f.read_to_string(&mut text).map_err(io(&meta_path))?;
                Some(parse_properties(&text))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(DataDirError::Io(meta_path, e)),
        };
        let stored = match properties {
            Some(props) => {
                let found = props
                    .iter()
                    .find(|(k, _)| k == "node.id")
                    .map(|(_, v)| v.clone());
                if let Some(found) = found
                    && found.trim() != node_id.to_string()
                {
                    return Err(DataDirError::OtherNode {
                        path: path.to_path_buf(),
                        found,
                        configured: node_id,
                    });
                }
                props
                    .into_iter()
                    .find(|(k, _)| k == "cluster.id")
                    .map(|(_, v)| v)
            }
            None => None,
        };
        let cluster_id = match stored {
            Some(id) => id,
            None => {
                let id = cluster_id_or_random(new_cluster_id)?;
                let text = format!(
                    "#\n# runnel: this directory belongs to one node of one cluster\nversion=1\nnode.id={node_id}\ncluster.id={id}\n"
                );
                let tmp = path.join("meta.properties.tmp");
                let mut f = File::create(&tmp).map_err(io(&tmp))?;
                f.write_all(text.as_bytes()).map_err(io(&tmp))?;
                f.sync_all().map_err(io(&tmp))?;
                fs::rename(&tmp, &meta_path).map_err(io(&meta_path))?;
                id
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            cluster_id,
            _lock: lock,
        })
    }
}

/// `wanted`, or 16 random bytes from the OS as 22 characters of URL-safe base64 without
/// padding (Kafka's `Uuid.randomUuid().toString()` form).
fn cluster_id_or_random(wanted: Option<String>) -> Result<String, DataDirError> {
    if let Some(id) = wanted {
        return Ok(id);
    }
    let mut bytes = [0u8; 16];
    let random = Path::new("/dev/urandom");
    File::open(random)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| DataDirError::Io(random.to_path_buf(), e))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A cluster id every node of a quorum derives alike from `controller.quorum.voters` (so a
/// cluster's nodes answer Metadata with one id without a format step): 16 bytes of FNV-1a
/// over the voter list, URL-safe base64.
pub fn cluster_id_from_voters(voters: &str) -> String {
    let mut bytes = [0u8; 16];
    for (half, seed) in [
        (0usize, 0xcbf2_9ce4_8422_2325u64),
        (8, 0x6c62_272e_07bb_0142),
    ] {
        let mut hash = seed;
        for b in voters.trim().bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        bytes[half..half + 8].copy_from_slice(&hash.to_be_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `key=value` lines of a Java properties file (comments and blank lines skipped).
fn parse_properties(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("runnel-datadir-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn one_process_one_node_per_directory() {
        let d = dir("lock");
        let first = DataDir::claim(&d, 0, None).expect("first claim");
        assert_eq!(first.cluster_id.len(), 22);
        // flock is per open file description: a second claim, even in this process, fails.
        let second = DataDir::claim(&d, 0, None).expect_err("in use");
        assert!(matches!(second, DataDirError::InUse(_)), "{second}");
        assert!(
            second
                .to_string()
                .contains("in use by another runnel process")
        );
        drop(first);
        let again = DataDir::claim(&d, 0, None).expect("free again");
        let id = again.cluster_id.clone();
        drop(again);
        assert_eq!(
            DataDir::claim(&d, 0, Some("other".into()))
                .expect("reclaim")
                .cluster_id,
            id,
            "the stored cluster id wins"
        );
        let other = DataDir::claim(&d, 1, None).expect_err("another node");
        assert_eq!(
            other.to_string(),
            format!(
                "{}/meta.properties belongs to node.id=0, but this broker is node.id=1: a data directory belongs to one node",
                d.display()
            )
        );
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn voters_give_one_cluster_id() {
        let a = cluster_id_from_voters("0@127.0.0.1:9093,1@127.0.0.1:9095");
        assert_eq!(
            a,
            cluster_id_from_voters(" 0@127.0.0.1:9093,1@127.0.0.1:9095 ")
        );
        assert_ne!(a, cluster_id_from_voters("0@127.0.0.1:9093"));
        assert_eq!(a.len(), 22);
        assert_eq!(
            parse_properties("# c\nversion=1\n node.id = 3 \n"),
            [
                ("version".to_string(), "1".to_string()),
                ("node.id".to_string(), "3".to_string())
            ]
        );
    }
}
