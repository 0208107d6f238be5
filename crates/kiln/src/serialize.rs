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
//! checksum       32 bytes SHA-256 of the payload
//! payload        module:    wasm bytes, artefacts
//!                component: component bytes, artefacts of each core module, then each adapter
//!                           module's wasm bytes and artefacts
//!                cache:     SHA-256 of the wasm bytes, wasm feature bits, artefacts
//! ```
//!
//! The artefacts are what `kiln_cranelift::Compiler::compile_module` returns: code (with builtin
//! relocation sites zeroed), relocations, trap table, function ranges, address map, entry
//! trampoline offsets. The wasm bytes are kept because re-parsing them rebuilds the
//! `ModuleInfo` and memory images much faster than compiling (see docs/benchmarks.md).
//!
//! Every header field must equal this engine's, or loading fails naming the fields that differ.
//! Everything decoded is bounds-checked and the artefacts are checked against the module they
//! claim to be (function count and ranges, offsets inside the code), so truncated or corrupt input
//! is an error. What cannot be checked is the machine code itself: loading a file runs code from
//! it, which is why [`Module::deserialize`] is `unsafe`. The checksum catches accidents, not
//! attacks.
//!
//! This module must not compile anything: it encodes and decodes what the compiler produced.

use crate::component::Component;
use crate::engine::{Config, Engine, OptLevel};
use crate::module::Module;
use anyhow::{Context, Result, anyhow, bail, ensure};
use kiln_cranelift::{CompiledCode, Compiler};
use kiln_environ::{Builtin, ModuleInfo, Trap};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The first bytes of every precompiled file.
const MAGIC: [u8; 8] = *b"\0kilnaot";

/// Bumped whenever the layout below changes.
const FORMAT_VERSION: u32 = 2;

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
            "opt_level={opt_level} guard_pages={} spectre_guards={} consume_fuel={} epoch_interruption={}",
            config.guard_pages, config.spectre_guards, config.consume_fuel, config.epoch_interruption
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

/// Little-endian encoder.
#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn bytes(&mut self, v: &[u8]) {
        self.u64(v.len() as u64);
        self.0.extend_from_slice(v);
    }

    fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }

    /// A collection's length, which decoding bounds by the bytes left.
    fn count(&mut self, n: usize) -> Result<()> {
        self.u32(u32::try_from(n).context("too many entries to serialize")?);
        Ok(())
    }
}

/// Bounds-checked little-endian decoder.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            bail!("truncated: {n} bytes needed at offset {}, {} left", self.pos, self.remaining());
        }
        let bytes = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("take returned N bytes"))
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.u64()?;
        let len = usize::try_from(len).ok().filter(|l| *l <= self.remaining()).ok_or_else(|| {
            anyhow!("truncated: {len} bytes announced at offset {}, {} left", self.pos, self.remaining())
        })?;
        self.take(len)
    }

    fn str(&mut self) -> Result<&'a str> {
        let at = self.pos;
        std::str::from_utf8(self.bytes()?).with_context(|| format!("invalid UTF-8 at offset {at}"))
    }

    /// A collection's length, checked against the bytes left at `min_entry_bytes` each, so a
    /// corrupt count cannot make us allocate without bound.
    fn count(&mut self, min_entry_bytes: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_entry_bytes) > self.remaining() {
            bail!("corrupt count {n} at offset {}: only {} bytes left", self.pos - 4, self.remaining());
        }
        Ok(n)
    }

    fn finish(&self) -> Result<()> {
        ensure!(self.remaining() == 0, "{} unexpected trailing bytes", self.remaining());
        Ok(())
    }
}

/// A whole file: magic, format, kind, this engine's header, then the payload and its checksum.
fn frame(engine: &Engine, kind: Kind, payload: &[u8]) -> Result<Vec<u8>> {
    let mut w = Writer::default();
    w.0.extend_from_slice(&MAGIC);
    w.u32(FORMAT_VERSION);
    w.u8(kind as u8);
    let fields = &engine.inner.compat.fields;
    w.count(fields.len())?;
    for (name, value) in fields {
        w.str(name);
        w.str(value);
    }
    w.u64(payload.len() as u64);
    w.0.extend_from_slice(&Sha256::digest(payload));
    w.0.extend_from_slice(payload);
    Ok(w.0)
}

