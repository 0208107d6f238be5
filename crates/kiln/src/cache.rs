//! The on-disk compile cache: compiled code of each module, keyed by a SHA-256 of its wasm bytes,
//! kiln's build, the target and every code-generation setting (`serialize::cache_key`).
//!
//! Off by default in the library ([`Config::cache`]); the `kiln` CLI turns it on. An entry is a
//! file `<key>.kcache` in the cache directory, in the precompiled format (`serialize/`), written
//! to a temporary file and renamed into place, so readers never see half an entry. An entry that
//! cannot be read, decoded or checked is counted as corrupt and replaced by a fresh compile: the
//! cache never turns a compile into an error. Nothing is ever evicted.
//!
//! Entries are compressed with zstd by default ([`Config::cache_compression`]): compiled code
//! compresses about 4x, which keeps a cache of large modules small on disk. A compressed entry
//! is decompressed into a sealed memfd and mapped from there, so it loads like an uncompressed
//! one (code used where it lies, checked chunk by chunk as it is first run), at the price of the
//! decompression (about 1 GB/s) and of holding the whole entry in memory.
//!
//! This module must not decide what code is compatible (the key and the header do) and must
//! never fail a compile because of the cache.

use crate::engine::{Config, Engine};
use crate::module::Module;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The zstd level of compile-cache entries unless [`Config::cache_compression`] says otherwise.
pub const DEFAULT_COMPRESSION: i32 = 3;

/// The first bytes of a zstd frame: a compressed entry (an uncompressed one starts with kiln's
/// own magic).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Counts of what the compile cache did for an engine (see [`Engine::cache_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Modules whose code was loaded from the cache.
    pub hits: u64,
    /// Modules compiled because the cache had no usable entry (including corrupt ones).
    pub misses: u64,
    /// Entries that existed but could not be used (truncated, corrupt, unreadable) and were
    /// replaced.
    pub corrupt_entries: u64,
    /// Entries that could not be written (the compile itself succeeded).
    pub write_errors: u64,
}

#[derive(Debug, Default)]
pub(crate) struct CacheCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    corrupt_entries: AtomicU64,
    write_errors: AtomicU64,
}

impl Config {
    /// Turns the on-disk compile cache on, storing entries in `dir` (created when needed), or off
    /// (`None`, the default). [`Config::default_cache_dir`] is the conventional place.
    ///
    /// Loading an entry runs the machine code in it, as [`crate::Module::deserialize`] does: the
    /// directory must not be writable by anyone you would not let run code as you. Its checksums
    /// catch accidents, not attacks.
    pub fn cache(&mut self, dir: Option<PathBuf>) -> &mut Self {
        self.cache_dir = dir;
        self
    }

    /// Compresses new compile-cache entries with zstd at `level` (1-22; the default is
    /// 3), or stores them uncompressed (`None`). Uncompressed entries are
    /// about 4x larger on disk and load faster: they are mapped, and only the pages used are read.
    /// Either kind of entry is read whatever this setting.
    pub fn cache_compression(&mut self, level: Option<i32>) -> &mut Self {
        self.cache_compression = level;
        self
    }

    /// The directory the `kiln` CLI caches compiled code in: `$KILN_CACHE_DIR` if set, else
    /// `$XDG_CACHE_HOME/kiln`, else `$HOME/.cache/kiln`; `None` if none of these is set.
    pub fn default_cache_dir() -> Option<PathBuf> {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        var("KILN_CACHE_DIR")
            .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("kiln")))
            .or_else(|| var("HOME").map(|d| d.join(".cache").join("kiln")))
    }
}

impl Engine {
    /// What the compile cache has done for modules compiled by this engine so far.
    pub fn cache_stats(&self) -> CacheStats {
        let c = &self.inner.cache_counters;
        CacheStats {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            corrupt_entries: c.corrupt_entries.load(Ordering::Relaxed),
            write_errors: c.write_errors.load(Ordering::Relaxed),
        }
    }
}

/// Where the compilation of some wasm bytes with some features lives in the cache, and the
/// SHA-256 of those bytes (recorded in the entry).
pub(crate) struct Key {
    path: PathBuf,
    wasm_hash: [u8; 32],
    features: wasmparser::WasmFeatures,
}

impl Key {
    /// The key of `wasm` compiled with `features`, if the engine has a cache (the bytes are only
    /// hashed then).
    pub(crate) fn new(engine: &Engine, wasm: &[u8], features: wasmparser::WasmFeatures) -> Option<Key> {
        let dir = engine.config().cache_dir.as_ref()?;
        let (key, wasm_hash) = crate::serialize::cache_key(engine, wasm, features);
        Some(Key { path: dir.join(format!("{key}.kcache")), wasm_hash, features })
    }
}

