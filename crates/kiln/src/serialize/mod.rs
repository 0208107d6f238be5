//! Precompiled code: the `.cwasm` format behind [`Module::serialize`] /
//! [`Module::deserialize`], the same for components, and the entries of the compile cache.
//!
//! A file is a small explicit little-endian encoding (no serde):
//!
//! ```text
//! magic          8 bytes  "\0kilnaot"
//! format         u32      FORMAT_VERSION
//! kind           u8       1 module, 2 component, 3 compile-cache entry
//! header         u32 count, then (name, value) string pairs: kiln version and build id, target,
//!                CPU features, Cranelift flags, kiln's codegen settings, wasm features
//! payload length u64
//! checksum       u64      XXH64 of the payload without its checked blobs (codec.rs)
//! payload        module:    module description, memory images, data, code parts (artifacts.rs)
//!                component: component bytes, the code parts of each core module, then each
//!                           adapter module's wasm bytes and code parts
//!                cache:     SHA-256 of the wasm bytes, wasm feature bits, then as a module
//!                then the trailer: (start, end) u64 file offsets of each checked blob, their
//!                count u32
//! ```
//!
//! Loading a module does not look at its wasm: the `ModuleInfo` is stored (`info.rs`), the
//! memory images are stored as they will be mapped, the trap table, address map and function
//! names are stored in encodings that lookups use where they lie, and the code and memory images
//! sit at page boundaries of the file, so a mapped file ([`Module::deserialize_file`], the
//! compile cache) is published without copying: loading reads the description and the small
//! tables, and the rest of the file is paged in when it is used.
//!
//! Every header field must equal this engine's, or loading fails naming the fields that differ.
//! The payload checksum (XXH64, at memory speed) covers everything but the *checked blobs*
//! (code, the compact tables, the function names), which the payload's trailer lists and which
//! carry the XXH64 of each 64 KiB chunk: a mapped file's chunks are checked when first used (code
//! by the runtime's fault handler, tables by their lookups), a copied file's all at load, so
//! loading reads only what it uses. Everything decoded is bounds-checked and checked against the
//! module it claims to be (indices inside their spaces, function ranges, offsets inside the
//! code), so truncated or corrupt input is an error, or for mapped code and tables a clean stop
//! with a message at first use. What cannot be checked is the machine code itself: loading a file
//! runs code from it, which is why [`Module::deserialize`] is `unsafe`. The checksums catch
//! accidents, not attacks.
//!
//! This module must not compile anything: it encodes and decodes what the compiler produced.

mod artifacts;
mod codec;
mod info;

use crate::component::Component;
use crate::engine::{Config, Engine, OptLevel};
use crate::module::{Module, Parts};
use anyhow::{Context, Result, anyhow, bail, ensure};
use codec::{Reader, Writer};
use kiln_cranelift::Compiler;
use kiln_environ::{ModuleInfo, SharedBytes};
use kiln_runtime::FileMap;
use sha2::{Digest, Sha256};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

pub(crate) use artifacts::{decode_cache_entry, encode_cache_entry};
pub(crate) use codec::check_chunks;

/// The first bytes of every precompiled file.
const MAGIC: [u8; 8] = *b"\0kilnaot";

/// Bumped whenever the layout below, or what compiled code and the runtime expect of each other,
/// changes (6: exception references are in stack maps).
const FORMAT_VERSION: u32 = 6;

/// kiln's version and the hash of the sources that shape generated code (see `build.rs`).
const KILN_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (build ", env!("KILN_BUILD_ID"), ")");

/// What a precompiled file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precompiled {
    /// A core module, from [`Module::serialize`] or [`Engine::precompile_module`].
    Module,
    /// A component, from [`Component::serialize`] or [`Engine::precompile_component`].
    Component,
}

/// The kind byte of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Module = 1,
    Component = 2,
    CacheEntry = 3,
}

impl Kind {
    fn from_u8(byte: u8) -> Option<Kind> {
        [Kind::Module, Kind::Component, Kind::CacheEntry].into_iter().find(|k| *k as u8 == byte)
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Module => "a precompiled module",
            Kind::Component => "a precompiled component",
            Kind::CacheEntry => "a compile-cache entry",
        }
    }
}

