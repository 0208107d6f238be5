//! A module's payload in the precompiled format: its description, memory images and data, and
//! the code parts (code and the tables the runtime looks things up in), and [`Module`]'s
//! `serialize` / `deserialize`.
//!
//! ```text
//! module payload  info (info.rs; data segments index into the data below)
//!                 data_in_image: u32 count, a bool per data segment
//!                 images: u32 count, per defined memory a bool and, if set, the image (page-aligned)
//!                 data: the bytes of the segments not in an image
//!                 code parts
//! code parts      relocations, function ranges, entry trampolines, stack maps, then checked
//!                 blobs (the XXH64 of each 64 KiB chunk, then the bytes: see codec.rs): the
//!                 exception handlers' landing blocks and frames, the trap table and the address
//!                 map (CompactMap encodings), and the code (page-aligned)
//! ```

use super::codec::{Reader, Writer};
use super::{BLOB_ALIGN, Frame, Kind, PayloadCheck, Source, open_frame};
use crate::engine::Engine;
use crate::module::{CodeSource, MemoryImages, Module, Parts};
use anyhow::{Context, Result, anyhow, ensure};
use kiln_environ::{Builtin, ModuleInfo, SharedBytes};
use kiln_runtime::{CompactMap, HandlerTable, MemoryImage, StackMaps};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// Writes `module`'s code parts.
pub(crate) fn encode_parts(w: &mut Writer, module: &Module) -> Result<()> {
    let code = &module.inner.code;
    let info = code.info();
    let base = code.base() as usize;
    w.count(code.relocs().len())?;
    for (offset, builtin) in code.relocs() {
        w.u32(*offset);
        w.u32(*builtin as u32);
    }
    w.count(info.functions.len())?;
    for range in &info.functions {
        w.u32(range.start);
        w.u32(range.end);
    }
    w.count(module.inner.array_to_wasm.len())?;
    for f in &module.inner.array_to_wasm {
        // u32::MAX cannot be an offset: code is shorter than 4 GiB.
        w.u32(f.map_or(u32::MAX, |f| (f as usize - base) as u32));
    }
    let (stack_map_index, stack_map_lists) = info.stack_maps.as_bytes();
    w.checked_blob(stack_map_index, 1)?;
    w.checked_blob(stack_map_lists, 1)?;
    w.checked_blob(info.handlers.landings.as_bytes(), 1)?;
    w.checked_blob(info.handlers.frames.as_bytes(), 1)?;
    w.checked_blob(info.traps.as_bytes(), 1)?;
    w.checked_blob(info.address_map.as_bytes(), 1)?;
    w.checked_blob(&code.unrelocated_code(), BLOB_ALIGN)
}

/// Reads code parts; the tables and the code stay in `source`.
pub(crate) fn decode_parts<'a>(r: &mut Reader<'a>, source: &Source) -> Result<Parts<'a>> {
    let relocs = (0..r.count(8)?)
        .map(|_| {
            let offset = r.u32()?;
            let index = r.u32()?;
            Ok((offset, Builtin::from_u32(index).ok_or_else(|| anyhow!("unknown builtin {index} in a relocation"))?))
        })
        .collect::<Result<_>>()?;
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().expect("4 bytes"));
    let count = r.count(8)?;
    let bytes = r.take(8 * count)?;
    let functions = (0..count).map(|i| u32_at(bytes, 2 * i)..u32_at(bytes, 2 * i + 1)).collect();
    let count = r.count(4)?;
    let bytes = r.take(4 * count)?;
    let array_to_wasm = (0..count).map(|i| Some(u32_at(bytes, i)).filter(|o| *o != u32::MAX)).collect();
    let stack_maps =
        StackMaps::from_bytes(read_checked(r, source, "stack map index")?, read_checked(r, source, "stack maps")?)
            .context("the stack maps")?;
    let table = |r: &mut Reader<'a>, what| CompactMap::from_bytes(read_checked(r, source, what)?).context(what);
    let handlers =
        HandlerTable::from_maps(table(r, "exception handler table")?, table(r, "exception handler frame table")?);
    let traps = CompactMap::from_bytes(read_checked(r, source, "trap table")?).context("the trap table")?;
    let address_map = CompactMap::from_bytes(read_checked(r, source, "address map")?).context("the address map")?;
    let (hashes, range) = r.checked_blob(BLOB_ALIGN)?;
    let hashes = source.bytes.slice(hashes).expect("a range of the file");
    let code = match &source.map {
        Some(map) => CodeSource::File { map: map.clone(), range, what: source.corrupt("machine code") },
        None => CodeSource::Bytes(&r.data[range]),
    };
    Ok(Parts { code, hashes: Some(hashes), relocs, functions, array_to_wasm, traps, address_map, handlers, stack_maps })
}

