//! `wasi:clocks`: the host's monotonic and realtime clocks; monotonic deadlines as pollables.

use super::WasiCtxView;
use super::bindings::sync::wasi::clocks::{monotonic_clock, wall_clock};
use super::io::Pollable;
use anyhow::Result;
use kiln::component::Resource;
use rustix::time::{ClockId, Timespec, clock_getres, clock_gettime};
use std::time::{Duration, Instant};

fn nanos(t: Timespec) -> u64 {
    (t.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(t.tv_nsec as u64)
}

impl monotonic_clock::Host for WasiCtxView<'_> {
    fn now(&mut self) -> Result<u64> {
        Ok(nanos(clock_gettime(ClockId::Monotonic)))
    }
    fn resolution(&mut self) -> Result<u64> {
        Ok(nanos(clock_getres(ClockId::Monotonic)).max(1))
    }
    fn subscribe_instant(&mut self, when: u64) -> Result<Resource<Pollable>> {
        let now = nanos(clock_gettime(ClockId::Monotonic));
        let wait = Duration::from_nanos(when.saturating_sub(now));
        let deadline = Instant::now().checked_add(wait).map_or(Pollable::Never, Pollable::Deadline);
        Ok(self.table.push(deadline)?)
    }
    fn subscribe_duration(&mut self, when: u64) -> Result<Resource<Pollable>> {
        let deadline =
            Instant::now().checked_add(Duration::from_nanos(when)).map_or(Pollable::Never, Pollable::Deadline);
        Ok(self.table.push(deadline)?)
    }
}

impl wall_clock::Host for WasiCtxView<'_> {
    fn now(&mut self) -> Result<wall_clock::Datetime> {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Ok(wall_clock::Datetime { seconds: since.as_secs(), nanoseconds: since.subsec_nanos() })
    }
    fn resolution(&mut self) -> Result<wall_clock::Datetime> {
        let res = clock_getres(ClockId::Realtime);
        Ok(wall_clock::Datetime { seconds: res.tv_sec as u64, nanoseconds: res.tv_nsec as u32 })
    }
}
