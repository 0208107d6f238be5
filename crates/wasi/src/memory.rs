//! Bounds-checked access to the calling instance's linear memory. Every guest pointer goes
//! through [`GuestMemory`]; an access outside the memory is `EFAULT`, never a host fault.

use crate::Errno;
use std::ops::Range;

/// A guest's linear memory for the duration of one WASI call.
pub struct GuestMemory<'a> {
    data: &'a mut [u8],
}

impl<'a> GuestMemory<'a> {
    /// Wraps a memory's bytes.
    pub fn new(data: &'a mut [u8]) -> GuestMemory<'a> {
        GuestMemory { data }
    }

    /// The byte range `ptr..ptr + len`, if it lies inside the memory.
    pub fn range(&self, ptr: u32, len: u32) -> Result<Range<usize>, Errno> {
        let start = ptr as usize;
        let end = start.checked_add(len as usize).ok_or(Errno::Fault)?;
        if end > self.data.len() {
            return Err(Errno::Fault);
        }
        Ok(start..end)
    }

    /// The bytes at `ptr..ptr + len`.
    pub fn slice(&self, ptr: u32, len: u32) -> Result<&[u8], Errno> {
        let range = self.range(ptr, len)?;
        Ok(&self.data[range])
    }

    /// The bytes at `ptr..ptr + len`, mutably.
    pub fn slice_mut(&mut self, ptr: u32, len: u32) -> Result<&mut [u8], Errno> {
        let range = self.range(ptr, len)?;
        Ok(&mut self.data[range])
    }

    /// The bytes of a range from [`GuestMemory::range`] (or [`GuestMemory::iovecs`]).
    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        &self.data[range]
    }

    /// The bytes of a range from [`GuestMemory::range`] (or [`GuestMemory::iovecs`]), mutably.
    pub fn bytes_mut(&mut self, range: Range<usize>) -> &mut [u8] {
        &mut self.data[range]
    }

    /// A UTF-8 string (a path): `EILSEQ` if it is not valid UTF-8.
    pub fn str(&self, ptr: u32, len: u32) -> Result<&str, Errno> {
        std::str::from_utf8(self.slice(ptr, len)?).map_err(|_| Errno::Ilseq)
    }

    /// Copies `bytes` to `ptr`.
    pub fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), Errno> {
        let len = u32::try_from(bytes.len()).map_err(|_| Errno::Fault)?;
        self.slice_mut(ptr, len)?.copy_from_slice(bytes);
        Ok(())
    }

    pub fn read_u8(&self, ptr: u32) -> Result<u8, Errno> {
        Ok(self.slice(ptr, 1)?[0])
    }

    pub fn read_u32(&self, ptr: u32) -> Result<u32, Errno> {
        Ok(u32::from_le_bytes(self.slice(ptr, 4)?.try_into().unwrap()))
    }

    pub fn read_u64(&self, ptr: u32) -> Result<u64, Errno> {
        Ok(u64::from_le_bytes(self.slice(ptr, 8)?.try_into().unwrap()))
    }

    pub fn write_u32(&mut self, ptr: u32, value: u32) -> Result<(), Errno> {
        self.write(ptr, &value.to_le_bytes())
    }

    pub fn write_u64(&mut self, ptr: u32, value: u64) -> Result<(), Errno> {
        self.write(ptr, &value.to_le_bytes())
    }

    /// The buffers of an `iovec`/`ciovec` array of `count` entries at `ptr` (buf u32, len u32
    /// each), each checked against the memory.
    pub fn iovecs(&self, ptr: u32, count: u32) -> Result<Vec<Range<usize>>, Errno> {
        // Check the array itself first, so a huge count cannot make us allocate.
        let array_len = count.checked_mul(crate::types::size::IOVEC).ok_or(Errno::Fault)?;
        let array = self.slice(ptr, array_len)?;
        array
            .chunks_exact(8)
            .map(|entry| {
                let buf = u32::from_le_bytes(entry[0..4].try_into().unwrap());
                let len = u32::from_le_bytes(entry[4..8].try_into().unwrap());
                self.range(buf, len)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked() {
        let mut data = vec![0u8; 16];
        let mut mem = GuestMemory::new(&mut data);
        assert_eq!(mem.range(0, 16), Ok(0..16));
        assert_eq!(mem.range(16, 0), Ok(16..16));
        assert_eq!(mem.range(16, 1), Err(Errno::Fault));
        assert_eq!(mem.range(u32::MAX, u32::MAX), Err(Errno::Fault));
        assert_eq!(mem.read_u64(9), Err(Errno::Fault));
        assert_eq!(mem.write_u32(13, 1), Err(Errno::Fault));
        mem.write_u32(12, 0xdead_beef).unwrap();
        assert_eq!(mem.read_u32(12), Ok(0xdead_beef));
        assert_eq!(mem.read_u8(12), Ok(0xef));
    }

    #[test]
    fn iovecs_are_checked() {
        let mut data = vec![0u8; 64];
        data[0..4].copy_from_slice(&32u32.to_le_bytes());
        data[4..8].copy_from_slice(&8u32.to_le_bytes());
        data[8..12].copy_from_slice(&60u32.to_le_bytes());
        data[12..16].copy_from_slice(&8u32.to_le_bytes());
        let mem = GuestMemory::new(&mut data);
        assert_eq!(mem.iovecs(0, 1), Ok(std::iter::once(32..40).collect()));
        assert_eq!(mem.iovecs(0, 2), Err(Errno::Fault), "second buffer runs past the end");
        assert_eq!(mem.iovecs(0, u32::MAX), Err(Errno::Fault), "array longer than memory");
    }

    #[test]
    fn strings_must_be_utf8() {
        let mut data = b"ok\xff".to_vec();
        let mem = GuestMemory::new(&mut data);
        assert_eq!(mem.str(0, 2), Ok("ok"));
        assert_eq!(mem.str(0, 3), Err(Errno::Ilseq));
    }
}