/// The cached compilation for `key`, if the cache holds a usable entry. The entry is mapped, so
/// its code and memory images are used where they lie.
///
/// A hit skips validation: the entry records the SHA-256 of the exact bytes it was compiled
/// from, and entries are only written after those bytes validated with the same features and
/// the same kiln build (both part of the key).
pub(crate) fn lookup(engine: &Engine, key: &Key) -> Option<Module> {
    let counters = &engine.inner.cache_counters;
    if let Err(e) = std::fs::metadata(&key.path)
        && e.kind() == std::io::ErrorKind::NotFound
    {
        counters.misses.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    // SAFETY: entries are kiln's own output, and the directory is trusted (see `Config::cache`).
    match unsafe { crate::serialize::decode_cache_entry(engine, &key.path, &key.wasm_hash, key.features) } {
        Ok(hit) => {
            counters.hits.fetch_add(1, Ordering::Relaxed);
            Some(hit)
        }
        Err(_) => {
            counters.corrupt_entries.fetch_add(1, Ordering::Relaxed);
            counters.misses.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// Stores `module`, just compiled for `key`, in the engine's cache. A failure only counts in
/// [`CacheStats::write_errors`]: the compile itself succeeded.
pub(crate) fn store(engine: &Engine, key: &Key, module: &Module) {
    let stored = crate::serialize::encode_cache_entry(engine, &key.wasm_hash, key.features, module)
        .and_then(|entry| match engine.config().cache_compression {
            Some(level) => compress(&entry, level),
            None => Ok(entry),
        })
        .and_then(|entry| Ok(write_atomically(&key.path, &entry)?));
    if stored.is_err() {
        engine.inner.cache_counters.write_errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// Bytes of an entry per zstd frame. Frames are independent, so they are compressed and
/// decompressed in parallel; at this size that costs under 1% of the compression.
const FRAME: usize = 4 << 20;

/// `entry` as a sequence of zstd frames of [`FRAME`] bytes each (a valid zstd stream), each
/// recording its size and a checksum of its contents.
fn compress(entry: &[u8], level: i32) -> anyhow::Result<Vec<u8>> {
    use rayon::prelude::*;
    let frames = entry
        .par_chunks(FRAME)
        .map(|chunk| {
            let mut compressor = zstd::bulk::Compressor::new(level)?;
            compressor.include_checksum(true)?;
            compressor.include_contentsize(true)?;
            Ok(compressor.compress(chunk)?)
        })
        .collect::<anyhow::Result<Vec<Vec<u8>>>>()?;
    Ok(frames.concat())
}

/// The entry at `path` as a file that can be mapped: the file itself, or, for a compressed
/// entry, a memfd its frames were decompressed into (in parallel).
pub(crate) fn open_entry(path: &Path) -> anyhow::Result<std::fs::File> {
    use anyhow::Context;
    use rayon::prelude::*;
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path)?;
    let mut magic = [0u8; 4];
    if file.read_exact_at(&mut magic, 0).is_err() || magic != ZSTD_MAGIC {
        return Ok(file);
    }
    let compressed = std::fs::read(path)?;
    // Each frame's compressed and decompressed size, from the frame headers and block headers.
    let mut frames = Vec::new();
    let (mut at, mut len) = (0usize, 0u64);
    while at < compressed.len() {
        let rest = &compressed[at..];
        let size = zstd::zstd_safe::find_frame_compressed_size(rest)
            .map_err(|_| anyhow::anyhow!("a damaged frame at {at} of a compressed cache entry"))?;
        let content = zstd::zstd_safe::get_frame_content_size(rest)
            .ok()
            .flatten()
            .context("a frame of a compressed cache entry does not record its size")?;
        anyhow::ensure!(size > 0 && content <= 2 * FRAME as u64, "a damaged frame at {at} of a compressed cache entry");
        frames.push((at..at + size, content as usize));
        at += size;
        len += content;
    }
    kiln_runtime::image::filled_memfd("kiln-cache-entry", usize::try_from(len)?, |mut buffer| {
        let mut work = Vec::with_capacity(frames.len());
        for (source, content) in &frames {
            let (dest, rest) = std::mem::take(&mut buffer).split_at_mut(*content);
            work.push((&compressed[source.clone()], dest));
            buffer = rest;
        }
        work.into_par_iter().try_for_each(|(source, dest)| {
            let written = zstd::bulk::decompress_to_buffer(source, dest)?;
            anyhow::ensure!(written == dest.len(), "a frame of a compressed cache entry is shorter than it says");
            Ok(())
        })
    })
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so
/// concurrent readers see the old file, the new one, or none, never a partial one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().ok_or_else(|| std::io::Error::other("cache entry path has no directory"))?;
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), NEXT_TEMP.fetch_add(1, Ordering::Relaxed)));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
