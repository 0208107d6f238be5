//! [`CompactMap`]: a sorted table from code offsets to values (the trap table, the address map)
//! in a compact block encoding that lookups read where it lies, so a precompiled module's tables
//! are used straight from its mapped file without being decoded first. [`StackMaps`] builds the
//! stack maps on it.
//!
//! ```text
//! len u32 | blocks u32 | blocks x (first key u32, start u32) | stream
//! ```
//!
//! Entries are grouped in blocks of [`BLOCK`]; the index gives each block's first key and where
//! its entries start in the stream. An entry is its key's distance from the previous key of the
//! block (the block's first key for the first entry) and its value's zigzag distance from the
//! previous value (0 for the first), each in LEB128: a typical entry takes 2-3 bytes instead of 8.
//!
//! Lookups never panic and never allocate (the signal handler calls them): decoding is bounds-
//! checked, and a block whose entries contradict the index ends where the contradiction starts.
//! A table from a precompiled file is checked chunk by chunk as lookups first read it
//! ([`SharedBytes::checked_by`]), so a damaged table is never used.

use anyhow::{Result, ensure};
use kiln_environ::SharedBytes;

/// Entries per block: a lookup decodes at most this many.
pub const BLOCK: usize = 32;

/// A sorted map from `u32` keys (code offsets) to `u32` values.
#[derive(Clone, Default, Debug)]
pub struct CompactMap {
    bytes: SharedBytes,
    len: usize,
    blocks: usize,
}

