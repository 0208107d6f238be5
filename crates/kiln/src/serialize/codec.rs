//! The little-endian encoder and bounds-checked decoder behind the precompiled format, and its
//! checksum (XXH64).

use anyhow::{Context, Result, anyhow, bail, ensure};

/// The smallest blob [`Writer::aligned_bytes`] aligns.
pub(crate) const ALIGN_MIN: usize = 16 * 1024;

/// Little-endian encoder. Positions are absolute file offsets (`base` is where the buffer starts
/// in the file), so [`Writer::aligned_bytes`] can place a blob at a page boundary of the file.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
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

/// Bounds-checked little-endian decoder over a whole file's bytes.
pub(crate) struct Reader<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], pos: usize) -> Reader<'a> {
        Reader { data, pos }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
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
        Ok(())
    }
}

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2)).rotate_left(31).wrapping_mul(P1)
}

fn merge(acc: u64, v: u64) -> u64 {
    (acc ^ round(0, v)).wrapping_mul(P1).wrapping_add(P4)
}

fn read64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}

/// XXH64 (seed 0) of `data`: the precompiled format's checksum. It catches accidental damage
/// (truncation, flipped bits) at memory speed; it is no defence against deliberate changes.
pub(crate) fn xxh64(data: &[u8]) -> u64 {
    let mut h;
    let mut rest = data;
    if data.len() >= 32 {
        let mut v = [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)];
        let stripes = data.chunks_exact(32);
        rest = stripes.remainder();
        for stripe in stripes {
            for (lane, word) in v.iter_mut().zip(stripe.chunks_exact(8)) {
                *lane = round(*lane, read64(word));
            }
        }
        h = v[0].rotate_left(1).wrapping_add(v[1].rotate_left(7)).wrapping_add(v[2].rotate_left(12));
        h = h.wrapping_add(v[3].rotate_left(18));
        for lane in v {
            h = merge(h, lane);
        }
    } else {
        h = P5;
    }
    h = h.wrapping_add(data.len() as u64);
    let mut words = rest.chunks_exact(8);
    for word in &mut words {
        h ^= round(0, read64(word));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
    }
    let mut rest = words.remainder();
    if rest.len() >= 4 {
        h ^= u64::from(u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"))).wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = &rest[4..];
    }
    for byte in rest {
        h ^= u64::from(*byte).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xxh64_matches_the_reference() {
        assert_eq!(xxh64(b""), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"abc"), 0x44BC_2CF5_AD77_0999);
        assert_eq!(xxh64(b"Nobody inspects the spammish repetition"), 0xFBCE_A83C_8A37_8BF1);
    }
}