/// Checks a file's framing and header against `engine` and returns its payload.
fn unframe<'a>(engine: &Engine, expected: Kind, bytes: &'a [u8]) -> Result<&'a [u8]> {
    if !bytes.starts_with(&MAGIC) {
        if bytes.starts_with(b"\0asm") {
            bail!("this is a WebAssembly binary, not {}: compile it instead", expected.describe());
        }
        bail!("not {} (the file does not start with kiln's magic bytes)", expected.describe());
    }
    let mut r = Reader::new(&bytes[MAGIC.len()..]);
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
    let checksum: [u8; 32] = r.array().with_context(corrupt)?;
    if len != r.remaining() as u64 {
        bail!("{}: the payload should be {len} bytes, but {} follow", corrupt(), r.remaining());
    }
    let payload = r.take(r.remaining())?;
    if Sha256::digest(payload).as_slice() != checksum {
        bail!("{}: the payload's checksum does not match", corrupt());
    }
    Ok(payload)
}

fn encode_artifacts(w: &mut Writer, c: &CompiledCode) -> Result<()> {
    w.bytes(&c.code);
    w.count(c.relocs.len())?;
    for (offset, builtin) in &c.relocs {
        w.u32(*offset);
        w.u32(*builtin as u32);
    }
    w.count(c.traps.len())?;
    for (offset, trap) in &c.traps {
        w.u32(*offset);
        w.u8(trap.as_u8());
    }
    w.count(c.functions.len())?;
    for range in &c.functions {
        w.u32(range.start);
        w.u32(range.end);
    }
    w.count(c.address_map.len())?;
    for (code, wasm) in &c.address_map {
        w.u32(*code);
        w.u32(*wasm);
    }
    w.count(c.handlers.len())?;
    for (ret, landing, frame) in &c.handlers {
        w.u32(*ret);
        w.u32(*landing);
        w.u32(*frame);
    }
    w.count(c.stack_maps.len())?;
    for (ret, slots) in &c.stack_maps {
        w.u32(*ret);
        w.count(slots.len())?;
        for slot in slots {
            w.u32(*slot);
        }
    }
    w.count(c.array_to_wasm.len())?;
    for offset in &c.array_to_wasm {
        // u32::MAX cannot be an offset: code is shorter than 4 GiB.
        w.u32(offset.unwrap_or(u32::MAX));
    }
    Ok(())
}

fn decode_artifacts(r: &mut Reader<'_>) -> Result<CompiledCode> {
    let code = r.bytes()?.to_vec();
    let relocs = (0..r.count(8)?)
        .map(|_| {
            let offset = r.u32()?;
            let index = r.u32()?;
            Ok((offset, Builtin::from_u32(index).ok_or_else(|| anyhow!("unknown builtin {index} in a relocation"))?))
        })
        .collect::<Result<_>>()?;
    let traps = (0..r.count(5)?)
        .map(|_| {
            let offset = r.u32()?;
            let code = r.u8()?;
            Ok((offset, Trap::from_u8(code).ok_or_else(|| anyhow!("unknown trap code {code}"))?))
        })
        .collect::<Result<_>>()?;
    let functions = (0..r.count(8)?).map(|_| Ok(r.u32()?..r.u32()?)).collect::<Result<_>>()?;
    let address_map = (0..r.count(8)?).map(|_| Ok((r.u32()?, r.u32()?))).collect::<Result<_>>()?;
    let handlers = (0..r.count(12)?).map(|_| Ok((r.u32()?, r.u32()?, r.u32()?))).collect::<Result<_>>()?;
    let stack_maps = (0..r.count(8)?)
        .map(|_| Ok((r.u32()?, (0..r.count(4)?).map(|_| r.u32()).collect::<Result<_>>()?)))
        .collect::<Result<_>>()?;
    let array_to_wasm =
        (0..r.count(4)?).map(|_| Ok(Some(r.u32()?).filter(|o| *o != u32::MAX))).collect::<Result<_>>()?;
    Ok(CompiledCode {
        code,
        functions,
        array_to_wasm,
        host_trampoline: None,
        traps,
        relocs,
        address_map,
        handlers,
        stack_maps,
    })
}

