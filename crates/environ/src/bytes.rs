//! [`SharedBytes`]: immutable bytes with a shared owner, optionally checked chunk by chunk when
//! first read, and [`FuncNames`], the function names of a module in one byte string that a
//! precompiled module uses where it lies in its file.

use anyhow::{Result, ensure};
use std::collections::HashMap;
use std::io::Write;
use std::ops::{Deref, Range};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Checked bytes and mapped code are checked in chunks of this many bytes.
pub const CHECK_CHUNK: usize = 64 * 1024;

/// The chunk hashes of a checked region and which chunks were found intact.
struct Checks {
    /// The whole region, unchecked.
    region: SharedBytes,
    /// One little-endian XXH64 per chunk of the region.
    hashes: SharedBytes,
    checked: Box<[AtomicBool]>,
    /// What to print before stopping the process if a chunk is corrupt.
    what: String,
}

impl Checks {
    /// Checks the chunks that `range` (of the region) overlaps. A corrupt chunk stops the process
    /// with `what`: nothing may use damaged bytes, and the caller may be a signal handler (the
    /// trap table), which cannot return an error. No allocation.
    fn check(&self, range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        for chunk in range.start / CHECK_CHUNK..=(range.end - 1) / CHECK_CHUNK {
            let Some(done) = self.checked.get(chunk) else { continue };
            if done.load(Ordering::Acquire) {
                continue;
            }
            let start = chunk * CHECK_CHUNK;
            let bytes = &self.region[start..(start + CHECK_CHUNK).min(self.region.len())];
            let expected = self.hashes.get(8 * chunk..8 * chunk + 8).map(|h| h.try_into().unwrap_or([0; 8]));
            if expected == Some(crate::xxh64(bytes).to_le_bytes()) {
                done.store(true, Ordering::Release);
            } else {
                let mut stderr = std::io::stderr();
                let _ = stderr.write_all(b"kiln: ");
                let _ = stderr.write_all(self.what.as_bytes());
                let _ = stderr.write_all(b"\n");
                std::process::abort();
            }
        }
    }
}

/// The owner of the bytes behind a [`SharedBytes`]: a vector, or a mapped file kept alive by it.
pub type ByteOwner = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// A range of immutable bytes whose owner is shared: cloning and slicing copy nothing.
#[derive(Clone)]
pub struct SharedBytes {
    owner: ByteOwner,
    range: Range<usize>,
    /// If the bytes are checked on first read: the checks and where these bytes start in their
    /// region.
    checks: Option<(Arc<Checks>, usize)>,
}

impl SharedBytes {
    /// `range` of `owner`'s bytes, if it lies inside them.
    pub fn new(owner: ByteOwner, range: Range<usize>) -> Option<SharedBytes> {
        let len = (*owner).as_ref().len();
        (range.start <= range.end && range.end <= len).then_some(SharedBytes { owner, range, checks: None })
    }

    /// These bytes, checked against `hashes` (one little-endian XXH64 per [`CHECK_CHUNK`]) chunk
    /// by chunk when first read through [`SharedBytes::get_checked`] and friends; a corrupt chunk
    /// prints `what` and stops the process.
    pub fn checked_by(self, hashes: SharedBytes, what: String) -> Result<SharedBytes> {
        let chunks = self.len().div_ceil(CHECK_CHUNK);
        ensure!(hashes.len() == 8 * chunks, "{} chunk hashes for {} bytes", hashes.len() / 8, self.len());
        let checked = (0..chunks).map(|_| AtomicBool::new(false)).collect();
        let region = SharedBytes { checks: None, ..self.clone() };
        let checks = Arc::new(Checks { region, hashes, checked, what });
        Ok(SharedBytes { checks: Some((checks, 0)), ..self })
    }

    /// Checks all of the bytes now (see [`SharedBytes::checked_by`]).
    pub fn check_all(&self) {
        if let Some((checks, offset)) = &self.checks {
            checks.check(*offset..*offset + self.len());
        }
    }

    /// `range` of these bytes, checked first, if it lies inside them.
    pub fn get_checked(&self, range: Range<usize>) -> Option<&[u8]> {
        let bytes = self.get(range.clone())?;
        if let Some((checks, offset)) = &self.checks {
            checks.check(offset + range.start..offset + range.end);
        }
        Some(bytes)
    }

    /// The little-endian u32 at `at`, checked first.
    pub fn u32_at(&self, at: usize) -> Option<u32> {
        let word = self.get_checked(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
    }

    /// The bytes of a vector.
    pub fn from_vec(bytes: Vec<u8>) -> SharedBytes {
        let range = 0..bytes.len();
        SharedBytes { owner: Arc::new(bytes), range, checks: None }
    }

    /// A sub-range (relative to these bytes), if it lies inside them.
    pub fn slice(&self, range: Range<usize>) -> Option<SharedBytes> {
        (range.start <= range.end && range.end <= self.range.len()).then(|| SharedBytes {
            owner: self.owner.clone(),
            range: self.range.start + range.start..self.range.start + range.end,
            checks: self.checks.as_ref().map(|(checks, offset)| (checks.clone(), offset + range.start)),
        })
    }
}

impl Default for SharedBytes {
    fn default() -> SharedBytes {
        SharedBytes::from_vec(Vec::new())
    }
}

impl Deref for SharedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // `new` and `slice` keep the range inside the owner's bytes, which never change.
        &(*self.owner).as_ref()[self.range.clone()]
    }
}

