//! The deadline queue: which key (a thread slot) is due when, earliest
//! first, with cancel. An indexed binary min-heap: insert, cancel and pop are
//! O(log n), and nothing allocates once [`DeadlineQueue::reserve`] has made
//! room for every key — so the timer interrupt never allocates.
//!
//! Equal deadlines leave in insertion order (a sequence number breaks ties).

use alloc::collections::TryReserveError;
use alloc::vec::Vec;

/// `pos` entry of a key that is not queued.
const ABSENT: usize = usize::MAX;

#[derive(Clone, Copy, Debug)]
struct Entry {
    deadline: u64,
    seq: u64,
    key: usize,
}

impl Entry {
    fn before(&self, other: &Entry) -> bool {
        (self.deadline, self.seq) < (other.deadline, other.seq)
    }
}

/// Keys `0..n` with at most one deadline each.
pub struct DeadlineQueue {
    heap: Vec<Entry>,
    /// Where each key sits in `heap`, or [`ABSENT`].
    pos: Vec<usize>,
    next_seq: u64,
}

impl DeadlineQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        Self {
            heap: Vec::new(),
            pos: Vec::new(),
            next_seq: 0,
        }
    }

    /// Makes room for keys `0..keys`, so inserts never allocate.
    pub fn reserve(&mut self, keys: usize) -> Result<(), TryReserveError> {
        if keys > self.pos.len() {
            self.pos.try_reserve(keys - self.pos.len())?;
            self.pos.resize(keys, ABSENT);
        }
        self.heap.try_reserve(keys.saturating_sub(self.heap.len()))
    }

    /// Number of queued deadlines.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Whether `key` has a deadline queued.
    pub fn contains(&self, key: usize) -> bool {
        self.pos.get(key).is_some_and(|&p| p != ABSENT)
    }

    /// Queues `key` at `deadline`, replacing any deadline it had.
    ///
    /// # Panics
    /// If `key` is outside what [`DeadlineQueue::reserve`] made room for.
    pub fn insert(&mut self, key: usize, deadline: u64) {
        assert!(key < self.pos.len(), "deadline key {key} not reserved");
        self.cancel(key);
        let entry = Entry {
            deadline,
            seq: self.next_seq,
            key,
        };
        self.next_seq += 1;
        let at = self.heap.len();
        self.heap.push(entry);
        self.pos[key] = at;
        self.sift_up(at);
    }

    /// Removes `key`'s deadline; false if it had none.
    pub fn cancel(&mut self, key: usize) -> bool {
        let Some(&at) = self.pos.get(key) else {
            return false;
        };
        if at == ABSENT {
            return false;
        }
        self.remove_at(at);
        true
    }

    /// The earliest deadline and its key.
    pub fn peek(&self) -> Option<(usize, u64)> {
        self.heap.first().map(|e| (e.key, e.deadline))
    }

    /// Removes and returns the earliest entry if its deadline is at or
    /// before `now`.
    pub fn pop_expired(&mut self, now: u64) -> Option<(usize, u64)> {
        let first = *self.heap.first()?;
        if first.deadline > now {
            return None;
        }
        self.remove_at(0);
        Some((first.key, first.deadline))
    }

    fn remove_at(&mut self, at: usize) {
        let removed = self.heap.swap_remove(at);
        self.pos[removed.key] = ABSENT;
        if at < self.heap.len() {
            self.pos[self.heap[at].key] = at;
            self.sift_down(at);
            self.sift_up(at);
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.pos[self.heap[a].key] = a;
        self.pos[self.heap[b].key] = b;
    }

    fn sift_up(&mut self, mut at: usize) {
        while at > 0 {
            let parent = (at - 1) / 2;
            if !self.heap[at].before(&self.heap[parent]) {
                break;
            }
            self.swap(at, parent);
            at = parent;
        }
    }

    fn sift_down(&mut self, mut at: usize) {
        loop {
            let left = 2 * at + 1;
            let right = left + 1;
            let mut least = at;
            if left < self.heap.len() && self.heap[left].before(&self.heap[least]) {
                least = left;
            }
            if right < self.heap.len() && self.heap[right].before(&self.heap[least]) {
                least = right;
            }
            if least == at {
                break;
            }
            self.swap(at, least);
            at = least;
        }
    }
}

impl Default for DeadlineQueue {
    fn default() -> Self {
        Self::new()
    }
}