/// Checks that decoded artefacts fit the module they claim to be compiled from: everything the
/// runtime looks up (functions, trampolines, traps, addresses, relocations) lies inside the code
/// and is sorted as lookups assume.
pub(crate) fn check_artifacts(c: &CompiledCode, info: &ModuleInfo) -> Result<()> {
    let len = u32::try_from(c.code.len()).context("the code is larger than 4 GiB")?;
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
    for (ty, offset) in c.array_to_wasm.iter().enumerate() {
        let offset = offset.ok_or_else(|| anyhow!("type {ty} has no entry trampoline"))?;
        ensure!(offset < len, "type {ty}'s entry trampoline lies outside the code");
    }
    ensure!(c.host_trampoline.is_none(), "a module has no host trampoline");
    ensure!(c.traps.is_sorted_by_key(|(o, _)| *o), "the trap table is not sorted");
    ensure!(c.traps.iter().all(|(o, _)| *o < len), "a trap lies outside the code");
    ensure!(c.address_map.is_sorted_by_key(|(o, _)| *o), "the address map is not sorted");
    ensure!(c.address_map.iter().all(|(o, _)| *o <= len), "the address map reaches outside the code");
    ensure!(c.relocs.iter().all(|(o, _)| u64::from(*o) + 8 <= u64::from(len)), "a relocation lies outside the code");
    ensure!(c.handlers.is_sorted_by_key(|(o, _, _)| *o), "the exception handler table is not sorted");
    ensure!(c.stack_maps.is_sorted_by_key(|(o, _)| *o), "the stack maps are not sorted");
    // The unwinder jumps to landing blocks: each must lie in the function that made the call.
    let same_function =
        |ret: u32, landing: u32| c.functions.iter().any(|f| f.start < ret && ret <= f.end && f.contains(&landing));
    ensure!(
        c.handlers.iter().all(|(ret, landing, _)| same_function(*ret, *landing)),
        "an exception handler lies outside the function that calls"
    );
    Ok(())
}

impl Module {
    /// The compiled artefacts of this module, as the compiler produced them.
    fn artifacts(&self) -> CompiledCode {
        let code = &self.inner.code;
        let base = code.base() as usize;
        let info = code.info();
        CompiledCode {
            code: code.unrelocated_code(),
            functions: info.functions.clone(),
            array_to_wasm: self.inner.array_to_wasm.iter().map(|f| f.map(|f| (f as usize - base) as u32)).collect(),
            host_trampoline: None,
            traps: info.traps.clone(),
            relocs: code.relocs().to_vec(),
            address_map: info.address_map.clone(),
            handlers: info.handlers.clone(),
            stack_maps: info.stack_maps.clone(),
        }
    }

    /// The module in kiln's precompiled format (`.cwasm`), loadable with [`Module::deserialize`]
    /// by an engine with the same kiln build, target and code-generation settings.
    pub fn serialize(&self) -> Result<Vec<u8>> {
        let mut payload = Writer::default();
        payload.bytes(&self.inner.wasm);
        encode_artifacts(&mut payload, &self.artifacts())?;
        frame(&self.inner.engine, Kind::Module, &payload.0)
    }

    /// Loads a module from [`Module::serialize`]'s output without compiling it.
    ///
    /// Fails with an error naming the difference if the file was made by another kiln build or
    /// for other settings, and on truncated or corrupt input.
    ///
    /// # Safety
    ///
    /// The machine code in `bytes` is executed as it is: it cannot be verified. Only load files
    /// produced by kiln (`Module::serialize`, `Engine::precompile_module`, `kiln compile`) that
    /// nobody untrusted could have modified.
    pub unsafe fn deserialize(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        let payload = unframe(engine, Kind::Module, bytes.as_ref())?;
        let mut r = Reader::new(payload);
        let (wasm, compiled) = (|| -> Result<_> {
            let wasm = r.bytes()?;
            let compiled = decode_artifacts(&mut r)?;
            r.finish()?;
            Ok((wasm, compiled))
        })()
        .context("the precompiled module is corrupt")?;
        let features = engine.config().features();
        let info =
            ModuleInfo::parse_with_features(wasm, features).context("the precompiled module's wasm is invalid")?;
        check_artifacts(&compiled, &info).context("the precompiled module's code does not fit its wasm")?;
        Module::from_parts(engine, info, wasm, &compiled)
    }

    /// [`Module::deserialize`] of a file's contents.
    ///
    /// # Safety
    ///
    /// As for [`Module::deserialize`]: the file's machine code runs as it is.
    pub unsafe fn deserialize_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
        // SAFETY: the caller vouches for the file.
        unsafe { Module::deserialize(engine, bytes) }
            .with_context(|| format!("failed to load precompiled module `{}`", path.display()))
    }
}

