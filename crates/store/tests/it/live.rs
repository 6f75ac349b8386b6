//! Prevout resolution through the writer's live transactions, checked against a plain model of
//! the chain across commits, a crash, a rollback and a reorganisation.

use std::collections::{HashMap, HashSet};

use cointrail_store::{BlockOutputs, Prevout, Store, StoreError, StoreWriter};
use cointrail_types::{AddressKey, Hash32, Height, OutputId, TxNum};

use super::{hash, key, snapshot, spec};

/// One transaction to write, with what its lookups must find.
#[derive(Clone)]
struct TxSpec {
    txid: Hash32,
    /// Outpoints spent, with the output id each must resolve to.
    spends: Vec<(Hash32, u32, u64)>,
    /// Lookups made before the tx is written, with their expected answers.
    probes: Vec<(Hash32, u32, Prevout)>,
    outputs: Vec<(u64, Option<AddressKey>)>,
}

struct Block(u64, Vec<TxSpec>);

impl BlockOutputs for Block {
    fn output_count(&self) -> usize {
        self.1.iter().map(|tx| tx.outputs.len()).sum()
    }

    fn address(&self, position: usize) -> Option<&AddressKey> {
        self.1.iter().flat_map(|tx| &tx.outputs).nth(position).unwrap().1.as_ref()
    }
}

/// What the chain holds: every tx's first output and output count, which outputs are spent, and
/// the latest tx of each txid (the spendable one of BIP-0030 duplicates).
#[derive(Default, Clone)]
struct Model {
    txs: Vec<(Hash32, u64, u32)>,
    spent: HashSet<u64>,
    latest: HashMap<Hash32, usize>,
    outputs: u64,
}

impl Model {
    fn apply(&mut self, tx: &TxSpec) {
        for (_, _, id) in &tx.spends {
            assert!(self.spent.insert(*id));
        }
        self.latest.insert(tx.txid, self.txs.len());
        self.txs.push((tx.txid, self.outputs, tx.outputs.len() as u32));
        self.outputs += tx.outputs.len() as u64;
    }

    /// Outputs of the latest txs, spent or not, as (txid, vout, id).
    fn outpoints(&self) -> Vec<(Hash32, u32, u64)> {
        let mut all = Vec::new();
        for (index, (txid, first, count)) in self.txs.iter().enumerate() {
            if self.latest[txid] == index {
                all.extend((0..*count).map(|vout| (*txid, vout, first + u64::from(vout))));
            }
        }
        all
    }
}

/// A small deterministic generator (xorshift64*).
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Generates block `height`: 1-6 txs spending 0-3 random unspent outputs each, some reusing an
/// earlier txid, some sharing its first 16 bytes only, with probes of spent, unknown and out-of-range outpoints.
fn generate(model: &mut Model, height: u64, rng: &mut Rng, next_txid: &mut u64) -> Block {
    let mut txs = Vec::new();
    for _ in 0..=rng.below(6) {
        let outpoints = model.outpoints();
        let (spent, unspent): (Vec<_>, Vec<_>) =
            outpoints.iter().partition(|(_, _, id)| model.spent.contains(id));
        let mut probes = vec![(hash(7_000_000 + *next_txid), 0, Prevout::Unknown)];
        // Spent and missing outputs (what only inputs of invalid blocks name) are probed only for
        // txids that no other tx shares, in whole or in its first 16 bytes: a txid that is not
        // live may be found as a live tx with its key (a twin marked after it was spent), or as
        // the earlier of its BIP-0030 duplicates once a rebuild of the map cannot see that the
        // later was spent (the live map's documented limits, `crates/store/src/live.rs`).
        let own_key = |txid: &Hash32| {
            model.txs.iter().filter(|(t, ..)| t.0[..16] == txid.0[..16]).count() == 1
        };
        if let Some((txid, _, id)) = spent.get(rng.below(spent.len() as u64 + 1) as usize)
            && own_key(txid)
        {
            let vout = (id - model.txs[model.latest[txid]].1) as u32;
            probes.push((*txid, vout, Prevout::Spent(OutputId::new(*id))));
        }
        if let Some((txid, first, count)) = model.txs.last().filter(|(txid, ..)| own_key(txid)) {
            probes.push((*txid, *count, Prevout::Unknown));
            if !model.spent.contains(first) && model.latest[txid] == model.txs.len() - 1 {
                probes.push((*txid, 0, Prevout::Unspent(OutputId::new(*first))));
            }
        }
        let mut spends = Vec::new();
        let mut chosen = HashSet::new();
        for _ in 0..rng.below(4).min(unspent.len() as u64) {
            let (txid, vout, id) = unspent[rng.below(unspent.len() as u64) as usize];
            if chosen.insert(id) {
                spends.push((txid, vout, id));
            }
        }
        // No duplicate in the blocks the reorganisation removes (see `StoreWriter::live_repairs`).
        let duplicate = !(45..60).contains(&height) && rng.below(8) == 0;
        let txid = if spends.is_empty() && !model.txs.is_empty() && duplicate {
            // A duplicated txid (BIP-0030): the earlier tx's outputs can no longer be spent.
            model.txs[rng.below(model.txs.len() as u64) as usize].0
        } else if !model.txs.is_empty() && rng.below(5) == 0 {
            // A txid whose first 16 bytes (the live map's key) are an earlier tx's: a twin.
            *next_txid += 1;
            let mut bytes = model.txs[rng.below(model.txs.len() as u64) as usize].0.0;
            bytes[24..].copy_from_slice(&next_txid.to_le_bytes());
            Hash32(bytes)
        } else {
            *next_txid += 1;
            hash(1_000_000 + *next_txid)
        };
        let outputs = (0..=rng.below(4)).map(|n| (n + 1, Some(key(rng.below(30))))).collect();
        let tx = TxSpec { txid, spends, probes, outputs };
        model.apply(&tx);
        txs.push(tx);
    }
    Block(height, txs)
}

