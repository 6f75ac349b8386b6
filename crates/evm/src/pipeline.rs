//! The ingest's fetch pipeline: `SourceOptions::concurrency` threads fetch
//! and transform one batch request each (`SourceOptions::blocks_per_request` blocks) at a time,
//! running ahead of the writer by at most a window of requests, and the writer takes the blocks
//! in order. Unlike one batch of requests after another, the node always has as many requests in
//! flight as allowed, including while the writer commits.

use std::collections::{BTreeMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::Scope;

use crate::error::{EvmError, Result};
use crate::source::RpcSource;
use crate::transform::{BlockFlows, transform_block};

/// What the workers and the writer share.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    wake: Condvar,
}

#[derive(Default)]
struct GateState {
    /// Requests handed to workers so far.
    claimed: usize,
    /// Requests taken by the writer so far.
    delivered: usize,
    /// Set when the pipeline is dropped: workers stop after their current request.
    stopped: bool,
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

type Answer = (usize, Result<Vec<BlockFlows>>);

/// Blocks `from..=to`, fetched and transformed ahead of the writer.
pub(crate) struct Pipeline {
    gate: Arc<Gate>,
    answers: Receiver<Answer>,
    /// Answers that came before an earlier request's.
    early: BTreeMap<usize, Result<Vec<BlockFlows>>>,
    /// The next request to hand to the writer.
    next: usize,
    requests: usize,
    ready: VecDeque<BlockFlows>,
}

/// Where one pipeline's requests are.
#[derive(Clone, Copy)]
struct Plan {
    from: u64,
    to: u64,
    per_request: u64,
    requests: usize,
    window: usize,
}

impl Pipeline {
    /// Starts the workers on `scope`; at most `window` requests run ahead of the writer.
    pub(crate) fn start<'scope, 'env: 'scope>(
        scope: &'scope Scope<'scope, 'env>,
        source: &'env RpcSource,
        from: u64,
        to: u64,
        window: usize,
    ) -> Self {
        let options = source.options();
        let per_request = u64::try_from(options.blocks_per_request.max(1)).unwrap_or(u64::MAX);
        let blocks = to.saturating_add(1).saturating_sub(from);
        let requests = usize::try_from(blocks.div_ceil(per_request)).unwrap_or(usize::MAX);
        let plan = Plan { from, to, per_request, requests, window: window.max(1) };
        let gate = Arc::new(Gate::default());
        let (sender, answers) = channel();
        for _ in 0..options.concurrency.clamp(1, requests.max(1)) {
            let gate = Arc::clone(&gate);
            let sender = sender.clone();
            scope.spawn(move || work(source, &gate, &sender, plan));
        }
        Self { gate, answers, early: BTreeMap::new(), next: 0, requests, ready: VecDeque::new() }
    }

    /// Returns the next `count` blocks in order (fewer at the end of the range).
    ///
    /// # Errors
    ///
    /// The first error met fetching or transforming them.
    pub(crate) fn take(&mut self, count: usize) -> Result<Vec<BlockFlows>> {
        while self.ready.len() < count && self.next < self.requests {
            let answer = loop {
                if let Some(answer) = self.early.remove(&self.next) {
                    break answer;
                }
                let (index, answer) = self.answers.recv().map_err(|_| EvmError::Range {
                    what: "the fetching threads stopped".to_owned(),
                })?;
                self.early.insert(index, answer);
            };
            self.next += 1;
            self.gate.lock().delivered = self.next;
            self.gate.wake.notify_all();
            self.ready.extend(answer?);
        }
        let count = count.min(self.ready.len());
        Ok(self.ready.drain(..count).collect())
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.gate.lock().stopped = true;
        self.gate.wake.notify_all();
    }
}

/// One worker: claims the next request within the window, fetches and transforms it, sends it.
fn work(source: &RpcSource, gate: &Gate, sender: &Sender<Answer>, plan: Plan) {
    loop {
        let index = {
            let mut state = gate.lock();
            loop {
                if state.stopped || state.claimed >= plan.requests {
                    return;
                }
                if state.claimed < state.delivered.saturating_add(plan.window) {
                    break;
                }
                state = gate.wake.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            state.claimed += 1;
            state.claimed - 1
        };
        let start = plan.from.saturating_add((index as u64).saturating_mul(plan.per_request));
        let end = start.saturating_add(plan.per_request).min(plan.to.saturating_add(1));
        let answer = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let raw = source.fetch_request(start..end)?;
            raw.iter().map(|raw| transform_block(raw).map_err(EvmError::from)).collect()
        }))
        .unwrap_or_else(|_| {
            Err(EvmError::Range { what: format!("fetching blocks {start}..{end} panicked") })
        });
        let failed = answer.is_err();
        if sender.send((index, answer)).is_err() || failed {
            return;
        }
    }
}
