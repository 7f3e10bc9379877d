//! The machine's own ceilings, measured in the same run: loopback TCP bandwidth and sequential
//! disk writes with and without fsync.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Bytes per second the machine manages on its own.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Ceilings {
    /// One TCP connection on 127.0.0.1, 1 MiB writes, MB/s.
    pub loopback_mb_per_s: f64,
    /// Sequential 1 MiB writes to a file, no fsync (the page cache), MB/s.
    pub disk_write_mb_per_s: f64,
    /// The same with one fdatasync at the end, counted in the time, MB/s.
    pub disk_write_fsync_mb_per_s: f64,
}

/// Measures all three, each the best of two tries; the disk file goes in `dir` and is
/// removed.
pub fn measure(dir: &Path, seconds: f64) -> Result<Ceilings, String> {
    let best = |f: &dyn Fn() -> Result<f64, String>| -> Result<f64, String> { Ok(f()?.max(f()?)) };
    Ok(Ceilings {
        loopback_mb_per_s: best(&|| loopback(seconds / 2.0))?,
        disk_write_fsync_mb_per_s: best(&|| disk(dir, 1 << 30, true))?,
        disk_write_mb_per_s: best(&|| disk(dir, 1 << 30, false))?,
    })
}

fn loopback(seconds: f64) -> Result<f64, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let reader = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut s, _) = listener.accept()?;
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
        }
    });
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let buf = vec![7u8; 1 << 20];
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs_f64(seconds) {
        s.write_all(&buf).map_err(|e| e.to_string())?;
    }
    drop(s);
    let total = reader
        .join()
        .map_err(|_| "reader panicked")?
        .map_err(|e| e.to_string())?;
    Ok(total as f64 / start.elapsed().as_secs_f64() / 1e6)
}

fn disk(dir: &Path, bytes: usize, fsync: bool) -> Result<f64, String> {
    let path = dir.join("ceiling.bin");
    let buf = vec![7u8; 1 << 20];
    let start = Instant::now();
    let mut f = std::fs::File::create(&path).map_err(|e| e.to_string())?;
    for _ in 0..bytes / buf.len() {
        f.write_all(&buf).map_err(|e| e.to_string())?;
    }
    if fsync {
        f.sync_data().map_err(|e| e.to_string())?;
    }
    let elapsed = start.elapsed();
    drop(f);
    let _ = std::fs::remove_file(&path);
    Ok(bytes as f64 / elapsed.as_secs_f64() / 1e6)
}
