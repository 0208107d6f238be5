//! Waiting and notification on shared-memory addresses (`memory.atomic.wait*` / `notify`).
//!
//! One process-wide table maps an address to the queue of threads waiting on it. A waiter checks
//! the value and enqueues itself under the table's lock, and a notifier dequeues under the same
//! lock, so a notification that follows a store can never be lost.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// One waiting thread: set to true when notified.
type Slot = Arc<(Mutex<bool>, Condvar)>;

fn table() -> &'static Mutex<HashMap<usize, VecDeque<Slot>>> {
    static TABLE: OnceLock<Mutex<HashMap<usize, VecDeque<Slot>>>> = OnceLock::new();
    TABLE.get_or_init(Mutex::default)
}

/// The value a waiter expects to find.
#[derive(Debug, Clone, Copy)]
pub enum Expected {
    /// `memory.atomic.wait32`.
    U32(u32),
    /// `memory.atomic.wait64`.
    U64(u64),
}

/// Blocks until notified (0), returns 1 at once if the value at `addr` differs from `expected`, or
/// 2 when `timeout` passes.
///
/// # Safety
///
/// `addr` must be aligned for `expected`'s size and point into a live shared memory.
pub unsafe fn wait(addr: *mut u8, expected: Expected, timeout: Option<Duration>) -> u32 {
    let slot: Slot = Arc::new((Mutex::new(false), Condvar::new()));
    {
        let mut table = table().lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the caller guarantees alignment and liveness; wasm threads race on these bytes
        // only through atomics or unsynchronised accesses the proposal allows.
        let equal = unsafe {
            match expected {
                Expected::U32(v) => AtomicU32::from_ptr(addr.cast()).load(Ordering::SeqCst) == v,
                Expected::U64(v) => AtomicU64::from_ptr(addr.cast()).load(Ordering::SeqCst) == v,
            }
        };
        if !equal {
            return 1;
        }
        table.entry(addr as usize).or_default().push_back(slot.clone());
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    let (lock, condvar) = &*slot;
    let mut notified = lock.lock().unwrap_or_else(|e| e.into_inner());
    while !*notified {
        match deadline {
            None => notified = condvar.wait(notified).unwrap_or_else(|e| e.into_inner()),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                notified = condvar.wait_timeout(notified, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
            }
        }
    }
    if *notified {
        return 0;
    }
    drop(notified);
    // Timed out: leave the queue, unless a notifier dequeued us in the meantime (then we count as
    // woken, as the notifier did).
    let mut table = table().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(queue) = table.get_mut(&(addr as usize))
        && let Some(i) = queue.iter().position(|s| Arc::ptr_eq(s, &slot))
    {
        queue.remove(i);
        if queue.is_empty() {
            table.remove(&(addr as usize));
        }
        return 2;
    }
    0
}

/// Wakes up to `count` threads waiting on `addr`; returns how many were woken.
pub fn notify(addr: *mut u8, count: u32) -> u32 {
    let mut table = table().lock().unwrap_or_else(|e| e.into_inner());
    let Some(queue) = table.get_mut(&(addr as usize)) else {
        return 0;
    };
    let mut woken = 0;
    while woken < count {
        let Some(slot) = queue.pop_front() else { break };
        let (lock, condvar) = &*slot;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        condvar.notify_one();
        woken += 1;
    }
    if queue.is_empty() {
        table.remove(&(addr as usize));
    }
    woken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_returns_not_equal_timeout_and_woken() {
        let cell = Box::leak(Box::new(AtomicU32::new(5)));
        let addr = cell.as_ptr().cast::<u8>();
        // SAFETY: the cell is aligned and lives forever.
        assert_eq!(unsafe { wait(addr, Expected::U32(4), None) }, 1);
        // SAFETY: as above.
        assert_eq!(unsafe { wait(addr, Expected::U32(5), Some(Duration::from_millis(10))) }, 2);
        let addr_bits = addr as usize;
        let waiter = std::thread::spawn(move || {
            // SAFETY: as above.
            unsafe { wait(addr_bits as *mut u8, Expected::U32(5), Some(Duration::from_secs(30))) }
        });
        // Notify until the waiter has enqueued itself and been woken.
        let mut woken = 0;
        while woken == 0 {
            woken = notify(addr, 1);
            std::thread::yield_now();
        }
        assert_eq!(woken, 1);
        assert_eq!(waiter.join().unwrap(), 0);
        assert_eq!(notify(addr, 10), 0);
    }
}
