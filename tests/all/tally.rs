//! Directive counts summed over the wast scripts of one suite, printed after the run.

use kiln_wast::WastStats;
use libtest_mimic::Failed;
use std::sync::Mutex;

/// Scripts run and their summed directive counts.
pub struct Tally(Mutex<Option<(usize, WastStats)>>);

impl Tally {
    pub const fn new() -> Tally {
        Tally(Mutex::new(None))
    }

    /// Adds one script's counts and turns its outcome into a test result.
    pub fn record(&self, stats: WastStats) -> Result<(), Failed> {
        let result = stats.check();
        {
            let mut summary = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let (files, total) = summary.get_or_insert_with(Default::default);
            *files += 1;
            let mut counts = stats;
            counts.failures.clear();
            total.merge(counts);
        }
        result.map_err(|e| Failed::from(format!("{e:?}")))
    }

    /// Prints `label: N scripts, counts` (nothing if no script ran).
    pub fn print(&self, label: &str) {
        let summary = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((files, total)) = &*summary {
            println!("{label}: {files} scripts, {total}");
        }
    }
}
