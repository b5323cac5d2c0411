//! Progress lines for long loads. evcxr shows whole lines only, so this prints a separate line
//! at every quarter (no carriage returns).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts finished items from many threads and prints `label: 25% (n/total)` lines.
pub(crate) struct Progress {
    label: String,
    total: usize,
    done: AtomicUsize,
    enabled: bool,
}

impl Progress {
    /// Loads below `min_total` items print nothing.
    pub fn new(label: impl Into<String>, total: usize, enabled: bool, min_total: usize) -> Self {
        Self { label: label.into(), total, done: AtomicUsize::new(0), enabled: enabled && total >= min_total }
    }

    /// One more item finished.
    pub fn tick(&self) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.enabled || self.total == 0 {
            return;
        }
        let quarter = |k: usize| (k * 4) / self.total;
        if quarter(n) != quarter(n - 1) {
            println!("  {}: {}% ({n}/{})", self.label, quarter(n) * 25, self.total);
        }
    }
}