impl Component {
    /// The component in kiln's precompiled format, loadable with [`Component::deserialize`].
    pub fn serialize(&self) -> Result<Vec<u8>> {
        let inner = &self.inner;
        let mut payload = Writer::default();
        payload.bytes(&inner.wasm);
        payload.count(inner.modules.len())?;
        for module in &inner.modules {
            encode_artifacts(&mut payload, &module.artifacts())?;
        }
        payload.count(inner.adapter_modules.len())?;
        for adapter in &inner.adapter_modules {
            payload.bytes(&adapter.module.inner.wasm);
            encode_artifacts(&mut payload, &adapter.module.artifacts())?;
        }
        frame(&inner.engine, Kind::Component, &payload.0)
    }

    /// Loads a component from [`Component::serialize`]'s output without compiling it.
    ///
    /// # Safety
    ///
    /// As for [`Module::deserialize`]: the machine code in `bytes` runs as it is.
    pub unsafe fn deserialize(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Component> {
        let payload = unframe(engine, Kind::Component, bytes.as_ref())?;
        let mut r = Reader::new(payload);
        type Adapters<'a> = Vec<(&'a [u8], CompiledCode)>;
        let (wasm, modules, adapters) = (|| -> Result<(&[u8], Vec<CompiledCode>, Adapters<'_>)> {
            let wasm = r.bytes()?;
            let modules = (0..r.count(1)?).map(|_| decode_artifacts(&mut r)).collect::<Result<_>>()?;
            let adapters =
                (0..r.count(1)?).map(|_| Ok((r.bytes()?, decode_artifacts(&mut r)?))).collect::<Result<_>>()?;
            r.finish()?;
            Ok((wasm, modules, adapters))
        })()
        .context("the precompiled component is corrupt")?;
        let load = |slot: crate::component::ModuleSlot, binary: &[u8], features| -> Result<Module> {
            let (compiled, what) = match slot {
                crate::component::ModuleSlot::Core(i) => (modules.get(i), format!("core module {i}")),
                crate::component::ModuleSlot::Adapter(i) => {
                    let stored = adapters.get(i).map(|(wasm, _)| *wasm);
                    // Adapter modules are generated again from the component; the code is only
                    // valid for exactly the module it was compiled from.
                    ensure!(stored == Some(binary), "adapter module {i} differs from the one that was compiled");
                    (adapters.get(i).map(|(_, c)| c), format!("adapter module {i}"))
                }
            };
            let compiled = compiled.ok_or_else(|| anyhow!("the precompiled component has no code for {what}"))?;
            let info = ModuleInfo::parse_with_features(binary, features)?;
            check_artifacts(compiled, &info).with_context(|| format!("the code of {what} does not fit its wasm"))?;
            Module::from_parts(engine, info, binary, compiled)
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

    /// [`Component::deserialize`] of a file's contents.
    ///
    /// # Safety
    ///
    /// As for [`Module::deserialize`]: the file's machine code runs as it is.
    pub unsafe fn deserialize_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Component> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
        // SAFETY: the caller vouches for the file.
        unsafe { Component::deserialize(engine, bytes) }
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
/// everything that shapes the code, in hex.
pub(crate) fn cache_key(engine: &Engine, wasm: &[u8], features: wasmparser::WasmFeatures) -> String {
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
    hash.update(Sha256::digest(wasm));
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A compile-cache entry for `wasm` compiled with `features`.
pub(crate) fn encode_cache_entry(
    engine: &Engine,
    wasm: &[u8],
    features: wasmparser::WasmFeatures,
    compiled: &CompiledCode,
) -> Result<Vec<u8>> {
    let mut payload = Writer::default();
    payload.0.extend_from_slice(&Sha256::digest(wasm));
    payload.u64(features.bits());
    encode_artifacts(&mut payload, compiled)?;
    frame(engine, Kind::CacheEntry, &payload.0)
}

/// The artefacts in a compile-cache entry, if it is intact and really for `wasm` and `features`.
pub(crate) fn decode_cache_entry(
    engine: &Engine,
    bytes: &[u8],
    wasm: &[u8],
    features: wasmparser::WasmFeatures,
    info: &ModuleInfo,
) -> Result<CompiledCode> {
    let payload = unframe(engine, Kind::CacheEntry, bytes)?;
    let mut r = Reader::new(payload);
    let wasm_hash: [u8; 32] = r.array()?;
    ensure!(wasm_hash.as_slice() == Sha256::digest(wasm).as_slice(), "the entry is for other wasm bytes");
    ensure!(r.u64()? == features.bits(), "the entry is for other wasm features");
    let compiled = decode_artifacts(&mut r)?;
    r.finish()?;
    check_artifacts(&compiled, info)?;
    Ok(compiled)
}