/// The check of a module's memory images against their chunk hashes. Images are most of a large
/// module's file (CPython's is 11 MB), so a large one is checked on another thread while the rest
/// of the module loads; it must pass before the module is returned.
enum ImageCheck {
    Done(Result<()>),
    Running(std::thread::JoinHandle<Result<()>>),
}

impl ImageCheck {
    /// Images smaller than this in total are checked at once: a thread costs more.
    const THREAD_MIN: usize = 2 << 20;

    /// Starts checking the blobs `(hashes, bytes)` of `file`.
    fn start(file: &SharedBytes, blobs: Vec<(Range<usize>, Range<usize>)>) -> ImageCheck {
        let check = |file: &SharedBytes, blobs: &[(Range<usize>, Range<usize>)]| -> Result<()> {
            for (hashes, bytes) in blobs {
                super::codec::check_chunks(&file[bytes.clone()], &file[hashes.clone()])
                    .context("a memory image (the module's initial memory contents) is corrupt")?;
            }
            Ok(())
        };
        if blobs.iter().map(|(_, b)| b.len()).sum::<usize>() < Self::THREAD_MIN {
            return ImageCheck::Done(check(file, &blobs));
        }
        let (shared, moved) = (file.clone(), blobs.clone());
        let spawned = std::thread::Builder::new().name("kiln-image-check".into()).spawn(move || check(&shared, &moved));
        match spawned {
            Ok(handle) => ImageCheck::Running(handle),
            // No thread to be had: check here instead.
            Err(_) => ImageCheck::Done(check(file, &blobs)),
        }
    }

    /// Waits for the check's result.
    fn finish(self) -> Result<()> {
        match self {
            ImageCheck::Done(result) => result,
            ImageCheck::Running(handle) => {
                handle.join().unwrap_or_else(|_| Err(anyhow!("the memory image check panicked")))
            }
        }
    }
}

/// A blob written by `Writer::checked_blob`, checked against its chunk hashes as it is first
/// read when it lies in a mapped file, and right away otherwise.
pub(crate) fn read_checked(r: &mut Reader<'_>, source: &Source, what: &str) -> Result<SharedBytes> {
    let (hashes, range) = r.checked_blob(1)?;
    let hashes = source.bytes.slice(hashes).expect("a range of the file");
    if source.map.is_none() {
        super::codec::check_chunks(&source.bytes[range.clone()], &hashes)
            .with_context(|| format!("the {what} is corrupt"))?;
        return Ok(source.bytes.slice(range).expect("a range of the file"));
    }
    source.bytes.slice(range).expect("a range of the file").checked_by(hashes, source.corrupt(what))
}

/// Checks that code parts fit the module they claim to be compiled from: everything the runtime
/// looks up (functions, trampolines, traps, addresses, relocations, handlers) lies inside the code
/// and is sorted as lookups assume. Linear in the functions and stack maps; the compact tables
/// (traps, address map, handlers) are checked by their header and last entry, checked against
/// their chunk hashes as lookups read them, and their lookups stay inside the tables whatever the
/// entries say.
pub(crate) fn check_parts(c: &Parts<'_>, info: &ModuleInfo) -> Result<()> {
    let len = match &c.code {
        CodeSource::Bytes(code) => code.len(),
        CodeSource::File { range, .. } => range.len(),
    };
    let len = u32::try_from(len).context("the code is larger than 4 GiB")?;
    ensure!(
        c.functions.len() == info.num_defined_funcs() as usize,
        "the code has {} functions, the module defines {}",
        c.functions.len(),
        info.num_defined_funcs()
    );
    let mut end = 0;
    for (i, range) in c.functions.iter().enumerate() {
        ensure!(
            range.start >= end && range.start <= range.end && range.end <= len,
            "function {i}'s code range {range:?} is out of order or outside the code ({len} bytes)"
        );
        end = range.end;
    }
    ensure!(
        c.array_to_wasm.len() == info.types.len(),
        "the code has {} entry trampolines, the module has {} types",
        c.array_to_wasm.len(),
        info.types.len()
    );
    // Function types have an entry trampoline; struct and array types have none.
    for (ty, offset) in c.array_to_wasm.iter().enumerate() {
        match (offset, info.types[ty].as_func().is_some()) {
            (Some(offset), true) => ensure!(*offset < len, "type {ty}'s entry trampoline lies outside the code"),
            (None, false) => {}
            (None, true) => anyhow::bail!("type {ty} has no entry trampoline"),
            (Some(_), false) => anyhow::bail!("type {ty} is not a function type but has an entry trampoline"),
        }
    }
    ensure!(c.traps.last_key().is_none_or(|o| o < len), "a trap lies outside the code");
    ensure!(c.address_map.last_key().is_none_or(|o| o <= len), "the address map reaches outside the code");
    ensure!(c.relocs.iter().all(|(o, _)| u64::from(*o) + 8 <= u64::from(len)), "a relocation lies outside the code");
    ensure!(c.stack_maps.last_key().is_none_or(|o| o <= len), "a stack map lies outside the code");
    ensure!(
        c.handlers.len() == c.handlers.frames.len() && c.handlers.landings.last_key().is_none_or(|o| o <= len),
        "the exception handler table does not fit the code"
    );
    // That each landing block lies in the function that made the call is checked when the
    // unwinder looks it up (`CodeInfo::handler_at`): checking it here would read the whole table.
    Ok(())
}