/// Writes `block` through `push_blocks`, checking every lookup on the way.
fn write(writer: &mut StoreWriter, block: Block) {
    let mut one = Some(Ok::<_, StoreError>(block));
    writer
        .push_blocks(
            || one.take(),
            |rows, block: &Block| {
                rows.push_block(&hash(block.0), &[block.0 as u8; 80], 100)?;
                for tx in &block.1 {
                    for (txid, vout, expected) in &tx.probes {
                        assert_eq!(
                            rows.find_prevout(txid, *vout),
                            *expected,
                            "probe at {}",
                            block.0
                        );
                    }
                    rows.push_tx(&tx.txid)?;
                    for (txid, vout, id) in &tx.spends {
                        let found = rows.find_prevout(txid, *vout);
                        assert_eq!(found, Prevout::Unspent(OutputId::new(*id)), "at {}", block.0);
                        rows.push_input(OutputId::new(*id))?;
                        let again = rows.find_prevout(txid, *vout);
                        assert_eq!(again, Prevout::Spent(OutputId::new(*id)), "double spend");
                    }
                    for (value, _) in &tx.outputs {
                        rows.push_output(*value)?;
                    }
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn prevouts_resolve_through_the_live_transactions_across_commits_a_crash_and_a_reorg() {
    let (dir, reference) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut rng, mut next_txid) = (Rng(0x1234_5678), 0u64);
    let mut model = Model::default();
    let mut chain: Vec<Block> = Vec::new();
    let mut writer = StoreWriter::open(dir.path(), &spec()).unwrap();
    for height in 0..60u64 {
        let block = generate(&mut model, height, &mut rng, &mut next_txid);
        // Kept for the reference store, which is written in one go.
        chain.push(Block(height, block.1.clone()));
        write(&mut writer, block);
        if height % 3 == 2 {
            writer.commit().unwrap();
        }
        if height == 29 {
            // A crash after a commit: the live transactions are rebuilt from the columns.
            drop(writer);
            writer = StoreWriter::open(dir.path(), &spec()).unwrap();
            assert!(writer.recovery().is_some());
        }
    }
    writer.commit().unwrap();

    // A batch that is rolled back leaves the live transactions as they were.
    let block = generate(&mut model.clone(), 60, &mut rng.clone(), &mut next_txid.clone());
    write(&mut writer, block);
    writer.rollback().unwrap();

    // A reorganisation: blocks above 44 go, another branch comes.
    writer.unwind_to(Height::new(44)).unwrap();
    chain.truncate(45);
    let mut model = Model::default();
    for block in &chain {
        block.1.iter().for_each(|tx| model.apply(tx));
    }
    let mut rng = Rng(0x9876_5432);
    for height in 45..70u64 {
        let block = generate(&mut model, height, &mut rng, &mut next_txid);
        chain.push(Block(height, block.1.clone()));
        write(&mut writer, block);
        if height % 4 == 0 {
            writer.commit().unwrap();
        }
    }
    assert_eq!(writer.live_repairs(), 0, "every input was resolved through the live map");
    assert!(writer.live_twins() > 10, "twins were written: {}", writer.live_twins());
    writer.finish().unwrap();

    let mut writer = StoreWriter::open(reference.path(), &spec()).unwrap();
    for block in chain {
        write(&mut writer, block);
    }
    writer.finish().unwrap();
    assert_eq!(snapshot(dir.path()), snapshot(reference.path()), "same bytes as one ingest");

    let store = Store::open(dir.path()).unwrap();
    let view = store.view();
    for (txid, index) in &model.latest {
        assert_eq!(view.find_tx(txid), Some(TxNum::new(*index as u32)));
    }
    let unspent = (0..model.outputs).filter(|id| !view.is_spent(OutputId::new(*id))).count();
    assert_eq!(unspent as u64, model.outputs - model.spent.len() as u64);
}