/// Everything about an engine that precompiled code must match: the header of every file.
#[derive(Debug, Clone)]
pub(crate) struct CompatHeader {
    fields: Vec<(&'static str, String)>,
}

impl CompatHeader {
    pub(crate) fn new(config: &Config, compiler: &Compiler) -> CompatHeader {
        let isa = compiler.isa();
        // The verifier only checks Cranelift's work; it never changes the code it produces.
        let flags: Vec<String> =
            isa.flags().iter().filter(|v| v.name != "enable_verifier").map(|v| v.to_string()).collect();
        let cpu: Vec<String> = isa.isa_flags().iter().map(|v| v.to_string()).collect();
        let opt_level = match config.opt_level {
            OptLevel::None => "none",
            OptLevel::Speed => "speed",
            OptLevel::SpeedAndSize => "speed_and_size",
        };
        let codegen = format!(
            "opt_level={opt_level} guard_pages={} spectre_guards={} consume_fuel={} epoch_interruption={} \
             relaxed_simd_deterministic={}",
            config.guard_pages,
            config.spectre_guards,
            config.consume_fuel,
            config.epoch_interruption,
            // Chooses how relaxed SIMD operators are lowered, so it is part of the code.
            config.relaxed_simd_deterministic
        );
        let features: Vec<&str> = config.features().iter_names().map(|(name, _)| name).collect();
        CompatHeader {
            fields: vec![
                ("kiln", KILN_VERSION.to_string()),
                ("target", isa.triple().to_string()),
                ("cpu features", cpu.join(" ")),
                ("cranelift flags", flags.join(" ")),
                ("codegen", codegen),
                ("wasm features", features.join(" ")),
            ],
        }
    }

    /// Checks a file's header against this engine's, naming every field that differs.
    fn check(&self, kind: Kind, file: &[(String, String)]) -> Result<()> {
        let field = |name: &str| file.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let mut differences = Vec::new();
        // The kiln version leads the message; list it only when the file does not record it.
        for (name, ours) in self.fields.iter().filter(|(name, _)| *name != "kiln" || field(name).is_none()) {
            match field(name) {
                Some(theirs) if theirs == ours => {}
                Some(theirs) => {
                    let (theirs, ours) = differing_settings(theirs, ours);
                    differences.push(format!("{name}: compiled with `{theirs}`, this engine has `{ours}`"))
                }
                None => differences.push(format!("{name}: not recorded, this engine has `{ours}`")),
            }
        }
        if let Some((name, _)) = file.iter().find(|(n, _)| !self.fields.iter().any(|(ours, _)| ours == n)) {
            differences.push(format!("`{name}`: recorded by the file, unknown to this engine"));
        }
        if differences.is_empty() {
            if field("kiln") == Some(KILN_VERSION) {
                return Ok(());
            }
            differences.push("it was built by a different kiln".to_string());
        }
        bail!(
            "{} compiled by kiln {} does not match this engine (kiln {KILN_VERSION}): {}; recompile it with this \
             engine's settings (for example `kiln compile` with the options you run it with)",
            kind.describe(),
            field("kiln").unwrap_or("<unknown>"),
            differences.join("; ")
        )
    }
}

/// For two lists of `key=value` settings, just the settings that differ (the whole values
/// otherwise).
fn differing_settings(theirs: &str, ours: &str) -> (String, String) {
    let settings = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let (a, b) = (settings(theirs), settings(ours));
    if !a.iter().chain(&b).all(|s| s.contains('=')) {
        return (theirs.to_string(), ours.to_string());
    }
    let only = |x: &[String], y: &[String]| x.iter().filter(|s| !y.contains(s)).cloned().collect::<Vec<_>>().join(" ");
    (only(&a, &b), only(&b, &a))
}

/// Where blobs that are mapped rather than read (code, memory images) start in a file: a page
/// boundary on hosts with 4 KiB pages. On hosts with larger pages such a blob is copied instead.
pub(crate) const BLOB_ALIGN: usize = 4096;

/// A file under construction: the frame with this engine's header, then the payload, whose length
/// and checksum [`Frame::finish`] fills in. Payload positions are file offsets, so blobs can be
/// aligned in the file.
pub(crate) struct Frame {
    pub(crate) w: Writer,
    payload_start: usize,
}

impl Frame {
    pub(crate) fn new(engine: &Engine, kind: Kind) -> Result<Frame> {
        let mut w = Writer::default();
        w.buf.extend_from_slice(&MAGIC);
        w.u32(FORMAT_VERSION);
        w.u8(kind as u8);
        let fields = &engine.inner.compat.fields;
        w.count(fields.len())?;
        for (name, value) in fields {
            w.str(name);
            w.str(value);
        }
        w.u64(0);
        w.u64(0);
        let payload_start = w.buf.len();
        Ok(Frame { w, payload_start })
    }