/// Writes a module payload: description, images, data and code parts.
fn encode_module(w: &mut Writer, module: &Module) -> Result<()> {
    let inner = &module.inner;
    let info = &inner.info;
    // Segments in an image are never read again (instantiation maps the image and drops them):
    // only the others' bytes are stored.
    let mut data = Vec::new();
    let mut ranges = Vec::with_capacity(info.data.len());
    for (i, segment) in info.data.iter().enumerate() {
        if inner.data_in_image.get(i).copied().unwrap_or(false) {
            ranges.push(0..0);
        } else {
            let start = data.len();
            data.extend_from_slice(&inner.wasm[segment.data.clone()]);
            ranges.push(start..data.len());
        }
    }
    // The images come first, so that loading can start checking them before anything else.
    w.count(inner.memory_images.len())?;
    for image in inner.memory_images.iter() {
        w.bool(image.is_some());
        if let Some(image) = image {
            w.checked_blob(&image.contents().context("failed to read a memory image")?, BLOB_ALIGN)?;
        }
    }
    super::info::encode(w, info, &ranges)?;
    w.count(inner.data_in_image.len())?;
    inner.data_in_image.iter().for_each(|b| w.bool(*b));
    w.bytes(&data);
    encode_parts(w, module)
}

/// Reads a module payload starting at `r`'s position and builds the module. `payload` is the
/// frame's checksum, verified here once the memory images' check has started.
///
/// # Safety
///
/// As for [`Module::deserialize`]: the code is run as it is.
unsafe fn decode_module(
    engine: &Engine,
    r: &mut Reader<'_>,
    source: &Source,
    payload: &PayloadCheck<'_>,
) -> Result<Module> {
    let images = match read_images(r, source) {
        Ok(images) => images,
        // Damage is reported as such rather than as whatever it made the images look like.
        Err(e) => {
            payload.verify()?;
            return Err(e);
        }
    };
    payload.verify()?;
    let (images, image_check) = images;
    let info_start = r.pos;
    // The data segments' ranges are checked against the rest of the file here, and against the
    // data (stored after the info) below.
    let info = super::info::decode(
        r,
        |r: &mut Reader<'_>| read_checked(r, source, "function name table"),
        source.bytes.len() - info_start,
    )?;
    let defined_memories = info.memories.len() - info.num_imported_memories as usize;
    ensure!(images.len() == defined_memories, "{} memory images for {defined_memories} defined memories", images.len());
    let count = r.count(1)?;
    ensure!(count == info.data.len(), "{count} image flags for {} data segments", info.data.len());
    let data_in_image = (0..count).map(|_| r.bool()).collect::<Result<Vec<_>>>()?;
    let data = r.bytes()?;
    ensure!(info.data.iter().all(|d| d.data.end <= data.len()), "a data segment lies outside the data");
    let parts = decode_parts(r, source)?;
    check_parts(&parts, &info).context("the code does not fit the module")?;
    image_check.finish()?;
    Module::from_parts(engine, info, data.into(), parts, images, data_in_image)
}

/// Reads the memory images (mapped from the file where they are page-aligned in it) and starts
/// checking them.
fn read_images(r: &mut Reader<'_>, source: &Source) -> Result<(MemoryImages, ImageCheck)> {
    let count = r.count(1)?;
    let mut images: MemoryImages = Vec::with_capacity(count);
    let mut blobs = Vec::with_capacity(count);
    for _ in 0..count {
        if !r.bool()? {
            images.push(None);
            continue;
        }
        let (hashes, range) = r.checked_blob(BLOB_ALIGN)?;
        blobs.push((hashes, range.clone()));
        let page = kiln_runtime::mmap::page_size();
        let image = match &source.map {
            Some(map) if range.start.is_multiple_of(page) && range.len().is_multiple_of(page) => {
                MemoryImage::from_file(map.file().clone(), range.start as u64, range.len())?
            }
            _ => MemoryImage::new(&source.bytes[range])?,
        };
        images.push(Some(Arc::new(image)));
    }
    Ok((images, ImageCheck::start(&source.bytes, blobs)))
}

