//! The little-endian encoder and bounds-checked decoder behind the precompiled format.

use anyhow::{Context, Result, anyhow, bail, ensure};
use kiln_environ::xxh64;
pub(crate) use kiln_runtime::code::CHUNK;
use std::ops::Range;

/// The smallest blob [`Writer::aligned_bytes`] aligns.
pub(crate) const ALIGN_MIN: usize = 16 * 1024;

/// Little-endian encoder. Positions are absolute file offsets (`base` is where the buffer starts
/// in the file), so [`Writer::aligned_bytes`] can place a blob at a page boundary of the file.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
    /// The checked blobs written so far: they are covered by their chunk hashes, not by the
    /// file's checksum (see `Frame`).
    pub(crate) code_blobs: Vec<Range<usize>>,
}

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub(crate) fn bool(&mut self, v: bool) {
        self.u8(v as u8);
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.u64(v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    pub(crate) fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }

    /// A collection's length, which decoding bounds by the bytes left.
    pub(crate) fn count(&mut self, n: usize) -> Result<()> {
        self.u32(u32::try_from(n).context("too many entries to serialize")?);
        Ok(())
    }

    /// Like [`Writer::bytes`], but contents of at least [`ALIGN_MIN`] bytes start at a multiple
    /// of `align` in the file (zero padding after the length), so they can be mapped from it.
    /// Smaller ones are cheaper to copy than to pad.
    pub(crate) fn aligned_bytes(&mut self, v: &[u8], align: usize) {
        self.u64(v.len() as u64);
        if v.len() >= ALIGN_MIN {
            self.buf.resize(self.buf.len().next_multiple_of(align), 0);
        }
        self.buf.extend_from_slice(v);
    }
}

impl Writer {
    /// A checked blob: the XXH64 of each [`CHUNK`] of `code` (covered by the file's checksum),
    /// then the bytes themselves (aligned, and left out of the file's checksum: each chunk is
    /// checked when it is first used; see `kiln_runtime::code` and `SharedBytes::checked_by`).
    pub(crate) fn checked_blob(&mut self, code: &[u8], align: usize) -> Result<()> {
        self.count(code.len().div_ceil(CHUNK))?;
        for chunk in code.chunks(CHUNK) {
            self.u64(xxh64(chunk));
        }
        self.aligned_bytes(code, align);
        self.code_blobs.push(self.buf.len() - code.len()..self.buf.len());
        Ok(())
    }
}

/// Checks every chunk of `code` against `hashes` (as written by [`Writer::code_blob`]).
pub(crate) fn check_chunks(code: &[u8], hashes: &[u8]) -> Result<()> {
    ensure!(hashes.len() == 8 * code.len().div_ceil(CHUNK), "the code's chunk hashes do not match its size");
    for (i, (chunk, hash)) in code.chunks(CHUNK).zip(hashes.chunks_exact(8)).enumerate() {
        ensure!(
            xxh64(chunk).to_le_bytes() == hash,
            "the checksum of the code at offset {:#x} does not match",
            i * CHUNK
        );
    }
    Ok(())
}

/// The file's checksum over `payload` without the code blobs in `skip` (sorted, disjoint, inside
/// it): the XXH64 of each piece between them, with its length, hashed together.
pub(crate) fn payload_checksum(file: &[u8], payload: Range<usize>, skip: &[Range<usize>]) -> u64 {
    let mut parts = Vec::with_capacity(16 * (skip.len() + 1));
    let mut at = payload.start;
    for range in skip.iter().chain(std::iter::once(&(payload.end..payload.end))) {
        let piece = &file[at..range.start];
        parts.extend_from_slice(&(piece.len() as u64).to_le_bytes());
        parts.extend_from_slice(&xxh64(piece).to_le_bytes());
        at = range.end;
    }
    xxh64(&parts)
}

/// The code blobs a payload lists in its trailer (`count` ranges of `(start, end)` u64 file
/// offsets, then `count` u32, at its very end), checked: sorted, disjoint and inside the payload
/// before the trailer. Returns them and where the trailer starts.
pub(crate) fn read_trailer(file: &[u8], payload: Range<usize>) -> Result<(Vec<Range<usize>>, usize)> {
    let len = payload.len();
    ensure!(len >= 4, "no trailer");
    let count = u32::from_le_bytes(file[payload.end - 4..payload.end].try_into().expect("4 bytes")) as usize;
    let size = count.checked_mul(16).and_then(|n| n.checked_add(4)).filter(|n| *n <= len);
    let trailer = payload.end - size.ok_or_else(|| anyhow!("corrupt trailer count {count}"))?;
    let mut r = Reader::new(file, trailer);
    let mut ranges = Vec::with_capacity(count);
    let mut end = payload.start;
    for _ in 0..count {
        let (start, stop) = (r.u64()?, r.u64()?);
        ensure!(end as u64 <= start && start <= stop && stop <= trailer as u64, "corrupt code blob list");
        ranges.push(start as usize..stop as usize);
        end = stop as usize;
    }
    Ok((ranges, trailer))
}