    /// Appends the trailer (the list of code blobs) and fills in the payload's length and
    /// checksum.
    pub(crate) fn finish(mut self) -> Result<Vec<u8>> {
        let blobs = std::mem::take(&mut self.w.code_blobs);
        for range in &blobs {
            self.w.u64(range.start as u64);
            self.w.u64(range.end as u64);
        }
        self.w.count(blobs.len())?;
        let mut buf = self.w.buf;
        let start = self.payload_start;
        let len = (buf.len() - start) as u64;
        let checksum = codec::payload_checksum(&buf, start..buf.len(), &blobs);
        buf[start - 16..start - 8].copy_from_slice(&len.to_le_bytes());
        buf[start - 8..start].copy_from_slice(&checksum.to_le_bytes());
        Ok(buf)
    }
}

/// Checks a file's framing, header and checksum against `engine` and returns a reader of its
/// payload.
pub(crate) fn unframe<'a>(engine: &Engine, expected: Kind, bytes: &'a [u8]) -> Result<Reader<'a>> {
    let (reader, check) = open_frame(engine, expected, bytes)?;
    check.verify()?;
    Ok(reader)
}

/// A payload's checksum, still to be verified (see [`open_frame`]).
pub(crate) struct PayloadCheck<'a> {
    bytes: &'a [u8],
    payload: Range<usize>,
    code_blobs: Vec<Range<usize>>,
    checksum: u64,
    kind: Kind,
}

impl PayloadCheck<'_> {
    /// Fails if the payload (without its checked blobs) does not match its checksum.
    pub(crate) fn verify(&self) -> Result<()> {
        if codec::payload_checksum(self.bytes, self.payload.clone(), &self.code_blobs) != self.checksum {
            bail!("{} is truncated or corrupt: the payload's checksum does not match", self.kind.describe());
        }
        Ok(())
    }
}

/// Like [`unframe`], but leaves the payload's checksum to the caller, who may start work on the
/// checked blobs (whose own chunk hashes protect them) first. Nothing read before
/// [`PayloadCheck::verify`] succeeds may be trusted.
pub(crate) fn open_frame<'a>(
    engine: &Engine,
    expected: Kind,
    bytes: &'a [u8],
) -> Result<(Reader<'a>, PayloadCheck<'a>)> {
    if !bytes.starts_with(&MAGIC) {
        if bytes.starts_with(b"\0asm") {
            bail!("this is a WebAssembly binary, not {}: compile it instead", expected.describe());
        }
        bail!("not {} (the file does not start with kiln's magic bytes)", expected.describe());
    }
    let mut r = Reader::new(bytes, MAGIC.len());
    let corrupt = || format!("{} is truncated or corrupt", expected.describe());
    let format = r.u32().with_context(corrupt)?;
    if format != FORMAT_VERSION {
        bail!(
            "{} in format version {format}, but this kiln ({KILN_VERSION}) reads version {FORMAT_VERSION}: recompile it",
            expected.describe()
        );
    }
    let kind_byte = r.u8().with_context(corrupt)?;
    let kind = Kind::from_u8(kind_byte).ok_or_else(|| anyhow!("{}: unknown kind {kind_byte}", corrupt()))?;
    if kind != expected {
        bail!("the file is {}, not {}", kind.describe(), expected.describe());
    }
    let header = (|| -> Result<Vec<(String, String)>> {
        let n = r.count(16)?;
        (0..n).map(|_| Ok((r.str()?.to_string(), r.str()?.to_string()))).collect()
    })()
    .with_context(corrupt)?;
    engine.inner.compat.check(kind, &header)?;
    let len = r.u64().with_context(corrupt)?;
    let checksum = r.u64().with_context(corrupt)?;
    if len != r.remaining() as u64 {
        bail!("{}: the payload should be {len} bytes, but {} follow", corrupt(), r.remaining());
    }
    let payload = r.pos..bytes.len();
    let (code_blobs, trailer) = codec::read_trailer(bytes, payload.clone()).with_context(corrupt)?;
    let reader = Reader::payload(bytes, payload.start..trailer, code_blobs.clone());
    Ok((reader, PayloadCheck { bytes, payload, code_blobs, checksum, kind }))
}