impl Module {
    /// The module in kiln's precompiled format (`.cwasm`), loadable with [`Module::deserialize`]
    /// by an engine with the same kiln build, target and code-generation settings.
    pub fn serialize(&self) -> Result<Vec<u8>> {
        let mut frame = Frame::new(&self.inner.engine, Kind::Module)?;
        encode_module(&mut frame.w, self)?;
        frame.finish()
    }

    /// Loads a module from [`Module::serialize`]'s output without compiling it.
    ///
    /// Fails with an error naming the difference if the file was made by another kiln build or
    /// for other settings, and on truncated or corrupt input. The bytes are copied;
    /// [`Module::deserialize_file`] maps a file instead.
    ///
    /// # Safety
    ///
    /// The machine code in `bytes` is executed as it is: it cannot be verified. Only load files
    /// produced by kiln (`Module::serialize`, `Engine::precompile_module`, `kiln compile`) that
    /// nobody untrusted could have modified.
    pub unsafe fn deserialize(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        // SAFETY: the caller vouches for the bytes.
        unsafe { Module::load(engine, Source::from_slice(bytes.as_ref())) }
    }

    /// # Safety
    ///
    /// As for [`Module::deserialize`].
    unsafe fn load(engine: &Engine, source: Source) -> Result<Module> {
        let (mut r, payload) = open_frame(engine, Kind::Module, &source.bytes)?;
        // SAFETY: the caller vouches for the code.
        let module = unsafe { decode_module(engine, &mut r, &source, &payload) };
        module.and_then(|m| r.finish().map(|()| m)).context("the precompiled module is corrupt")
    }

    /// Loads a precompiled module from a file without compiling it. The file is mapped, not read:
    /// its code and memory images are used where they lie and paged in when touched.
    ///
    /// # Safety
    ///
    /// As for [`Module::deserialize`]: the file's machine code runs as it is. In addition, the
    /// file must not be modified in place while the module is alive (replacing it by renaming
    /// another file over it is fine; `kiln compile` and the compile cache do that).
    pub unsafe fn deserialize_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let source = Source::from_file(path).with_context(|| format!("failed to read `{}`", path.display()))?;
        // SAFETY: the caller vouches for the file.
        unsafe { Module::load(engine, source) }
            .with_context(|| format!("failed to load precompiled module `{}`", path.display()))
    }
}

/// A compile-cache entry for the module compiled from the wasm whose SHA-256 is `wasm_hash`.
pub(crate) fn encode_cache_entry(
    engine: &Engine,
    wasm_hash: &[u8; 32],
    features: wasmparser::WasmFeatures,
    module: &Module,
) -> Result<Vec<u8>> {
    let mut frame = Frame::new(engine, Kind::CacheEntry)?;
    frame.w.buf.extend_from_slice(wasm_hash);
    frame.w.u64(features.bits());
    encode_module(&mut frame.w, module)?;
    frame.finish()
}

/// The module in a (mapped) compile-cache entry, if it is intact and really for the wasm whose
/// SHA-256 is `wasm_hash` and for `features`.
///
/// # Safety
///
/// As for [`Module::deserialize`]: the entry's code runs as it is.
pub(crate) unsafe fn decode_cache_entry(
    engine: &Engine,
    path: &Path,
    wasm_hash: &[u8; 32],
    features: wasmparser::WasmFeatures,
) -> Result<Module> {
    let source = Source::from_open_file(crate::cache::open_entry(path)?, path)?;
    let (mut r, payload) = open_frame(engine, Kind::CacheEntry, &source.bytes)?;
    // Read before the payload is verified (by `decode_module`), and so only trusted after it.
    let (entry_hash, entry_features) = (r.array::<32>()?, r.u64()?);
    // SAFETY: the caller vouches for the cache directory.
    let module = unsafe { decode_module(engine, &mut r, &source, &payload)? };
    ensure!(&entry_hash == wasm_hash, "the entry is for other wasm bytes");
    ensure!(entry_features == features.bits(), "the entry is for other wasm features");
    r.finish()?;
    Ok(module)
}