/// Bounds-checked little-endian decoder over a whole file's bytes.
pub(crate) struct Reader<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) pos: usize,
    /// Where the bytes to decode end (the payload's trailer follows).
    end: usize,
    /// The code blobs the trailer lists, which the decoded code blobs must be, in order.
    code_blobs: Vec<Range<usize>>,
    next_blob: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], pos: usize) -> Reader<'a> {
        Reader { data, pos, end: data.len(), code_blobs: Vec::new(), next_blob: 0 }
    }

    /// A reader of a payload's body, up to its trailer, expecting `code_blobs`.
    pub(crate) fn payload(data: &'a [u8], body: Range<usize>, code_blobs: Vec<Range<usize>>) -> Reader<'a> {
        Reader { data, pos: body.start, end: body.end, code_blobs, next_blob: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    /// A blob written by [`Writer::checked_blob`]: the ranges of its chunk hashes and of its
    /// bytes, which must be the next blob of the trailer's list.
    pub(crate) fn checked_blob(&mut self, align: usize) -> Result<(Range<usize>, Range<usize>)> {
        let chunks = self.count(8)?;
        let start = self.pos;
        self.take(chunks * 8)?;
        let hashes = start..self.pos;
        let code = self.aligned_bytes_range(align)?;
        ensure!(chunks == code.len().div_ceil(CHUNK), "{chunks} chunk hashes for {} bytes of code", code.len());
        ensure!(self.code_blobs.get(self.next_blob) == Some(&code), "a blob outside the file's list of checked blobs");
        self.next_blob += 1;
        Ok((hashes, code))
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            bail!("truncated: {n} bytes needed at offset {}, {} left", self.pos, self.remaining());
        }
        let bytes = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("take returned N bytes"))
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn bool(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => bail!("invalid boolean {b} at offset {}", self.pos - 1),
        }
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn len(&mut self) -> Result<usize> {
        let len = self.u64()?;
        usize::try_from(len).ok().filter(|l| *l <= self.remaining()).ok_or_else(|| {
            anyhow!("truncated: {len} bytes announced at offset {}, {} left", self.pos, self.remaining())
        })
    }

    /// The range (in the file) of a length-prefixed byte string.
    pub(crate) fn bytes_range(&mut self) -> Result<std::ops::Range<usize>> {
        let len = self.len()?;
        let start = self.pos;
        self.take(len)?;
        Ok(start..start + len)
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8]> {
        let range = self.bytes_range()?;
        Ok(&self.data[range])
    }

    pub(crate) fn str(&mut self) -> Result<&'a str> {
        let at = self.pos;
        std::str::from_utf8(self.bytes()?).with_context(|| format!("invalid UTF-8 at offset {at}"))
    }

    /// The range (in the file) of [`Writer::aligned_bytes`]' output; the padding must be zeros.
    pub(crate) fn aligned_bytes_range(&mut self, align: usize) -> Result<std::ops::Range<usize>> {
        let len = self.u64()?;
        let padding = if len >= ALIGN_MIN as u64 { self.pos.next_multiple_of(align) - self.pos } else { 0 };
        ensure!(self.take(padding)?.iter().all(|b| *b == 0), "non-zero padding before offset {}", self.pos);
        let len = usize::try_from(len).ok().filter(|l| *l <= self.remaining()).ok_or_else(|| {
            anyhow!("truncated: {len} bytes announced at offset {}, {} left", self.pos, self.remaining())
        })?;
        let start = self.pos;
        self.take(len)?;
        Ok(start..start + len)
    }

    /// A collection's length, checked against the bytes left at `min_entry_bytes` each, so a
    /// corrupt count cannot make us allocate without bound.
    pub(crate) fn count(&mut self, min_entry_bytes: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_entry_bytes) > self.remaining() {
            bail!("corrupt count {n} at offset {}: only {} bytes left", self.pos - 4, self.remaining());
        }
        Ok(n)
    }

    pub(crate) fn finish(&self) -> Result<()> {
        ensure!(self.remaining() == 0, "{} unexpected trailing bytes", self.remaining());
        ensure!(self.next_blob == self.code_blobs.len(), "the file lists checked blobs it does not contain");
        Ok(())
    }
}