/// The checksum a precompiled file records for its payload, which starts at `payload_start` and
/// runs to the end of `file` (its code blobs, listed in the payload's trailer, are left out; a
/// damaged trailer counts as listing none): for tools and tests that edit a file on purpose and
/// must seal it again.
#[doc(hidden)]
pub fn precompiled_checksum(file: &[u8], payload_start: usize) -> u64 {
    let payload = payload_start..file.len();
    let skip = codec::read_trailer(file, payload.clone()).map(|(blobs, _)| blobs).unwrap_or_default();
    codec::payload_checksum(file, payload, &skip)
}

/// The bytes of a precompiled file: mapped when it came from a file (code and memory images are
/// then used where they lie), or a copy of a caller's buffer.
#[derive(Clone)]
pub(crate) struct Source {
    pub(crate) bytes: SharedBytes,
    pub(crate) map: Option<Arc<FileMap>>,
    /// The file, for the message printed if its code turns out to be corrupt when first touched.
    pub(crate) path: Option<std::path::PathBuf>,
}

impl Source {
    pub(crate) fn from_slice(bytes: &[u8]) -> Source {
        Source { bytes: SharedBytes::from_vec(bytes.to_vec()), map: None, path: None }
    }

    /// The message printed if a part of the file turns out to be corrupt when it is first used.
    pub(crate) fn corrupt(&self, what: &str) -> String {
        let file = self.path.as_ref().map_or("a precompiled file".into(), |p| format!("`{}`", p.display()));
        format!("the {what} in {file} is corrupt (the checksum of a chunk does not match): delete or recompile it")
    }

    pub(crate) fn from_file(path: &Path) -> Result<Source> {
        Source::from_open_file(std::fs::File::open(path)?, path)
    }

    /// `file`, mapped, as the contents of `path` (which messages name).
    pub(crate) fn from_open_file(file: std::fs::File, path: &Path) -> Result<Source> {
        let map = Arc::new(FileMap::new(file)?);
        let len = map.bytes().len();
        let bytes = SharedBytes::new(map.clone(), 0..len).expect("the whole mapping");
        Ok(Source { bytes, map: Some(map), path: Some(path.to_path_buf()) })
    }
}

impl Component {
    /// The component in kiln's precompiled format, loadable with [`Component::deserialize`].
    pub fn serialize(&self) -> Result<Vec<u8>> {
        let inner = &self.inner;
        let mut frame = Frame::new(&inner.engine, Kind::Component)?;
        frame.w.bytes(&inner.wasm);
        frame.w.count(inner.modules.len())?;
        for module in &inner.modules {
            artifacts::encode_parts(&mut frame.w, module)?;
        }
        frame.w.count(inner.adapter_modules.len())?;
        for adapter in &inner.adapter_modules {
            // Adapter modules are always compiled from their binary, which `wasm` holds.
            frame.w.bytes(&adapter.module.inner.wasm);
            artifacts::encode_parts(&mut frame.w, &adapter.module)?;
        }
        frame.finish()
    }

