//! Arguments, environment, clocks, randomness, `poll_oneoff`, process and socket functions.

use crate::ctx::{Descriptor, HostStdio, InputStream};
use crate::memory::GuestMemory;
use crate::types::{Event, SUBSCRIPTION_CLOCK_ABSTIME, Subscription, clockid, eventtype, size};
use crate::{Errno, WasiCtx};
use std::time::Duration;

type WasiResult<T = ()> = Result<T, Errno>;

/// Writes NUL-terminated strings to `buf` and pointers to them to `ptrs` (args_get,
/// environ_get).
fn write_strings<'s>(
    mem: &mut GuestMemory,
    strings: impl Iterator<Item = std::borrow::Cow<'s, str>>,
    ptrs: u32,
    buf: u32,
) -> WasiResult {
    let mut ptr_at = ptrs;
    let mut buf_at = buf;
    for s in strings {
        mem.write_u32(ptr_at, buf_at)?;
        mem.write(buf_at, s.as_bytes())?;
        let len = u32::try_from(s.len()).map_err(|_| Errno::Overflow)?;
        let end = buf_at.checked_add(len).ok_or(Errno::Fault)?;
        mem.write(end, &[0])?;
        buf_at = end.checked_add(1).ok_or(Errno::Fault)?;
        ptr_at = ptr_at.checked_add(4).ok_or(Errno::Fault)?;
    }
    Ok(())
}

/// Count and total size (with NULs) of strings (args_sizes_get, environ_sizes_get).
fn write_sizes<'s>(
    mem: &mut GuestMemory,
    strings: impl Iterator<Item = std::borrow::Cow<'s, str>>,
    count_out: u32,
    size_out: u32,
) -> WasiResult {
    let (mut count, mut total) = (0usize, 0usize);
    for s in strings {
        count += 1;
        total += s.len() + 1;
    }
    mem.write_u32(count_out, u32::try_from(count).map_err(|_| Errno::Overflow)?)?;
    mem.write_u32(size_out, u32::try_from(total).map_err(|_| Errno::Overflow)?)
}

fn host_clock(id: u32) -> WasiResult<rustix::time::ClockId> {
    use rustix::time::ClockId;
    Ok(match id {
        clockid::REALTIME => ClockId::Realtime,
        clockid::MONOTONIC => ClockId::Monotonic,
        clockid::PROCESS_CPUTIME_ID => ClockId::ProcessCPUTime,
        clockid::THREAD_CPUTIME_ID => ClockId::ThreadCPUTime,
        _ => return Err(Errno::Inval),
    })
}

fn timespec_nanos(t: rustix::time::Timespec) -> u64 {
    u64::try_from(t.tv_sec).unwrap_or(0).saturating_mul(1_000_000_000).saturating_add(t.tv_nsec as u64)
}

/// The current time of WASI clock `id`, in nanoseconds.
pub(crate) fn now(id: u32) -> WasiResult<u64> {
    Ok(timespec_nanos(rustix::time::clock_gettime(host_clock(id)?)))
}

