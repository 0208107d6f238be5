//! In-memory standard streams, for embedders and tests that capture a program's output or
//! feed it input.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

/// A stdin that yields fixed bytes, then end-of-file.
#[derive(Debug, Clone)]
pub struct MemoryInputPipe {
    bytes: Arc<[u8]>,
    position: usize,
}

impl MemoryInputPipe {
    /// A pipe that yields `bytes`.
    pub fn new(bytes: impl Into<Vec<u8>>) -> MemoryInputPipe {
        MemoryInputPipe { bytes: bytes.into().into(), position: 0 }
    }
}

impl Read for MemoryInputPipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = &self.bytes[self.position..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.position += n;
        Ok(n)
    }
}

/// A stdout or stderr that collects everything written; clones share the buffer, so keep one
/// to read [`MemoryOutputPipe::contents`] after the program ran.
#[derive(Debug, Clone, Default)]
pub struct MemoryOutputPipe {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl MemoryOutputPipe {
    /// An empty pipe.
    pub fn new() -> MemoryOutputPipe {
        MemoryOutputPipe::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        // A panic while holding the lock cannot leave the Vec inconsistent: keep using it.
        self.buffer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.lock().clone()
    }
}

impl Write for MemoryOutputPipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_round_trip() {
        let mut input = MemoryInputPipe::new(b"hello".to_vec());
        let mut buf = [0u8; 3];
        assert_eq!(input.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf, b"hel");
        assert_eq!(input.read(&mut buf).unwrap(), 2);
        assert_eq!(input.read(&mut buf).unwrap(), 0);

        let output = MemoryOutputPipe::new();
        let mut writer = output.clone();
        writer.write_all(b"ab").unwrap();
        writer.write_all(b"c").unwrap();
        assert_eq!(output.contents(), b"abc");
    }
}
