//! `wasi:random`: the host's `getrandom(2)` for all three interfaces.

use super::WasiCtxView;
use super::bindings::sync::wasi::random::{insecure, insecure_seed, random};
use anyhow::{Result, bail};

/// The most bytes one call returns; larger requests trap rather than exhaust host memory.
const MAX: u64 = 64 << 20;

fn bytes(len: u64) -> Result<Vec<u8>> {
    if len > MAX {
        bail!("get-random-bytes: {len} bytes is more than kiln provides in one call ({MAX})");
    }
    let mut buf = vec![0u8; len as usize];
    let mut filled = 0;
    while filled < buf.len() {
        match rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(std::io::Error::from(e).into()),
        }
    }
    Ok(buf)
}

fn u64_value() -> Result<u64> {
    let b = bytes(8)?;
    Ok(u64::from_le_bytes(b.try_into().expect("eight bytes")))
}

impl random::Host for WasiCtxView<'_> {
    fn get_random_bytes(&mut self, len: u64) -> Result<Vec<u8>> {
        bytes(len)
    }
    fn get_random_u64(&mut self) -> Result<u64> {
        u64_value()
    }
}

impl insecure::Host for WasiCtxView<'_> {
    fn get_insecure_random_bytes(&mut self, len: u64) -> Result<Vec<u8>> {
        bytes(len)
    }
    fn get_insecure_random_u64(&mut self) -> Result<u64> {
        u64_value()
    }
}

impl insecure_seed::Host for WasiCtxView<'_> {
    fn insecure_seed(&mut self) -> Result<(u64, u64)> {
        Ok((u64_value()?, u64_value()?))
    }
}