impl std::fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedBytes({} bytes)", self.range.len())
    }
}

/// Function names by function index.
///
/// Encoded as `count: u32`, then `count` entries `(function index: u32, end: u32)` sorted by
/// index, then the UTF-8 names back to back (`end` is where each name ends in that text, the
/// previous entry's `end` where it starts). Lookups binary-search the entries where they lie, so
/// a precompiled module's names are read from its file only when a backtrace or profiler asks.
#[derive(Clone, Default, Debug)]
pub struct FuncNames {
    bytes: SharedBytes,
    count: usize,
}

impl FuncNames {
    /// The names of a name section (a later name for the same function wins, as in a map).
    pub fn from_map(names: HashMap<u32, String>) -> FuncNames {
        let mut names: Vec<(u32, String)> = names.into_iter().collect();
        names.sort_unstable_by_key(|(index, _)| *index);
        let mut bytes = Vec::with_capacity(4 + names.len() * 8 + names.iter().map(|(_, n)| n.len()).sum::<usize>());
        bytes.extend_from_slice(&(names.len() as u32).to_le_bytes());
        let mut end = 0u32;
        for (index, name) in &names {
            end += name.len() as u32;
            bytes.extend_from_slice(&index.to_le_bytes());
            bytes.extend_from_slice(&end.to_le_bytes());
        }
        for (_, name) in &names {
            bytes.extend_from_slice(name.as_bytes());
        }
        FuncNames { bytes: SharedBytes::from_vec(bytes), count: names.len() }
    }

    /// Names in the encoding above. Constant time: only the count is checked against the size;
    /// lookups bounds-check what they read (and checked bytes are checked against their hashes
    /// as they are read), so damaged names can only be missing or wrong names, never a crash.
    pub fn from_bytes(bytes: SharedBytes) -> Result<FuncNames> {
        let count = bytes.u32_at(0).ok_or_else(|| anyhow::anyhow!("function names: truncated"))? as usize;
        let index_end = count.checked_mul(8).and_then(|n| n.checked_add(4)).filter(|n| *n <= bytes.len());
        ensure!(index_end.is_some(), "function names: corrupt count {count}");
        Ok(FuncNames { bytes, count })
    }

    /// The encoding described above (checked first, if it is checked).
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.check_all();
        &self.bytes
    }

    /// The name of function `f`, if it has a (valid UTF-8) one.
    pub fn get(&self, f: u32) -> Option<&str> {
        let (mut low, mut high) = (0, self.count);
        while low < high {
            let mid = (low + high) / 2;
            let index = self.bytes.u32_at(4 + 8 * mid)?;
            match index.cmp(&f) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return self.name_at(mid),
            }
        }
        None
    }

    fn name_at(&self, i: usize) -> Option<&str> {
        let text = 4 + 8 * self.count;
        let start = if i == 0 { 0 } else { self.bytes.u32_at(8 + 8 * (i - 1))? as usize };
        let end = self.bytes.u32_at(8 + 8 * i)? as usize;
        std::str::from_utf8(self.bytes.get_checked(text + start..text + end)?).ok()
    }

    /// Number of named functions.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no function has a name.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// `(function index, name)` in index order (names that are not UTF-8 are skipped).
    pub fn iter(&self) -> impl Iterator<Item = (u32, &str)> + '_ {
        (0..self.count).filter_map(|i| Some((self.bytes.u32_at(4 + 8 * i)?, self.name_at(i)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_reject_a_truncated_index() {
        let map: HashMap<u32, String> =
            [(7, "seven"), (2, "two"), (40, ""), (9, "nine")].into_iter().map(|(i, n)| (i, n.to_string())).collect();
        let names = FuncNames::from_map(map);
        assert_eq!(names.get(2), Some("two"));
        assert_eq!(names.get(9), Some("nine"));
        assert_eq!(names.get(40), Some(""));
        assert_eq!(names.get(3), None);
        let again = FuncNames::from_bytes(SharedBytes::from_vec(names.as_bytes().to_vec())).unwrap();
        assert_eq!(again.iter().collect::<Vec<_>>(), vec![(2, "two"), (7, "seven"), (9, "nine"), (40, "")]);
        let short = names.as_bytes()[..20].to_vec();
        assert!(FuncNames::from_bytes(SharedBytes::from_vec(short)).is_err());
    }
}
