//! When the node next has work that no request brings: the earliest of its partitions'
//! deadlines (core's `HostedPartition::poll_timeout`: an acks=all write's timeout, a follower
//! falling out of the ISR, an ISR proposal to send again, `flush.ms`) and the group
//! coordinator's (`HostedGroups::poll_timeout`). The timer task (`runnel`'s `timers`) sleeps
//! until the earliest of them, or until one that is earlier is set; nothing ticks at a fixed
//! rate, so an idle node with 10,000 partitions does no periodic work for them.
//!
//! Every input to a partition ends in `Broker::carry_out`, which hands the partition's next
//! deadline to [`Deadlines::schedule`]. That is one atomic load on the produce path when a
//! wake at or before it is already set (the usual case: an acks=all timeout is later than
//! the one before it); only an earlier deadline takes the lock. A wake that comes early is
//! harmless: the partition's own `poll_timeout` is asked again, and it is rescheduled.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

/// No wake set for a partition.
const NONE: u64 = u64::MAX;

/// How long after a tick that could not meet its partition's deadline (an fsync that fails)
/// the partition is ticked again: the old fixed tick's period.
pub const RETRY_MS: u64 = 100;

/// The wake a partition has in [`Deadlines`]: kept on the partition, so the produce path
/// reads it without a lock.
#[derive(Debug)]
pub struct Wake(AtomicU64);

impl Default for Wake {
    fn default() -> Self {
        Self(AtomicU64::new(NONE))
    }
}

/// The partitions' pending wakes, earliest first, and a signal for the timer task.
#[derive(Debug, Default)]
pub struct Deadlines {
    /// (due in ms since the Unix epoch, topic, partition index).
    due: Mutex<BTreeSet<(u64, String, i32)>>,
    /// Woken when a wake earlier than the timer's sleep is set, or the group coordinator's
    /// state changed.
    changed: Notify,
}

impl Deadlines {
    /// Sets a wake at `due_ms` for partition `index` of `topic` (whose [`Wake`] is `wake`),
    /// unless one at or before it is already set. `None`: nothing is due (a wake already set
    /// stays; it finds nothing to do).
    pub fn schedule(&self, wake: &Wake, topic: &str, index: i32, due_ms: Option<u64>) {
        let Some(due) = due_ms else {
            return;
        };
        if wake.0.load(Ordering::Acquire) <= due {
            return;
        }
        let mut set = self.due.lock().unwrap_or_else(|p| p.into_inner());
        if wake.0.load(Ordering::Acquire) <= due {
            return; // another thread set an earlier one meanwhile
        }
        let earliest = set.first().is_none_or(|(first, ..)| due < *first);
        replace(&mut set, wake, topic, index, due);
        drop(set);
        if earliest {
            self.changed.notify_one();
        }
    }

    /// Sets the wake for partition `index` of `topic` to `due_ms`, replacing any earlier one.
    pub fn reschedule(&self, wake: &Wake, topic: &str, index: i32, due_ms: u64) {
        let mut set = self.due.lock().unwrap_or_else(|p| p.into_inner());
        replace(&mut set, wake, topic, index, due_ms);
    }

    /// Removes and returns the partitions whose wake is due at `now_ms`. Each one's [`Wake`]
    /// must be cleared with [`Deadlines::woken`] before its deadline is asked again.
    pub fn take_due(&self, now_ms: u64) -> Vec<(String, i32)> {
        let mut set = self.due.lock().unwrap_or_else(|p| p.into_inner());
        let mut due = Vec::new();
        while set.first().is_some_and(|(at, ..)| *at <= now_ms) {
            if let Some((_, topic, index)) = set.pop_first() {
                due.push((topic, index));
            }
        }
        due
    }

    /// A partition taken by [`Deadlines::take_due`] has no wake set any more.
    pub fn woken(&self, wake: &Wake) {
        wake.0.store(NONE, Ordering::Release);
    }

    /// The earliest wake set, in ms since the Unix epoch.
    pub fn next_ms(&self) -> Option<u64> {
        let set = self.due.lock().unwrap_or_else(|p| p.into_inner());
        set.first().map(|(at, ..)| *at)
    }

    /// Tells the timer task to look again (the group coordinator's deadlines changed).
    pub fn poke(&self) {
        self.changed.notify_one();
    }

    /// Resolves when a wake earlier than those before was set, or [`Deadlines::poke`] was
    /// called (a notification that came while nobody waited is kept for the next call).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// Sets partition `index` of `topic`'s wake to `due_ms` in `set` (held locked by the caller),
/// in place of the one it had.
fn replace(
    set: &mut BTreeSet<(u64, String, i32)>,
    wake: &Wake,
    topic: &str,
    index: i32,
    due_ms: u64,
) {
    let topic = topic.to_string();
    let before = wake.0.swap(due_ms, Ordering::AcqRel);
    if before != NONE {
        set.remove(&(before, topic.clone(), index));
    }
    set.insert((due_ms, topic, index));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_earliest_wake_per_partition_is_kept_and_due_ones_come_out_in_order() {
        let deadlines = Deadlines::default();
        let (a, b) = (Wake::default(), Wake::default());
        deadlines.schedule(&a, "t", 0, Some(500));
        deadlines.schedule(&a, "t", 0, Some(900)); // later: the 500 wake covers it
        deadlines.schedule(&b, "t", 1, Some(300));
        deadlines.schedule(&a, "t", 0, Some(200)); // earlier: replaces the 500 wake
        deadlines.schedule(&b, "t", 1, None);
        assert_eq!(deadlines.next_ms(), Some(200));
        assert_eq!(deadlines.take_due(100), Vec::<(String, i32)>::new());
        assert_eq!(
            deadlines.take_due(300),
            vec![("t".to_string(), 0), ("t".to_string(), 1)]
        );
        assert_eq!(
            deadlines.next_ms(),
            None,
            "the 500 wake was replaced, not kept"
        );
        deadlines.woken(&a);
        deadlines.schedule(&a, "t", 0, Some(900));
        assert_eq!(
            deadlines.next_ms(),
            Some(900),
            "a woken partition can be set again"
        );
        deadlines.reschedule(&a, "t", 0, 1_000);
        assert_eq!(
            deadlines.next_ms(),
            Some(1_000),
            "a reschedule may move a wake later"
        );
        assert_eq!(deadlines.take_due(999), Vec::<(String, i32)>::new());
    }
}