    /// Loads a component from [`Component::serialize`]'s output without compiling it.
    ///
    /// # Safety
    ///
    /// As for [`Module::deserialize`]: the machine code in `bytes` runs as it is.
    pub unsafe fn deserialize(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Component> {
        // SAFETY: the caller vouches for the bytes.
        unsafe { Component::load(engine, Source::from_slice(bytes.as_ref())) }
    }

    /// # Safety
    ///
    /// As for [`Module::deserialize`].
    unsafe fn load(engine: &Engine, source: Source) -> Result<Component> {
        let mut r = unframe(engine, Kind::Component, &source.bytes)?;
        type Adapters<'a> = Vec<(&'a [u8], Parts<'a>)>;
        let (wasm, modules, adapters) = (|| -> Result<(&[u8], Vec<Parts<'_>>, Adapters<'_>)> {
            let wasm = r.bytes()?;
            let modules = (0..r.count(1)?).map(|_| artifacts::decode_parts(&mut r, &source)).collect::<Result<_>>()?;
            let adapters = (0..r.count(1)?)
                .map(|_| Ok((r.bytes()?, artifacts::decode_parts(&mut r, &source)?)))
                .collect::<Result<_>>()?;
            r.finish()?;
            Ok((wasm, modules, adapters))
        })()
        .context("the precompiled component is corrupt")?;
        let load = |slot: crate::component::ModuleSlot, binary: &[u8], features| -> Result<Module> {
            let (parts, what) = match slot {
                crate::component::ModuleSlot::Core(i) => (modules.get(i), format!("core module {i}")),
                crate::component::ModuleSlot::Adapter(i) => {
                    let stored = adapters.get(i).map(|(wasm, _)| *wasm);
                    // Adapter modules are generated again from the component; the code is only
                    // valid for exactly the module it was compiled from.
                    ensure!(stored == Some(binary), "adapter module {i} differs from the one that was compiled");
                    (adapters.get(i).map(|(_, c)| c), format!("adapter module {i}"))
                }
            };
            let parts = parts.ok_or_else(|| anyhow!("the precompiled component has no code for {what}"))?.clone();
            let info = ModuleInfo::parse_with_features(binary, features)?;
            artifacts::check_parts(&parts, &info)
                .with_context(|| format!("the code of {what} does not fit its wasm"))?;
            Module::from_binary_parts(engine, info, binary, parts)
        };
        let component = Component::build(engine, wasm, &load)?;
        ensure!(
            component.inner.modules.len() == modules.len() && component.inner.adapter_modules.len() == adapters.len(),
            "the precompiled component has code for {} core and {} adapter modules, the component has {} and {}",
            modules.len(),
            adapters.len(),
            component.inner.modules.len(),
            component.inner.adapter_modules.len()
        );
        Ok(component)
    }

    /// [`Component::deserialize`] of a file, which is mapped rather than read: its code is used
    /// where it lies.
    ///
    /// # Safety
    ///
    /// As for [`Module::deserialize`]: the file's machine code runs as it is, and the file must
    /// not be modified while the component is alive (see [`Module::deserialize_file`]).
    pub unsafe fn deserialize_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Component> {
        let path = path.as_ref();
        let source = Source::from_file(path).with_context(|| format!("failed to read `{}`", path.display()))?;
        // SAFETY: the caller vouches for the file.
        unsafe { Component::load(engine, source) }
            .with_context(|| format!("failed to load precompiled component `{}`", path.display()))
    }
}

impl Engine {
    /// Compiles a module (binary or text) into kiln's precompiled format, as
    /// [`Module::serialize`] does.
    pub fn precompile_module(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        Module::new(self, bytes)?.serialize()
    }

    /// Compiles a component (binary or text) into kiln's precompiled format, as
    /// [`Component::serialize`] does.
    pub fn precompile_component(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        Component::new(self, bytes)?.serialize()
    }

    /// Whether `bytes` look like a precompiled module or component (by magic and kind only; the
    /// rest is checked when loading).
    pub fn detect_precompiled(bytes: &[u8]) -> Option<Precompiled> {
        if !bytes.starts_with(&MAGIC) {
            return None;
        }
        match bytes.get(MAGIC.len() + 4).copied().and_then(Kind::from_u8)? {
            Kind::Module => Some(Precompiled::Module),
            Kind::Component => Some(Precompiled::Component),
            Kind::CacheEntry => None,
        }
    }
}

/// The compile-cache key of `wasm` compiled with `features` by `engine`: a SHA-256 over
/// everything that shapes the code, in hex, and the SHA-256 of `wasm` alone (recorded in the
/// entry, so a hit is known to be for exactly these bytes).
pub(crate) fn cache_key(engine: &Engine, wasm: &[u8], features: wasmparser::WasmFeatures) -> (String, [u8; 32]) {
    let wasm_hash: [u8; 32] = Sha256::digest(wasm).into();
    let mut hash = Sha256::new();
    hash.update(MAGIC);
    hash.update(FORMAT_VERSION.to_le_bytes());
    for (name, value) in &engine.inner.compat.fields {
        for part in [name.as_bytes(), value.as_bytes()] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
    }
    hash.update(features.bits().to_le_bytes());
    hash.update(wasm_hash);
    (hash.finalize().iter().map(|b| format!("{b:02x}")).collect(), wasm_hash)
}