fn put_leb(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn get_leb(bytes: &[u8], pos: &mut usize) -> Option<u32> {
    let mut v = 0u32;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        v |= u32::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn zigzag(d: i32) -> u32 {
    ((d << 1) ^ (d >> 31)) as u32
}

fn unzigzag(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

impl CompactMap {
    /// Encodes `entries`, which must be sorted by key.
    pub fn encode(entries: &[(u32, u32)]) -> Vec<u8> {
        debug_assert!(entries.is_sorted_by_key(|(k, _)| *k));
        let blocks = entries.len().div_ceil(BLOCK);
        let mut index = Vec::with_capacity(8 + blocks * 8);
        index.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        index.extend_from_slice(&(blocks as u32).to_le_bytes());
        let mut stream = Vec::with_capacity(entries.len() * 3);
        for block in entries.chunks(BLOCK) {
            let first = block[0].0;
            index.extend_from_slice(&first.to_le_bytes());
            index.extend_from_slice(&(stream.len() as u32).to_le_bytes());
            let (mut key, mut value) = (first, 0u32);
            for &(k, v) in block {
                put_leb(&mut stream, k.wrapping_sub(key));
                put_leb(&mut stream, zigzag(v.wrapping_sub(value) as i32));
                (key, value) = (k, v);
            }
        }
        index.extend_from_slice(&stream);
        index
    }

    /// A map over `entries` (sorted by key).
    pub fn new(entries: &[(u32, u32)]) -> CompactMap {
        CompactMap::from_bytes(SharedBytes::from_vec(CompactMap::encode(entries))).expect("a fresh encoding is valid")
    }

    /// Wraps an encoding, checking its header: the block count matches the length and the index
    /// fits. Constant time: the index and the blocks are read (and checked, for checked bytes)
    /// only by lookups. Unchecked bytes (freshly encoded ones) are kiln's own.
    pub fn from_bytes(bytes: SharedBytes) -> Result<CompactMap> {
        let len = bytes.u32_at(0).ok_or_else(|| anyhow::anyhow!("truncated table"))? as usize;
        let blocks = bytes.u32_at(4).ok_or_else(|| anyhow::anyhow!("truncated table"))? as usize;
        ensure!(blocks == len.div_ceil(BLOCK), "a table of {len} entries cannot have {blocks} blocks");
        let stream = 8usize.checked_add(blocks.saturating_mul(8)).filter(|s| *s <= bytes.len());
        ensure!(stream.is_some(), "a table's index is truncated");
        Ok(CompactMap { bytes, len, blocks })
    }

    /// The encoding (checked first, if it is checked).
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.check_all();
        &self.bytes
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn first_key(&self, block: usize) -> Option<u32> {
        self.bytes.u32_at(8 + 8 * block)
    }

    /// Calls `f` with each entry of `block` in order until it returns false. Stops early at a
    /// damaged entry or one whose key reaches past the next block's first key.
    fn scan(&self, block: usize, mut f: impl FnMut(u32, u32) -> bool) {
        let stream = 8 + 8 * self.blocks;
        let (Some(first), Some(start)) = (self.first_key(block), self.bytes.u32_at(12 + 8 * block)) else {
            return;
        };
        let limit = if block + 1 < self.blocks { self.first_key(block + 1) } else { None };
        let count = if block + 1 == self.blocks { self.len - BLOCK * block } else { BLOCK };
        // A block's entries take at most 10 bytes each.
        let from = stream.saturating_add(start as usize);
        let Some(bytes) = self.bytes.get_checked(from..from.saturating_add(10 * BLOCK).min(self.bytes.len())) else {
            return;
        };
        let mut pos = 0;
        let (mut key, mut value) = (first, 0u32);
        for _ in 0..count {
            let (Some(dk), Some(dv)) = (get_leb(bytes, &mut pos), get_leb(bytes, &mut pos)) else { return };
            let Some(k) = key.checked_add(dk) else { return };
            if limit.is_some_and(|limit| k > limit) {
                return;
            }
            (key, value) = (k, value.wrapping_add(unzigzag(dv) as u32));
            if !f(key, value) {
                return;
            }
        }
    }

    /// The block that holds the last entry with a key `<= key`, if any.
    fn block_for(&self, key: u32) -> Option<usize> {
        let (mut low, mut high) = (0, self.blocks);
        while low < high {
            let mid = (low + high) / 2;
            if self.first_key(mid)? <= key { low = mid + 1 } else { high = mid }
        }
        low.checked_sub(1)
    }

    /// The value of the entry with exactly this key.
    pub fn get(&self, key: u32) -> Option<u32> {
        let mut found = None;
        // With duplicate keys, an exact match may start in an earlier block than the last one.
        let last = self.block_for(key)?;
        let mut block = last;
        loop {
            self.scan(block, |k, v| {
                if k == key {
                    found = Some(v);
                }
                k <= key && found.is_none()
            });
            if found.is_some() || block == 0 || self.first_key(block) != Some(key) {
                return found;
            }
            block -= 1;
        }
    }

    /// The value of the last entry whose key is `<= key`.
    pub fn last_at_or_before(&self, key: u32) -> Option<u32> {
        let mut found = None;
        self.scan(self.block_for(key)?, |k, v| {
            if k <= key {
                found = Some(v);
            }
            k <= key
        });
        found
    }

    /// Every entry, in order (stopping at damage, as lookups do).
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        (0..self.blocks).flat_map(move |b| {
            let mut entries = Vec::with_capacity(BLOCK);
            self.scan(b, |k, v| {
                entries.push((k, v));
                true
            });
            entries
        })
    }

    /// The largest key, reading only the last block.
    pub fn last_key(&self) -> Option<u32> {
        let mut last = None;
        self.scan(self.blocks.checked_sub(1)?, |k, _| {
            last = Some(k);
            true
        });
        last
    }
}

/// The stack maps of compiled code: for each call that has one, by return address offset, the
/// stack-pointer offsets of the slots holding garbage-collectable references across it. Like
/// [`CompactMap`], read where it lies:
///
/// ```text
/// index: CompactMap (return offset -> position in lists) | lists: (count, count x offset) in LEB128
/// ```
///
/// Identical lists are stored once (most calls of a function keep the same slots live).
#[derive(Clone, Default, Debug)]
pub struct StackMaps {
    index: CompactMap,
    lists: SharedBytes,
}

impl StackMaps {
    /// Encodes `entries` (sorted by return offset) as the index and the lists.
    pub fn encode(entries: &[(u32, Vec<u32>)]) -> (Vec<u8>, Vec<u8>) {
        let mut lists = Vec::new();
        let mut seen = std::collections::HashMap::<&[u32], u32>::new();
        let mut index = Vec::with_capacity(entries.len());
        for (ret, slots) in entries {
            let at = *seen.entry(slots.as_slice()).or_insert_with(|| {
                let at = lists.len() as u32;
                put_leb(&mut lists, slots.len() as u32);
                slots.iter().for_each(|slot| put_leb(&mut lists, *slot));
                at
            });
            index.push((*ret, at));
        }
        (CompactMap::encode(&index), lists)
    }

    /// The stack maps of `entries` (sorted by return offset).
    pub fn new(entries: &[(u32, Vec<u32>)]) -> StackMaps {
        let (index, lists) = StackMaps::encode(entries);
        StackMaps::from_bytes(SharedBytes::from_vec(index), SharedBytes::from_vec(lists))
            .expect("a fresh encoding is valid")
    }

    /// Wraps an encoding (see [`CompactMap::from_bytes`]): constant time; lookups check what they
    /// read.
    pub fn from_bytes(index: SharedBytes, lists: SharedBytes) -> Result<StackMaps> {
        Ok(StackMaps { index: CompactMap::from_bytes(index)?, lists })
    }

    /// The encoded index and lists (checked first, if they are checked).
    pub fn as_bytes(&self) -> (&[u8], &[u8]) {
        self.lists.check_all();
        (self.index.as_bytes(), &self.lists)
    }

    /// Number of calls with a stack map.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The largest return offset with a stack map.
    pub fn last_key(&self) -> Option<u32> {
        self.index.last_key()
    }

    /// The slots of the call returning to `return_offset`, if it has a stack map. A damaged list
    /// reads as none rather than as wrong slots.
    pub fn get(&self, return_offset: u32) -> Option<Vec<u32>> {
        let at = self.index.get(return_offset)? as usize;
        // A list takes at most 5 bytes per LEB128 number.
        let head = self.lists.get_checked(at..at.saturating_add(5).min(self.lists.len()))?;
        let mut pos = 0;
        let count = get_leb(head, &mut pos)? as usize;
        let end = at.saturating_add(pos).saturating_add(count.saturating_mul(5)).min(self.lists.len());
        let bytes = self.lists.get_checked(at + pos..end)?;
        let mut pos = 0;
        (0..count).map(|_| get_leb(bytes, &mut pos)).collect()
    }

    /// Every entry, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, Vec<u32>)> + '_ {
        self.index.iter().filter_map(|(ret, _)| Some((ret, self.get(ret)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_match_a_sorted_vector() {
        let mut entries = Vec::new();
        let mut key = 3u32;
        for i in 0..1000u32 {
            key += (i * 7919) % 37;
            entries.push((key, (i * 104729) % 50_000));
        }
        let map = CompactMap::new(&entries);
        assert_eq!(map.iter().collect::<Vec<_>>(), entries);
        assert_eq!(map.last_key(), entries.last().map(|e| e.0));
        for probe in 0..key + 5 {
            let exact = entries.iter().find(|(k, _)| *k == probe).map(|e| e.1);
            assert_eq!(map.get(probe), exact, "get {probe}");
            let i = entries.partition_point(|(k, _)| *k <= probe);
            let before = i.checked_sub(1).map(|i| entries[i].1);
            assert_eq!(map.last_at_or_before(probe), before, "at or before {probe}");
        }
        assert!(CompactMap::new(&[]).get(0).is_none());
    }

    #[test]
    fn stack_maps_round_trip_and_share_lists() {
        let entries: Vec<(u32, Vec<u32>)> =
            (0..300u32).map(|i| (i * 12 + 4, if i % 3 == 0 { vec![] } else { vec![8, 16 * (i % 5), 300] })).collect();
        let maps = StackMaps::new(&entries);
        assert_eq!(maps.len(), entries.len());
        assert_eq!(maps.iter().collect::<Vec<_>>(), entries);
        assert_eq!(maps.get(16), Some(vec![8, 16, 300]));
        assert_eq!(maps.get(17), None);
        assert_eq!(maps.last_key(), Some(299 * 12 + 4));
        // Six distinct lists (the empty one and five others), however many calls use them.
        let (_, lists) = StackMaps::encode(&entries);
        assert!(lists.len() <= 6 * 5, "{} bytes of lists", lists.len());
        // Damage: lookups may miss or read other slots' numbers, but never panic.
        let (index, lists) = StackMaps::encode(&entries);
        for at in 0..lists.len() {
            let mut bad = lists.clone();
            bad[at] ^= 0x80;
            let maps = StackMaps::from_bytes(SharedBytes::from_vec(index.clone()), SharedBytes::from_vec(bad)).unwrap();
            maps.iter().count();
        }
    }

    #[test]
    fn damaged_encodings_are_refused_or_harmless() {
        let entries: Vec<(u32, u32)> = (0..200).map(|i| (i * 10, i)).collect();
        let good = CompactMap::encode(&entries);
        // Cut inside the index: refused. Cut in the stream: lookups end early, harmlessly.
        assert!(CompactMap::from_bytes(SharedBytes::from_vec(good[..20].to_vec())).is_err());
        let cut = CompactMap::from_bytes(SharedBytes::from_vec(good[..good.len() / 2].to_vec())).unwrap();
        assert!(cut.iter().count() < entries.len());
        for at in 0..good.len() {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad[at] ^= 1 << bit;
                if let Ok(map) = CompactMap::from_bytes(SharedBytes::from_vec(bad)) {
                    for probe in (0..2100).step_by(7) {
                        map.get(probe);
                        map.last_at_or_before(probe);
                    }
                    map.iter().count();
                }
            }
        }
    }
}