impl WasiCtx {
    fn env_strings(&self) -> impl Iterator<Item = std::borrow::Cow<'_, str>> {
        self.env.iter().map(|(k, v)| format!("{k}={v}").into())
    }

    pub(crate) fn args_get(&mut self, mem: &mut GuestMemory, argv: u32, buf: u32) -> WasiResult {
        write_strings(mem, self.args.iter().map(|a| a.as_str().into()), argv, buf)
    }

    pub(crate) fn args_sizes_get(&mut self, mem: &mut GuestMemory, count: u32, size: u32) -> WasiResult {
        write_sizes(mem, self.args.iter().map(|a| a.as_str().into()), count, size)
    }

    pub(crate) fn environ_get(&mut self, mem: &mut GuestMemory, environ: u32, buf: u32) -> WasiResult {
        write_strings(mem, self.env_strings(), environ, buf)
    }

    pub(crate) fn environ_sizes_get(&mut self, mem: &mut GuestMemory, count: u32, size: u32) -> WasiResult {
        write_sizes(mem, self.env_strings(), count, size)
    }

    pub(crate) fn clock_res_get(&mut self, mem: &mut GuestMemory, id: u32, out: u32) -> WasiResult {
        let res = timespec_nanos(rustix::time::clock_getres(host_clock(id)?));
        mem.write_u64(out, res.max(1))
    }

    pub(crate) fn clock_time_get(&mut self, mem: &mut GuestMemory, id: u32, _precision: u64, out: u32) -> WasiResult {
        mem.write_u64(out, now(id)?)
    }

    pub(crate) fn random_get(&mut self, mem: &mut GuestMemory, buf: u32, len: u32) -> WasiResult {
        let mut rest = mem.slice_mut(buf, len)?;
        while !rest.is_empty() {
            let n = match rustix::rand::getrandom(&mut *rest, rustix::rand::GetRandomFlags::empty()) {
                Ok(n) => n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(Errno::from_raw_os_error(e.raw_os_error())),
            };
            rest = &mut rest[n..];
        }
        Ok(())
    }

    pub(crate) fn sock_check(&mut self, fd: u32) -> WasiResult {
        // No descriptor here is ever a socket: a valid one is not supported, an invalid one is
        // a bad descriptor.
        self.get(fd)?;
        Err(Errno::NotSup)
    }

    /// Waits for the first of the subscribed events (see [`Subscription`]): clock timeouts,
    /// and readiness of descriptors. Files and in-memory streams are always ready; the host's
    /// stdin is polled.
    pub(crate) fn poll_oneoff(
        &mut self,
        mem: &mut GuestMemory,
        subs: u32,
        events: u32,
        n: u32,
        out: u32,
    ) -> WasiResult {
        if n == 0 {
            return Err(Errno::Inval);
        }
        let sub_bytes = mem.slice(subs, n.checked_mul(size::SUBSCRIPTION).ok_or(Errno::Fault)?)?;
        let subscriptions: Vec<Option<Subscription>> =
            sub_bytes.chunks_exact(size::SUBSCRIPTION as usize).map(Subscription::decode).collect();
        // Check the output array before waiting.
        mem.range(events, n.checked_mul(size::EVENT).ok_or(Errno::Fault)?)?;

        let mut ready = Vec::new();
        let mut stdin_waiters = Vec::new();
        let mut earliest: Option<(u64, Duration)> = None;
        let mut timers = Vec::new();
        for sub in subscriptions.iter() {
            match *sub {
                None => return Err(Errno::Inval),
                Some(Subscription::Clock { userdata, id, timeout, flags }) => {
                    let wait = match (id, flags & SUBSCRIPTION_CLOCK_ABSTIME != 0) {
                        (clockid::REALTIME | clockid::MONOTONIC, false) => Duration::from_nanos(timeout),
                        (clockid::REALTIME | clockid::MONOTONIC, true) => {
                            Duration::from_nanos(timeout.saturating_sub(now(id)?))
                        }
                        _ => {
                            ready.push(Event {
                                userdata,
                                error: Errno::Inval as u16,
                                kind: eventtype::CLOCK,
                                nbytes: 0,
                                flags: 0,
                            });
                            continue;
                        }
                    };
                    timers.push((userdata, wait));
                    if earliest.is_none_or(|(_, w)| wait < w) {
                        earliest = Some((userdata, wait));
                    }
                }
                Some(Subscription::FdRead { userdata, fd }) | Some(Subscription::FdWrite { userdata, fd }) => {
                    let kind = if matches!(sub, Some(Subscription::FdRead { .. })) {
                        eventtype::FD_READ
                    } else {
                        eventtype::FD_WRITE
                    };
                    let event =
                        |error: Errno, nbytes: u64| Event { userdata, error: error as u16, kind, nbytes, flags: 0 };
                    match (self.fds.get_mut(&fd), kind) {
                        (None, _) => ready.push(event(Errno::Badf, 0)),
                        (
                            Some(Descriptor::Input(InputStream { host: Some(HostStdio::Stdin), .. })),
                            eventtype::FD_READ,
                        ) => stdin_waiters.push(userdata),
                        (Some(Descriptor::File(f)), eventtype::FD_READ) => {
                            let size = f.file.metadata().map(|m| m.len()).unwrap_or(0);
                            let pos = std::io::Seek::stream_position(&mut f.file).unwrap_or(size);
                            ready.push(event(Errno::Success, size.saturating_sub(pos)));
                        }
                        (Some(Descriptor::Dir(_)), _) => ready.push(event(Errno::Badf, 0)),
                        (Some(_), _) => ready.push(event(Errno::Success, 0)),
                    }
                }
            }
        }

        if ready.is_empty() {
            let timeout = earliest.map(|(_, wait)| wait);
            let stdin_ready = if stdin_waiters.is_empty() {
                if let Some(wait) = timeout {
                    std::thread::sleep(wait);
                }
                false
            } else {
                poll_host_stdin(timeout)?
            };
            if stdin_ready {
                for userdata in stdin_waiters {
                    ready.push(Event { userdata, error: 0, kind: eventtype::FD_READ, nbytes: 1, flags: 0 });
                }
            } else if let Some((_, first)) = earliest {
                // Every timer that is due by now fires, the earliest at least.
                for (userdata, wait) in timers {
                    if wait <= first {
                        ready.push(Event { userdata, error: 0, kind: eventtype::CLOCK, nbytes: 0, flags: 0 });
                    }
                }
            }
        }

        for (i, event) in ready.iter().enumerate() {
            mem.write(events + i as u32 * size::EVENT, &event.encode())?;
        }
        mem.write_u32(out, ready.len() as u32)
    }
}

/// Waits until the host's stdin is readable or `timeout` passes; true if it is readable.
fn poll_host_stdin(timeout: Option<Duration>) -> WasiResult<bool> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let timeout = timeout.map(|t| Timespec { tv_sec: t.as_secs() as _, tv_nsec: t.subsec_nanos() as _ });
    loop {
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(n) => return Ok(n > 0),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Errno::from_raw_os_error(e.raw_os_error())),
        }
    }
}
