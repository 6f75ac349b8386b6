//! The generator: an economy of entities that pays itself, written block by block.
//!
//! Every parameter is documented (with its source) in `docs/synth.md`. Hot-loop rules: no heap
//! allocation per transaction (scratch buffers live in [`Gen`]), one SHA-256d per transaction for
//! its txid, blocks written through a `BufWriter`.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::Path;

use cointrail_btc::{Network, meets_target};
use cointrail_types::Hash32;
use fs_err as fs;
use sha2::{Digest, Sha256};

use crate::blkout::BlkWriter;
use crate::genesis::{GENESIS_VALUE, genesis_block, genesis_time};
use crate::rng::Rng;
use crate::script::{
    ScriptKind, address_key, varint_size, write_script_pubkey, write_script_sig, write_varint,
    write_witness,
};
use crate::taint::{AMOUNT_POLICIES, Amounts, THEFTS, haircut, queue};
use crate::truth::{
    CoinjoinTruth, EntityTruth, ExchangeTruth, PolicyTruth, TRUTH_FORMAT, TheftTruth, Truth,
};
use crate::{Activity, SynthConfig, SynthError, SynthSummary};

/// Regtest proof-of-work bits: every block's header hash is checked against them.
const BITS: u32 = 0x207f_ffff;
/// Header version with the BIP-9 top bits.
const BLOCK_VERSION: u32 = 0x2000_0000;
/// Subsidy of the first era and the regtest halving interval.
const SUBSIDY: u64 = 5_000_000_000;
const HALVING_INTERVAL: u32 = 150;
/// Outputs below this are not created: change below it goes to the fee.
const DUST: u64 = 1_000;
/// `addr` of an `OP_RETURN` output; `addr` of an output whose address is created at emission.
const NO_ADDR: u32 = u32::MAX;
const NEW_ADDR: u32 = u32::MAX - 1;
/// `kind` of an `OP_RETURN` output.
const KIND_OP_RETURN: u8 = 255;
/// `taint` of an untainted output; `funded_pos` of an entity not in the funded list.
const NONE: u32 = u32::MAX;
/// Credits to users remembered as recent activity ([`Activity::Recent`]).
const ACTIVE_RING: usize = 1 << 20;
/// Permille of payments to a user that go to a recently active one ([`Activity::Recent`]).
const PAYEE_RECENT: u64 = 900;
/// Permille of user payments made by a recently credited user ([`Activity::Recent`]).
const PAYER_RECENT: u64 = 900;
/// Recent picks are uniform over the last this many joined users or credits, then fall off as one
/// over the distance ([`recent_offset`]).
const RECENT_USERS: u64 = 4096;
const RECENT_CREDITS: u64 = 1024;

/// Address roles, as written in `truth_addresses.tsv`.
const ROLE_NAMES: [&str; 12] = [
    "receive",
    "change",
    "deposit",
    "hot",
    "coinbase",
    "invoice",
    "premix",
    "postmix",
    "coinjoin",
    "thief",
    "coordinator_fee",
    "cold",
];
const R_RECEIVE: u8 = 0;
const R_CHANGE: u8 = 1;
const R_DEPOSIT: u8 = 2;
const R_HOT: u8 = 3;
const R_COINBASE: u8 = 4;
const R_INVOICE: u8 = 5;
const R_PREMIX: u8 = 6;
const R_POSTMIX: u8 = 7;
const R_MIXED: u8 = 8;
const R_THIEF: u8 = 9;
const R_FEE: u8 = 10;
const R_COLD: u8 = 11;

/// Output script mix of users' wallets, per mille, in [`ScriptKind::ALL`] order
/// (P2PKH, P2SH, P2WPKH, P2WSH, P2TR).
const USER_SCRIPT_MIX: [u64; 5] = [100, 120, 580, 50, 150];
/// Output script mix of services' wallets.
const SERVICE_SCRIPT_MIX: [u64; 5] = [50, 200, 550, 0, 200];

/// Mining pools: name, hashrate share in percent, coinbase script.
const POOLS: [(&str, u64, ScriptKind); 8] = [
    ("Granite Pool", 29, ScriptKind::P2wpkh),
    ("Antler Pool", 25, ScriptKind::P2pkh),
    ("Via Ridge Pool", 13, ScriptKind::P2wpkh),
    ("Fjord Pool", 11, ScriptKind::P2pkh),
    ("Spindle Pool", 7, ScriptKind::P2wpkh),
    ("Basin Pool", 5, ScriptKind::P2sh),
    ("Lumen Pool", 4, ScriptKind::P2tr),
    ("Solo Miners", 6, ScriptKind::P2wpkh),
];

/// Exchanges: name, hot-wallet script, deposit-address script.
const EXCHANGES: [(&str, ScriptKind, ScriptKind); 12] = [
    ("Northgate Exchange", ScriptKind::P2wpkh, ScriptKind::P2wpkh),
    ("Harbor Exchange", ScriptKind::P2wsh, ScriptKind::P2sh),
    ("Summit Exchange", ScriptKind::P2sh, ScriptKind::P2wpkh),
    ("Meridian Exchange", ScriptKind::P2wpkh, ScriptKind::P2pkh),
    ("Lantern Exchange", ScriptKind::P2tr, ScriptKind::P2tr),
    ("Orchard Exchange", ScriptKind::P2wpkh, ScriptKind::P2wpkh),
    ("Quarry Exchange", ScriptKind::P2wsh, ScriptKind::P2wpkh),
    ("Tidewater Exchange", ScriptKind::P2sh, ScriptKind::P2sh),
    ("Beacon Exchange", ScriptKind::P2wpkh, ScriptKind::P2wpkh),
    ("Cobalt Exchange", ScriptKind::P2wpkh, ScriptKind::P2tr),
    ("Juniper Exchange", ScriptKind::P2wsh, ScriptKind::P2wpkh),
    ("Vantage Exchange", ScriptKind::P2pkh, ScriptKind::P2pkh),
];

/// Whirlpool pools: denomination and pool fee paid in tx0 (satoshis).
const WHIRLPOOL: [(u64, u64); 4] =
    [(100_000, 5_000), (1_000_000, 50_000), (5_000_000, 175_000), (50_000_000, 1_750_000)];

/// CoinJoins per block at 2000 transactions per block, in thousandths (scaled by
/// `max(txs_per_block, 1000) / 2000`): Whirlpool, JoinMarket, Wasabi 2, Wasabi 1.
const COINJOIN_RATES: [u64; 4] = [2_000, 500, 100, 50];

/// The coordinators, in entity order.
const COORDINATORS: [&str; 3] =
    ["Whirlpool coordinator", "Wasabi 1 coordinator", "Wasabi 2 coordinator"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Miner,
    Exchange,
    Service,
    Coordinator,
    Thief,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Miner => "miner",
            Self::Exchange => "exchange",
            Self::Service => "service",
            Self::Coordinator => "coinjoin_coordinator",
            Self::Thief => "thief",
        }
    }
}

/// An unspent output the generator tracks, with its taint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Utxo {
    txid: [u8; 32],
    value: u64,
    vout: u32,
    addr: u32,
    /// Bit `k`: poisoned by theft `k`.
    poison: u8,
    /// Index into the taint slab, or [`NONE`].
    taint: u32,
}

/// A planned output.
#[derive(Debug, Clone, Copy)]
struct OutSpec {
    /// Address id, [`NEW_ADDR`] (created at emission) or [`NO_ADDR`] (`OP_RETURN`).
    addr: u32,
    owner: u32,
    value: u64,
    kind: u8,
    role: u8,
    change: bool,
    /// Remember a new address in the owner's reusable addresses.
    remember: bool,
    data_len: u8,
}

impl OutSpec {
    fn new(owner: u32, kind: ScriptKind, role: u8) -> Self {
        Self {
            addr: NEW_ADDR,
            owner,
            value: 0,
            kind: kind as u8,
            role,
            change: false,
            remember: false,
            data_len: 0,
        }
    }

    fn op_return(data_len: u8) -> Self {
        Self {
            addr: NO_ADDR,
            owner: NONE,
            value: 0,
            kind: KIND_OP_RETURN,
            role: 0,
            change: false,
            remember: false,
            data_len,
        }
    }

    fn size(&self) -> u64 {
        if self.kind == KIND_OP_RETURN {
            8 + 1 + 2 + u64::from(self.data_len)
        } else {
            ScriptKind::from_u8(self.kind).output_size()
        }
    }
}

struct Entity {
    kind: Kind,
    script: ScriptKind,
    reuse_change: bool,
    funded_pos: u32,
    utxos: Vec<Utxo>,
    /// Reusable receive addresses (users, services), hot-wallet addresses (exchanges), coinbase
    /// addresses (pools), fee addresses (coordinators).
    addrs: Vec<u32>,
}

/// An entry of a Whirlpool pool's queue of mixable outputs.
#[derive(Debug, Clone, Copy)]
struct WhirlEntry {
    utxo: Utxo,
    premix: bool,
}

/// A scripted step of a theft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Steal,
    Split,
    Peel(u32),
    Coinjoin(u32),
    Deposit,
}

struct Task {
    height: u32,
    theft: usize,
    action: Action,
    utxos: Vec<Utxo>,
}

/// Per-theft record, filled as it plays out.
struct TheftState {
    thief: u32,
    victim: u32,
    height: u32,
    txid: Option<[u8; 32]>,
    seeds: Vec<([u8; 32], u32)>,
    amount: u64,
    clean: Option<([u8; 32], u32, u64)>,
    split: Option<[u8; 32]>,
    peel: Vec<[u8; 32]>,
    coinjoin: Option<[u8; 32]>,
    deposits: Vec<[u8; 32]>,
    /// Per exchange ordinal: poison, haircut, FIFO, LIFO.
    reached: Vec<[u64; 4]>,
    fees: [u64; 4],
}

/// A participant candidate of a CoinJoin: entity, index of its largest output, its value.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    entity: u32,
    index: usize,
    value: u64,
}

struct Gen {
    network: Network,
    salt: u64,
    tpb: u32,
    rng: Rng,
    addr_owner: Vec<u32>,
    addr_kind: Vec<u8>,
    addr_role: Vec<u8>,
    ents: Vec<Entity>,
    names: Vec<String>,
    first_ex: u32,
    n_ex: u32,
    first_svc: u32,
    n_svc: u32,
    first_coord: u32,
    first_thief: u32,
    first_user: u32,
    n_users: u32,
    funded: Vec<u32>,
    /// Whether payers and payees are drawn from recently active users ([`Activity::Recent`]).
    recent: bool,
    /// Ring of the users most recently credited with an output ([`ACTIVE_RING`] long with
    /// [`Activity::Recent`], else empty), and the number of credits pushed into it.
    active: Vec<u32>,
    active_pushed: u64,
    /// Blocks of the chain, and users who have joined by the current block ([`Activity::Recent`]).
    blocks: u32,
    joined: u32,
    deposits: Vec<Vec<Utxo>>,
    whirl: [Vec<WhirlEntry>; 4],
    denoms: Vec<u64>,
    // Scratch of the transaction being built.
    ins: Vec<Utxo>,
    outs: Vec<OutSpec>,
    new_utxos: Vec<Utxo>,
    cands: Vec<Candidate>,
    body: Vec<u8>,
    cb: Vec<u8>,
    block: Vec<u8>,
    txids: Vec<[u8; 32]>,
    merkle: Vec<[u8; 32]>,
    line: Vec<u8>,
    block_fees: u64,
    block_txs: u32,
    /// Inputs and outputs of the last emitted transaction.
    last_io: (usize, usize),
    // Counters.
    txs: u64,
    inputs: u64,
    outputs: u64,
    value: u64,
    // Truth.
    change_tsv: BufWriter<fs::File>,
    coinjoins: Vec<CoinjoinTruth>,
    thefts: Vec<TheftState>,
    tasks: Vec<Task>,
    slab: Vec<Amounts>,
    free: Vec<u32>,
    // Taint scratch.
    t_inputs: Vec<(u64, u64)>,
    t_parts: Vec<u64>,
    t_share: Vec<u64>,
    t_out: Vec<Amounts>,
    t_poison: Vec<u8>,
}

/// How far back (`0..len`) a recent pick reaches: uniform over the last `window`, then each
/// doubling of the distance as likely as the window, so that the chance of an entry falls off as
/// one over its distance without the newest entries taking a large share.
fn recent_offset(rng: &mut Rng, window: u64, len: u64) -> u64 {
    if len <= window {
        return rng.below(len.max(1));
    }
    rng.log_uniform_exact(window, len + window - 1) - window
}

/// Generates the chain: see [`crate::generate`].
pub(crate) fn run(
    config: &SynthConfig,
    out: &Path,
    progress: &mut dyn FnMut(u32),
) -> Result<SynthSummary, SynthError> {
    if !matches!(config.network, Network::Regtest | Network::Mainnet) {
        return Err(SynthError::Config(format!(
            "network {} is not supported: use regtest or mainnet",
            config.network
        )));
    }
    if config.txs_per_block == 0 {
        return Err(SynthError::Config("txs_per_block must be at least 1".to_owned()));
    }
    if config.file_size_limit < 4096 {
        return Err(SynthError::Config("file_size_limit must be at least 4096 bytes".to_owned()));
    }
    if out.exists() {
        if fs::read_dir(out)?.next().is_some() {
            return Err(SynthError::NotEmpty { path: out.to_owned() });
        }
    } else {
        fs::create_dir_all(out)?;
    }
    let mut rng = Rng::new(config.seed);
    let xor = if config.xor {
        let mut key = [0u8; 8];
        for byte in &mut key {
            *byte = u8::try_from(rng.range(1, 255)).unwrap_or(1);
        }
        fs::write(out.join("xor.dat"), key)?;
        Some(key)
    } else {
        None
    };
    let mut writer = BlkWriter::new(out, config.network.magic(), xor, config.file_size_limit);
    let change_tsv =
        BufWriter::with_capacity(1 << 16, fs::File::create(out.join("truth_change.tsv"))?);
    let mut g = Gen::new(config, rng, change_tsv);
    g.change_tsv.write_all(b"txid\tvout\tentity\n")?;

    // Genesis.
    let mut block = genesis_block(config.network);
    let mut header = [0u8; 80];
    header.copy_from_slice(&block[..80]);
    let mut prev = sha256d(&[&header]);
    let mut time = genesis_time(config.network);
    g.txs = 1;
    g.outputs = 1;
    g.value = GENESIS_VALUE;
    writer.push(0, &mut block, None)?;
    progress(0);

    let mut tip = prev;
    for height in 1..=config.blocks {
        time = (time + 1).max(
            genesis_time(config.network)
                .saturating_add(height.saturating_mul(600))
                .saturating_add(u32::try_from(g.rng.below(600)).unwrap_or(0))
                .saturating_sub(300),
        );
        g.build_block(height, &prev, time)?;
        tip = g.header_hash();
        prev = tip;
        // Hold a block back now and then (~1 in 12), to be written after a later one (up to 7
        // heights on), as Core's parallel download leaves them.
        let hold = g.rng.chance(80).then(|| height + g.rng.range32(1, 7));
        let hold = hold.filter(|&until| until <= config.blocks);
        writer.push(height, &mut g.block, hold)?;
        progress(height);
    }
    writer.finish()?;
    g.change_tsv.flush()?;
    let summary = SynthSummary {
        blocks: u64::from(config.blocks) + 1,
        txs: g.txs,
        outputs: g.outputs,
        inputs: g.inputs,
        total_output_value: g.value,
        bytes: writer.bytes,
        files: writer.files(),
        tip_hash: Hash32(tip),
    };
    g.write_truth(config, out)?;
    let path = out.join("summary.json");
    let text = serde_json::to_string_pretty(&summary)
        .map_err(|source| SynthError::Json { file: path.clone(), source })?;
    fs::write(&path, text + "\n")?;
    Ok(summary)
}

/// Double SHA-256 of the concatenation of `parts`.
fn sha256d(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    Sha256::digest(hasher.finalize()).into()
}

/// Appends the display (byte-reversed) hex of a hash.
fn push_hex_rev(out: &mut Vec<u8>, hash: &[u8; 32]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in hash.iter().rev() {
        out.push(HEX[usize::from(byte >> 4)]);
        out.push(HEX[usize::from(byte & 15)]);
    }
}

fn txid_text(txid: &[u8; 32]) -> String {
    Hash32(*txid).to_string()
}

fn outpoint_text(txid: &[u8; 32], vout: u32) -> String {
    format!("{}:{vout}", Hash32(*txid))
}

/// Rounds down to two significant decimal digits (round-number payments).
fn round2(mut x: u64) -> u64 {
    let mut p = 1u64;
    while x / p >= 100 {
        p *= 10;
    }
    x = x / p * p;
    x
}

/// Subsidy at `height` on regtest: 50 BTC halving every 150 blocks.
fn subsidy(height: u32) -> u64 {
    let halvings = height / HALVING_INTERVAL;
    if halvings >= 64 { 0 } else { SUBSIDY >> halvings }
}

/// Wasabi 2's standard denominations: 2^n, 3^n, 2*3^n, 10^n, 2*10^n, 5*10^n satoshis from 5,000
/// sats to 1,374.38953472 BTC, ascending.
fn wasabi2_denominations() -> Vec<u64> {
    const MIN: u64 = 5_000;
    const MAX: u64 = 137_438_953_472;
    let mut all = Vec::new();
    let mut p = 1u64;
    while p <= MAX {
        all.push(p);
        p *= 2;
    }
    p = 1;
    while p <= MAX {
        all.push(p);
        all.push(2 * p);
        p *= 3;
    }
    p = 1;
    while p <= MAX {
        all.extend([p, 2 * p, 5 * p]);
        p *= 10;
    }
    all.retain(|&d| (MIN..=MAX).contains(&d));
    all.sort_unstable();
    all.dedup();
    all
}

impl Gen {
    fn new(config: &SynthConfig, mut rng: Rng, change_tsv: BufWriter<fs::File>) -> Self {
        let total_txs = u64::from(config.blocks) * u64::from(config.txs_per_block);
        let n_users = u32::try_from((total_txs / 8).clamp(100, 50_000_000)).unwrap_or(100);
        let n_svc = u32::try_from((total_txs / 2000).clamp(10, 20_000)).unwrap_or(10);
        let n_ex = u32::try_from((4 + total_txs / 1_000_000).clamp(4, 12)).unwrap_or(4);
        let salt = rng.next_u64();
        let mut ents = Vec::new();
        let mut names = Vec::new();
        let entity = |kind, script, reuse_change| Entity {
            kind,
            script,
            reuse_change,
            funded_pos: NONE,
            utxos: Vec::new(),
            addrs: Vec::new(),
        };
        for (name, _, script) in POOLS {
            ents.push(entity(Kind::Miner, script, false));
            names.push(name.to_owned());
        }
        let first_ex = u32::try_from(ents.len()).unwrap_or(0);
        for &(name, hot, _) in EXCHANGES.iter().take(n_ex as usize) {
            ents.push(entity(Kind::Exchange, hot, true));
            names.push(name.to_owned());
        }
        let first_svc = u32::try_from(ents.len()).unwrap_or(0);
        for i in 0..n_svc {
            let script = ScriptKind::ALL[rng.weighted(&SERVICE_SCRIPT_MIX)];
            ents.push(entity(Kind::Service, script, false));
            let what = if i % 3 == 0 { "processor" } else { "merchant" };
            names.push(format!("{what}-{}", i + 1));
        }
        let first_coord = u32::try_from(ents.len()).unwrap_or(0);
        for name in COORDINATORS {
            ents.push(entity(Kind::Coordinator, ScriptKind::P2wpkh, false));
            names.push(name.to_owned());
        }
        let first_thief = u32::try_from(ents.len()).unwrap_or(0);
        for i in 0..THEFTS {
            ents.push(entity(Kind::Thief, ScriptKind::P2wpkh, false));
            names.push(format!("thief-{}", i + 1));
        }
        let first_user = u32::try_from(ents.len()).unwrap_or(0);
        ents.reserve(n_users as usize);
        for _ in 0..n_users {
            let script = ScriptKind::ALL[rng.weighted(&USER_SCRIPT_MIX)];
            let reuse_change = rng.chance(100);
            ents.push(entity(Kind::User, script, reuse_change));
        }
        Self {
            network: config.network,
            salt,
            tpb: config.txs_per_block,
            rng,
            addr_owner: Vec::new(),
            addr_kind: Vec::new(),
            addr_role: Vec::new(),
            ents,
            names,
            first_ex,
            n_ex,
            first_svc,
            n_svc,
            first_coord,
            first_thief,
            first_user,
            n_users,
            funded: Vec::new(),
            recent: config.activity == Activity::Recent,
            active: if config.activity == Activity::Recent {
                vec![0; ACTIVE_RING]
            } else {
                Vec::new()
            },
            active_pushed: 0,
            blocks: config.blocks.max(1),
            joined: n_users,
            deposits: (0..n_ex).map(|_| Vec::new()).collect(),
            whirl: Default::default(),
            denoms: wasabi2_denominations(),
            ins: Vec::new(),
            outs: Vec::new(),
            new_utxos: Vec::new(),
            cands: Vec::new(),
            body: Vec::with_capacity(4 << 20),
            cb: Vec::new(),
            block: Vec::with_capacity(4 << 20),
            txids: Vec::new(),
            merkle: Vec::new(),
            line: Vec::new(),
            block_fees: 0,
            block_txs: 0,
            last_io: (0, 0),
            txs: 0,
            inputs: 0,
            outputs: 0,
            value: 0,
            change_tsv,
            coinjoins: Vec::new(),
            thefts: Vec::new(),
            tasks: Vec::new(),
            slab: Vec::new(),
            free: Vec::new(),
            t_inputs: Vec::new(),
            t_parts: Vec::new(),
            t_share: Vec::new(),
            t_out: Vec::new(),
            t_poison: Vec::new(),
        }
        .with_thefts(config)
    }

    /// Plans the thefts: one per thief at a random height in the first third of the chain.
    fn with_thefts(mut self, config: &SynthConfig) -> Self {
        if config.blocks < 50 {
            return self;
        }
        for k in 0..THEFTS {
            let height = self.rng.range32(config.blocks / 6, config.blocks / 3);
            let victim = self.first_ex + u32::try_from(k).unwrap_or(0) % self.n_ex;
            self.thefts.push(TheftState {
                thief: self.first_thief + u32::try_from(k).unwrap_or(0),
                victim,
                height,
                txid: None,
                seeds: Vec::new(),
                amount: 0,
                clean: None,
                split: None,
                peel: Vec::new(),
                coinjoin: None,
                deposits: Vec::new(),
                reached: vec![[0; 4]; self.n_ex as usize],
                fees: [0; 4],
            });
            self.tasks.push(Task { height, theft: k, action: Action::Steal, utxos: Vec::new() });
        }
        self
    }

    fn header_hash(&self) -> [u8; 32] {
        let mut header = [0u8; 80];
        header.copy_from_slice(&self.block[..80]);
        sha256d(&[&header])
    }

    fn is_exchange(&self, entity: u32) -> bool {
        (self.first_ex..self.first_ex + self.n_ex).contains(&entity)
    }

    fn is_user(&self, entity: u32) -> bool {
        entity >= self.first_user
    }

    fn random_user(&mut self) -> u32 {
        self.first_user + u32::try_from(self.rng.below(u64::from(self.n_users))).unwrap_or(0)
    }

    /// A user recently credited with an output: the `k`-th most recent credit, `k` drawn by
    /// [`recent_offset`] over the ring (uniform over the last [`RECENT_CREDITS`], then falling off
    /// as one over the number of credits since). `None` before the first credit to a user.
    fn recent_user(&mut self) -> Option<u32> {
        let filled = self.active_pushed.min(ACTIVE_RING as u64);
        if filled == 0 {
            return None;
        }
        let back = recent_offset(&mut self.rng, RECENT_CREDITS, filled);
        let at = (self.active_pushed - 1 - back) % ACTIVE_RING as u64;
        Some(self.active[usize::try_from(at).unwrap_or(0)])
    }

    /// A user to pay: with [`Activity::Recent`], one of the users joined so far, a recent joiner
    /// in [`PAYEE_RECENT`] permille of cases (see [`recent_offset`]), else any of them.
    /// With [`Activity::Uniform`], any user.
    fn payee_user(&mut self) -> u32 {
        if !self.recent {
            return self.random_user();
        }
        let joined = u64::from(self.joined);
        let back = if self.rng.chance(PAYEE_RECENT) {
            recent_offset(&mut self.rng, RECENT_USERS, joined)
        } else {
            self.rng.below(joined)
        };
        self.first_user + u32::try_from(joined - 1 - back).unwrap_or(0)
    }

    /// A user with outputs to spend: with [`Activity::Recent`] a recently credited one in
    /// [`PAYER_RECENT`] permille of cases (if it still has outputs), else any funded user.
    fn payer_user(&mut self) -> u32 {
        if self.recent
            && self.rng.chance(PAYER_RECENT)
            && let Some(user) = self.recent_user()
            && !self.ents[user as usize].utxos.is_empty()
        {
            return user;
        }
        self.funded[self.rng.index(self.funded.len())]
    }

    fn random_exchange(&mut self) -> u32 {
        self.first_ex + u32::try_from(self.rng.below(u64::from(self.n_ex))).unwrap_or(0)
    }

    fn random_service(&mut self) -> u32 {
        self.first_svc + u32::try_from(self.rng.below(u64::from(self.n_svc))).unwrap_or(0)
    }

    fn feerate(&mut self) -> u64 {
        match self.rng.below(100) {
            0..50 => self.rng.range(1, 5),
            50..80 => self.rng.range(5, 20),
            80..95 => self.rng.range(20, 60),
            _ => self.rng.range(60, 200),
        }
    }

    fn low_feerate(&mut self) -> u64 {
        self.rng.range(1, 5)
    }

    fn kind_of(&self, addr: u32) -> ScriptKind {
        ScriptKind::from_u8(self.addr_kind[addr as usize])
    }

    /// Virtual size of the planned transaction.
    fn vsize(&self) -> u64 {
        let mut base = 8 + varint_size(self.ins.len() as u64) + varint_size(self.outs.len() as u64);
        let mut witness = 0;
        let mut segwit = false;
        for input in &self.ins {
            let kind = self.kind_of(input.addr);
            base += kind.input_base_size();
            witness += kind.input_witness_size();
            segwit |= kind.is_segwit_spend();
        }
        for out in &self.outs {
            base += out.size();
        }
        if segwit { (base * 4 + witness + 2).div_ceil(4) } else { base }
    }

    fn sum_in(&self) -> u64 {
        self.ins.iter().map(|u| u.value).sum()
    }

    fn sum_out(&self) -> u64 {
        self.outs.iter().map(|o| o.value).sum()
    }

    // ----- addresses and wallets -----

    fn new_addr(&mut self, owner: u32, kind: u8, role: u8) -> u32 {
        let id = u32::try_from(self.addr_owner.len()).unwrap_or(NONE);
        self.addr_owner.push(owner);
        self.addr_kind.push(kind);
        self.addr_role.push(role);
        id
    }

    /// A payment to `entity`'s receive address: an earlier one (address reuse) with
    /// `reuse_permille`, else a new one remembered for reuse.
    fn plan_receive(&mut self, entity: u32, role: u8, reuse_permille: u64) -> OutSpec {
        let e = &self.ents[entity as usize];
        let mut out = OutSpec::new(entity, e.script, role);
        if !e.addrs.is_empty() && self.rng.chance(reuse_permille) {
            let len = self.ents[entity as usize].addrs.len();
            out.addr = self.ents[entity as usize].addrs[self.rng.index(len)];
            out.kind = self.addr_kind[out.addr as usize];
        } else {
            out.remember = self.ents[entity as usize].addrs.len() < 16;
        }
        out
    }

    /// A payment to one of `entity`'s few long-lived addresses (hot wallet, coinbase, fee), a
    /// new one while it has fewer than `max` (and by chance), else a reused one.
    fn plan_fixed(&mut self, entity: u32, role: u8, max: usize) -> OutSpec {
        let len = self.ents[entity as usize].addrs.len();
        let mut out = OutSpec::new(entity, self.ents[entity as usize].script, role);
        if len == 0 || (len < max && self.rng.chance(50)) {
            out.remember = true;
        } else {
            out.addr = self.ents[entity as usize].addrs[self.rng.index(len)];
            out.kind = self.addr_kind[out.addr as usize];
        }
        out
    }

    /// A payment to a payee chosen as users are observed to pay: another user, an exchange
    /// deposit address, or a service invoice.
    fn plan_payee(&mut self, payer: u32) -> OutSpec {
        match self.rng.below(100) {
            0..55 => {
                let mut user = self.payee_user();
                if user == payer {
                    user = self.payee_user();
                }
                self.plan_receive(user, R_RECEIVE, 250)
            }
            55..82 => self.plan_deposit(None),
            _ => {
                let service = self.random_service();
                self.plan_receive(service, R_INVOICE, 100)
            }
        }
    }

    /// A fresh deposit address of an exchange (`None`: a random one).
    fn plan_deposit(&mut self, exchange: Option<u32>) -> OutSpec {
        let ex = exchange.unwrap_or_else(|| self.random_exchange());
        let kind = EXCHANGES[(ex - self.first_ex) as usize].2;
        OutSpec::new(ex, kind, R_DEPOSIT)
    }

    /// Change to `entity`: a new change address, or (for careless wallets) the first input's.
    fn plan_change(&mut self, entity: u32) -> OutSpec {
        let e = &self.ents[entity as usize];
        let mut out = OutSpec::new(entity, e.script, R_CHANGE);
        if e.reuse_change
            && let Some(first) = self.ins.first()
            && self.addr_owner[first.addr as usize] == entity
        {
            out.addr = first.addr;
            out.kind = self.addr_kind[first.addr as usize];
        }
        out.change = true;
        out
    }

    fn fund(&mut self, entity: u32) {
        if self.is_user(entity) && self.ents[entity as usize].funded_pos == NONE {
            self.ents[entity as usize].funded_pos =
                u32::try_from(self.funded.len()).unwrap_or(NONE);
            self.funded.push(entity);
        }
    }

    fn unfund(&mut self, entity: u32) {
        let pos = self.ents[entity as usize].funded_pos;
        if pos == NONE {
            return;
        }
        self.funded.swap_remove(pos as usize);
        if let Some(&moved) = self.funded.get(pos as usize) {
            self.ents[moved as usize].funded_pos = pos;
        }
        self.ents[entity as usize].funded_pos = NONE;
    }

    /// Moves output `index` of `entity` into the inputs.
    fn take(&mut self, entity: u32, index: usize) {
        let utxo = self.ents[entity as usize].utxos.swap_remove(index);
        self.ins.push(utxo);
        if self.ents[entity as usize].utxos.is_empty() {
            self.unfund(entity);
        }
    }

    /// Puts an output where its owner keeps it.
    fn credit(&mut self, utxo: Utxo) {
        let owner = self.addr_owner[utxo.addr as usize];
        if self.addr_role[utxo.addr as usize] == R_DEPOSIT && self.is_exchange(owner) {
            self.deposits[(owner - self.first_ex) as usize].push(utxo);
        } else {
            self.ents[owner as usize].utxos.push(utxo);
            self.fund(owner);
        }
    }

    /// Returns the planned inputs to their owners (the transaction is abandoned).
    fn give_back(&mut self) {
        while let Some(utxo) = self.ins.pop() {
            self.credit(utxo);
        }
        self.outs.clear();
    }

    /// Credits the outputs of the transaction just emitted to their owners, and notes the users
    /// among them as recently active.
    fn credit_new(&mut self) {
        for i in 0..self.new_utxos.len() {
            let utxo = self.new_utxos[i];
            self.credit(utxo);
            let owner = self.addr_owner[utxo.addr as usize];
            if self.recent && self.is_user(owner) {
                let at = usize::try_from(self.active_pushed % ACTIVE_RING as u64).unwrap_or(0);
                self.active[at] = owner;
                self.active_pushed += 1;
            }
        }
    }

    /// Selects `entity`'s outputs, in random order, until they cover `amount` plus the fee of the
    /// planned outputs and one more (change) output. Returns false (inputs given back) if the
    /// wallet is too small or `max_inputs` is reached first.
    fn select(&mut self, entity: u32, amount: u64, feerate: u64, max_inputs: usize) -> bool {
        let change_size = self.ents[entity as usize].script.output_size();
        loop {
            let need = amount + feerate * (self.vsize() + change_size);
            if self.sum_in() >= need && !self.ins.is_empty() {
                return true;
            }
            let len = self.ents[entity as usize].utxos.len();
            if len == 0 || self.ins.len() >= max_inputs {
                self.give_back();
                return false;
            }
            let index = self.rng.index(len);
            self.take(entity, index);
        }
    }

    /// Sets the change output (last of `outs`) to what is left after the fee, or drops it below
    /// the dust limit. Shuffles it into a random position. Returns false if the inputs do not
    /// cover the payments and fee.
    fn settle_change(&mut self, feerate: u64) -> bool {
        let fee = feerate * self.vsize();
        let paid: u64 = self.outs.iter().filter(|o| !o.change).map(|o| o.value).sum();
        let Some(left) = self.sum_in().checked_sub(paid + fee) else {
            return false;
        };
        let Some(last) = self.outs.last_mut() else {
            return false;
        };
        if !last.change {
            return true;
        }
        if left < DUST {
            self.outs.pop();
        } else {
            last.value = left;
            let n = self.outs.len();
            let j = self.rng.index(n);
            self.outs.swap(j, n - 1);
        }
        true
    }

    // ----- emission -----

    /// Creates the planned new addresses.
    fn materialize(&mut self) {
        for i in 0..self.outs.len() {
            let out = self.outs[i];
            if out.addr == NEW_ADDR {
                let addr = self.new_addr(out.owner, out.kind, out.role);
                self.outs[i].addr = addr;
                if out.remember {
                    self.ents[out.owner as usize].addrs.push(addr);
                }
            }
        }
    }

    /// Writes the planned transaction into the block body, traces taint through it, fills
    /// `new_utxos` with its spendable outputs and clears the plan. Returns its txid.
    fn emit(&mut self, height: u32) -> Result<[u8; 32], SynthError> {
        self.materialize();
        let segwit = self.ins.iter().any(|u| self.kind_of(u.addr).is_segwit_spend());
        let start = self.body.len();
        self.body.extend_from_slice(&2u32.to_le_bytes());
        if segwit {
            self.body.extend_from_slice(&[0, 1]);
        }
        let core = self.body.len();
        write_varint(&mut self.body, self.ins.len() as u64);
        for input in &self.ins {
            self.body.extend_from_slice(&input.txid);
            self.body.extend_from_slice(&input.vout.to_le_bytes());
            let kind = ScriptKind::from_u8(self.addr_kind[input.addr as usize]);
            write_script_sig(&mut self.body, self.salt, input.addr, kind, &mut self.rng);
            self.body.extend_from_slice(&0xffff_fffdu32.to_le_bytes());
        }
        write_varint(&mut self.body, self.outs.len() as u64);
        for out in &self.outs {
            self.body.extend_from_slice(&out.value.to_le_bytes());
            if out.kind == KIND_OP_RETURN {
                let len = out.data_len.min(75);
                self.body.extend_from_slice(&[len + 2, 0x6a, len]);
                let at = self.body.len();
                self.body.resize(at + usize::from(len), 0);
                self.rng.fill(&mut self.body[at..]);
            } else {
                let kind = ScriptKind::from_u8(out.kind);
                write_script_pubkey(&mut self.body, self.salt, out.addr, kind);
            }
        }
        let core_end = self.body.len();
        if segwit {
            for input in &self.ins {
                let kind = ScriptKind::from_u8(self.addr_kind[input.addr as usize]);
                write_witness(&mut self.body, self.salt, input.addr, kind, &mut self.rng);
            }
        }
        // Anti-fee-sniping lock time (Bitcoin Core's wallet) on most transactions.
        let locktime = if self.rng.chance(600) { height - 1 } else { 0 };
        let locktime = locktime.to_le_bytes();
        self.body.extend_from_slice(&locktime);
        let txid = sha256d(&[&self.body[start..start + 4], &self.body[core..core_end], &locktime]);

        let sum_in = self.sum_in();
        let sum_out = self.sum_out();
        let fee = sum_in.checked_sub(sum_out).ok_or_else(|| {
            SynthError::Config(format!(
                "internal error: transaction {} pays {sum_out} from {sum_in}",
                Hash32(txid)
            ))
        })?;
        self.block_fees += fee;
        self.trace(fee);

        self.new_utxos.clear();
        for (vout, out) in self.outs.iter().enumerate() {
            let vout = u32::try_from(vout).unwrap_or(NONE);
            if out.kind == KIND_OP_RETURN {
                continue;
            }
            let (poison, taint) = if self.t_poison.is_empty() {
                (0, NONE)
            } else {
                (self.t_poison[vout as usize], NONE)
            };
            self.new_utxos.push(Utxo {
                txid,
                value: out.value,
                vout,
                addr: out.addr,
                poison,
                taint,
            });
            if out.change {
                self.line.clear();
                push_hex_rev(&mut self.line, &txid);
                writeln!(self.line, "\t{vout}\t{}", out.owner)?;
                self.change_tsv.write_all(&self.line)?;
            }
        }
        if !self.t_out.is_empty() {
            self.attach_taint();
        }
        self.txs += 1;
        self.block_txs += 1;
        self.inputs += self.ins.len() as u64;
        self.outputs += self.outs.len() as u64;
        self.value += sum_out;
        self.txids.push(txid);
        self.last_io = (self.ins.len(), self.outs.len());
        self.ins.clear();
        self.outs.clear();
        Ok(txid)
    }

    // ----- taint -----

    /// Traces every theft's taint from the inputs to the outputs and fee, stopping at exchange
    /// addresses (counted as reached). Leaves per-output poison bits in `t_poison` and amounts in
    /// `t_out` (both empty when no input is tainted).
    fn trace(&mut self, fee: u64) {
        self.t_poison.clear();
        self.t_out.clear();
        if self.ins.iter().all(|u| u.poison == 0 && u.taint == NONE) {
            return;
        }
        let n_out = self.outs.len();
        self.t_poison.resize(n_out, 0);
        self.t_out.resize(n_out, [0; THEFTS * AMOUNT_POLICIES]);
        self.t_parts.clear();
        self.t_parts.extend(self.outs.iter().map(|o| o.value));
        self.t_parts.push(fee);
        self.t_share.clear();
        self.t_share.resize(n_out + 1, 0);
        let in_value = self.sum_in();
        for k in 0..THEFTS {
            let bit = 1u8 << k;
            if self.ins.iter().any(|u| u.poison & bit != 0) {
                for (j, out) in self.outs.iter().enumerate() {
                    if out.addr != NO_ADDR && self.is_exchange(out.owner) {
                        let ex = (out.owner - self.first_ex) as usize;
                        self.thefts[k].reached[ex][0] += out.value;
                    } else if out.addr != NO_ADDR {
                        self.t_poison[j] |= bit;
                    }
                }
                self.thefts[k].fees[0] += fee;
            }
            for p in 0..AMOUNT_POLICIES {
                self.t_inputs.clear();
                for u in &self.ins {
                    let t =
                        if u.taint == NONE { 0 } else { self.slab[u.taint as usize][k * 3 + p] };
                    self.t_inputs.push((u.value, t));
                }
                let total: u64 = self.t_inputs.iter().map(|&(_, t)| t).sum();
                if total == 0 {
                    continue;
                }
                match p {
                    0 => haircut(total, in_value, &self.t_parts, &mut self.t_share),
                    1 => queue(&self.t_inputs, false, &self.t_parts, &mut self.t_share),
                    _ => queue(&self.t_inputs, true, &self.t_parts, &mut self.t_share),
                }
                for (j, out) in self.outs.iter().enumerate() {
                    let share = self.t_share[j];
                    if share == 0 {
                        continue;
                    }
                    if self.is_exchange(out.owner) {
                        let ex = (out.owner - self.first_ex) as usize;
                        self.thefts[k].reached[ex][p + 1] += share;
                    } else {
                        self.t_out[j][k * 3 + p] = share;
                    }
                }
                self.thefts[k].fees[p + 1] += self.t_share[n_out];
            }
        }
        // The inputs' slab entries are free again.
        for u in &self.ins {
            if u.taint != NONE {
                self.free.push(u.taint);
            }
        }
    }

    /// Gives the new outputs their traced amounts (slab entries for non-zero ones).
    fn attach_taint(&mut self) {
        for i in 0..self.new_utxos.len() {
            let vout = self.new_utxos[i].vout as usize;
            let amounts = self.t_out[vout];
            if amounts.iter().all(|&a| a == 0) {
                continue;
            }
            let slot = if let Some(slot) = self.free.pop() {
                self.slab[slot as usize] = amounts;
                slot
            } else {
                self.slab.push(amounts);
                u32::try_from(self.slab.len() - 1).unwrap_or(NONE)
            };
            self.new_utxos[i].taint = slot;
        }
    }

    // ----- blocks -----

    fn build_block(&mut self, height: u32, prev: &[u8; 32], time: u32) -> Result<(), SynthError> {
        self.body.clear();
        self.txids.clear();
        self.txids.push([0; 32]);
        self.block_fees = 0;
        self.block_txs = 1;
        // Users join at an even pace over the chain, the first RECENT_USERS at once.
        let joined = u64::from(self.n_users) * (u64::from(height) + 1) / u64::from(self.blocks);
        let joined = joined.max(RECENT_USERS).min(u64::from(self.n_users));
        self.joined = u32::try_from(joined).unwrap_or(self.n_users);
        let scale = u64::from(self.tpb.max(1000));
        let target = u32::try_from(u64::from(self.tpb) * self.rng.range(600, 1400) / 1000)
            .unwrap_or(self.tpb)
            .max(1);

        self.run_tasks(height)?;
        for ex in 0..self.n_ex {
            self.sweep(height, ex)?;
        }
        if self.rng.chance(600) || height < 10 {
            self.pool_payout(height)?;
        }
        // Enough samples that cash-outs keep up with invoices (about 15 % of payments).
        for _ in 0..(self.tpb / 250).max(3) {
            self.service_cashout(height)?;
        }
        for (shape, &rate) in COINJOIN_RATES.iter().enumerate() {
            let expected = rate * scale / 2000;
            let count = expected / 1000 + u64::from(self.rng.chance(expected % 1000));
            for _ in 0..count {
                match shape {
                    0 => {
                        let pool = self.rng.weighted(&[40, 35, 15, 10]);
                        self.whirlpool(height, pool)?;
                    }
                    1 => {
                        self.joinmarket(height, None)?;
                    }
                    2 => self.wasabi2(height)?,
                    _ => self.wasabi1(height)?,
                }
            }
        }
        let mut failures = 0;
        while self.block_txs < target && failures < 64 {
            let done = if self.rng.chance(25) {
                self.withdrawal(height)?
            } else {
                self.user_payment(height)?
            };
            if done {
                failures = 0;
            } else {
                failures += 1;
            }
        }
        self.coinbase(height)?;
        self.assemble(prev, time);
        Ok(())
    }

    /// Writes the coinbase: BIP-34 height, pool tag, reward plus fees to the pool, and a
    /// (dummy) witness commitment.
    fn coinbase(&mut self, height: u32) -> Result<(), SynthError> {
        let weights: Vec<u64> = POOLS.iter().map(|p| p.1).collect();
        let pool = u32::try_from(self.rng.weighted(&weights)).unwrap_or(0);
        let mut out = self.plan_fixed(pool, R_COINBASE, 2);
        out.value = subsidy(height) + self.block_fees;
        self.outs.push(out);
        self.materialize();
        let out = self.outs[0];
        self.outs.clear();

        let cb = &mut self.cb;
        cb.clear();
        cb.extend_from_slice(&2u32.to_le_bytes());
        cb.extend_from_slice(&[0, 1, 1]);
        cb.extend_from_slice(&[0; 32]);
        cb.extend_from_slice(&u32::MAX.to_le_bytes());
        let mut script = [0u8; 64];
        let mut len = 0;
        // BIP-34: the height as a minimal script number push (OP_1..OP_16 below 17, as Core).
        if (1..=16).contains(&height) {
            script[0] = 0x50 + u8::try_from(height).unwrap_or(0);
            len = 1;
        } else {
            let mut bytes = height.to_le_bytes().to_vec();
            while bytes.len() > 1
                && bytes[bytes.len() - 1] == 0
                && bytes[bytes.len() - 2] & 0x80 == 0
            {
                bytes.pop();
            }
            if bytes.last().is_some_and(|b| b & 0x80 != 0) {
                bytes.push(0);
            }
            script[0] = u8::try_from(bytes.len()).unwrap_or(4);
            script[1..=bytes.len()].copy_from_slice(&bytes);
            len += 1 + bytes.len();
        }
        script[len] = 8;
        self.rng.fill(&mut script[len + 1..len + 9]);
        len += 9;
        let tag = POOLS[pool as usize].0.as_bytes();
        let tag_len = tag.len().min(40);
        script[len] = u8::try_from(tag_len).unwrap_or(0);
        script[len + 1..len + 1 + tag_len].copy_from_slice(&tag[..tag_len]);
        len += 1 + tag_len;
        let core = 4 + 2;
        write_varint(cb, len as u64);
        cb.extend_from_slice(&script[..len]);
        cb.extend_from_slice(&u32::MAX.to_le_bytes());
        cb.push(2);
        cb.extend_from_slice(&out.value.to_le_bytes());
        write_script_pubkey(cb, self.salt, out.addr, ScriptKind::from_u8(out.kind));
        cb.extend_from_slice(&0u64.to_le_bytes());
        cb.extend_from_slice(&[38, 0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed]);
        let at = cb.len();
        cb.resize(at + 32, 0);
        self.rng.fill(&mut self.cb[at..]);
        let core_end = self.cb.len();
        // Witness: the 32-byte witness reserved value.
        self.cb.extend_from_slice(&[1, 32]);
        self.cb.extend_from_slice(&[0; 32]);
        self.cb.extend_from_slice(&0u32.to_le_bytes());
        let txid = sha256d(&[&self.cb[..4], &self.cb[core..core_end], &[0; 4]]);
        self.txids[0] = txid;
        self.txs += 1;
        self.outputs += 2;
        self.value += out.value;
        self.ents[pool as usize].utxos.push(Utxo {
            txid,
            value: out.value,
            vout: 0,
            addr: out.addr,
            poison: 0,
            taint: NONE,
        });
        Ok(())
    }

    /// Assembles header, transaction count, coinbase and body into `block`, with the merkle root
    /// and a nonce meeting [`BITS`].
    fn assemble(&mut self, prev: &[u8; 32], time: u32) {
        self.merkle.clear();
        self.merkle.extend_from_slice(&self.txids);
        while self.merkle.len() > 1 {
            if self.merkle.len() % 2 == 1 {
                let last = self.merkle[self.merkle.len() - 1];
                self.merkle.push(last);
            }
            let pairs = self.merkle.len() / 2;
            for i in 0..pairs {
                let hash = sha256d(&[&self.merkle[2 * i], &self.merkle[2 * i + 1]]);
                self.merkle[i] = hash;
            }
            self.merkle.truncate(pairs);
        }
        let root = self.merkle.first().copied().unwrap_or([0; 32]);
        let mut header = [0u8; 80];
        header[..4].copy_from_slice(&BLOCK_VERSION.to_le_bytes());
        header[4..36].copy_from_slice(prev);
        header[36..68].copy_from_slice(&root);
        header[68..72].copy_from_slice(&time.to_le_bytes());
        header[72..76].copy_from_slice(&BITS.to_le_bytes());
        for nonce in 0u32.. {
            header[76..80].copy_from_slice(&nonce.to_le_bytes());
            if meets_target(&Hash32(sha256d(&[&header])), BITS) {
                break;
            }
        }
        self.block.clear();
        self.block.extend_from_slice(&header);
        write_varint(&mut self.block, u64::from(self.block_txs));
        self.block.extend_from_slice(&self.cb);
        self.block.extend_from_slice(&self.body);
    }

    // ----- activities -----

    /// A user pays: one payee (or a few), with change to a new own address; or sweeps a wallet
    /// into one payment, consolidates, or moves coins to itself.
    fn user_payment(&mut self, height: u32) -> Result<bool, SynthError> {
        if self.funded.is_empty() {
            return Ok(false);
        }
        let user = self.payer_user();
        let n_utxos = self.ents[user as usize].utxos.len();
        let balance: u64 = self.ents[user as usize].utxos.iter().map(|u| u.value).sum();
        if n_utxos > 12 && self.rng.chance(400) {
            return self.consolidate(height, user, R_CHANGE);
        }
        let feerate = self.feerate();
        if balance < 20 * feerate * 200 {
            return Ok(false);
        }
        if self.rng.chance(40) {
            // Self-transfer: 1 to 3 inputs to one new own address.
            let feerate = self.low_feerate();
            let n = self.rng.range(1, 3).min(n_utxos as u64);
            for _ in 0..n {
                let len = self.ents[user as usize].utxos.len();
                let index = self.rng.index(len);
                self.take(user, index);
            }
            let mut out = OutSpec::new(user, self.ents[user as usize].script, R_RECEIVE);
            out.remember = self.ents[user as usize].addrs.len() < 16;
            self.outs.push(out);
            return self.pay_rest(height, feerate);
        }
        let payees = if self.rng.chance(50) { self.rng.range(2, 4) } else { 1 };
        for _ in 0..payees {
            let payee = self.plan_payee(user);
            self.outs.push(payee);
        }
        if self.rng.chance(20) {
            let len = u8::try_from(self.rng.range(20, 80)).unwrap_or(40);
            self.outs.push(OutSpec::op_return(len));
        }
        if payees == 1 && self.rng.chance(80) {
            // Spend everything to one payee: no change.
            while let Some(index) = self.ents[user as usize].utxos.len().checked_sub(1) {
                if self.ins.len() >= 30 {
                    break;
                }
                self.take(user, index);
            }
            return self.pay_rest(height, feerate);
        }
        let permille = self.rng.log_uniform(5, 900);
        let mut total = balance * permille / 1000;
        if self.rng.chance(400) {
            total = round2(total);
        }
        if total < DUST * u64::from(u32::try_from(payees).unwrap_or(1)) * 2 {
            self.outs.clear();
            return Ok(false);
        }
        // Split among the payees: the first gets most.
        let mut left = total;
        let n_pay = self.outs.iter().filter(|o| o.kind != KIND_OP_RETURN).count();
        let mut paid = 0;
        for out in self.outs.iter_mut().filter(|o| o.kind != KIND_OP_RETURN) {
            paid += 1;
            out.value = if paid == n_pay { left } else { left / 2 };
            left -= out.value;
        }
        if self.outs.iter().any(|o| o.kind != KIND_OP_RETURN && o.value < DUST) {
            self.outs.clear();
            return Ok(false);
        }
        if !self.select(user, total, feerate, 40) {
            return Ok(false);
        }
        let change = self.plan_change(user);
        self.outs.push(change);
        if !self.settle_change(feerate) {
            self.give_back();
            return Ok(false);
        }
        self.emit(height)?;
        self.credit_new();
        Ok(true)
    }

    /// Pays everything the inputs hold, minus the fee, to the first non-`OP_RETURN` output.
    fn pay_rest(&mut self, height: u32, feerate: u64) -> Result<bool, SynthError> {
        let fee = feerate * self.vsize();
        let Some(amount) = self.sum_in().checked_sub(fee).filter(|&a| a >= DUST) else {
            self.give_back();
            return Ok(false);
        };
        if let Some(out) = self.outs.iter_mut().find(|o| o.kind != KIND_OP_RETURN) {
            out.value = amount;
        }
        self.emit(height)?;
        self.credit_new();
        Ok(true)
    }

    /// Consolidates up to 100 of `entity`'s outputs into one new own address.
    fn consolidate(&mut self, height: u32, entity: u32, role: u8) -> Result<bool, SynthError> {
        let feerate = self.low_feerate();
        let n = self.ents[entity as usize].utxos.len().min(100);
        for _ in 0..n {
            let len = self.ents[entity as usize].utxos.len();
            let index = self.rng.index(len);
            self.take(entity, index);
        }
        let kind =
            if role == R_COLD { ScriptKind::P2wsh } else { self.ents[entity as usize].script };
        self.outs.push(OutSpec::new(entity, kind, role));
        self.pay_rest(height, feerate)
    }

    /// A service with many small payments cashes out to an exchange deposit address (60 %) or
    /// moves them to its cold wallet.
    fn service_cashout(&mut self, height: u32) -> Result<bool, SynthError> {
        let service = self.random_service();
        if self.ents[service as usize].utxos.len() < 15 {
            return Ok(false);
        }
        if self.rng.chance(600) {
            let feerate = self.low_feerate();
            let n = self.ents[service as usize].utxos.len().min(100);
            for _ in 0..n {
                let len = self.ents[service as usize].utxos.len();
                let index = self.rng.index(len);
                self.take(service, index);
            }
            let deposit = self.plan_deposit(None);
            self.outs.push(deposit);
            self.pay_rest(height, feerate)
        } else {
            self.consolidate(height, service, R_COLD)
        }
    }

    /// An exchange sweeps its deposit addresses into its hot wallet once enough have arrived.
    fn sweep(&mut self, height: u32, ex: u32) -> Result<bool, SynthError> {
        let pending = self.deposits[ex as usize].len();
        if pending == 0 || (pending < 20 && !self.rng.chance(150)) {
            return Ok(false);
        }
        let feerate = self.low_feerate();
        let n = pending.min(200);
        for _ in 0..n {
            if let Some(utxo) = self.deposits[ex as usize].pop() {
                self.ins.push(utxo);
            }
        }
        let hot = self.plan_fixed(self.first_ex + ex, R_HOT, 3);
        self.outs.push(hot);
        self.pay_rest(height, feerate)
    }

    /// An exchange pays withdrawals from its hot wallet: a batch of 10 to 100 (60 %) or one or two,
    /// with change back to a hot-wallet address.
    fn withdrawal(&mut self, height: u32) -> Result<bool, SynthError> {
        let ex = self.random_exchange();
        let hot: u64 = self.ents[ex as usize].utxos.iter().map(|u| u.value).sum();
        if hot < 1_000_000 {
            return Ok(false);
        }
        let n =
            if self.rng.chance(600) { self.rng.log_uniform(10, 100) } else { self.rng.range(1, 2) };
        let budget = hot / 2;
        let mut total = 0;
        for _ in 0..n {
            let mut value = self.rng.log_uniform(50_000, 20_000_000);
            if self.rng.chance(300) {
                value = round2(value);
            }
            if total + value > budget {
                break;
            }
            total += value;
            let mut out = match self.rng.below(100) {
                0..85 => {
                    let user = self.payee_user();
                    self.plan_receive(user, R_RECEIVE, 250)
                }
                85..95 => {
                    let service = self.random_service();
                    self.plan_receive(service, R_INVOICE, 100)
                }
                _ => self.plan_deposit(None),
            };
            out.value = value;
            self.outs.push(out);
        }
        if self.outs.is_empty() {
            return Ok(false);
        }
        let feerate = self.feerate();
        if !self.select(ex, total, feerate, 20) {
            return Ok(false);
        }
        let mut change = self.plan_fixed(ex, R_HOT, 3);
        change.change = true;
        self.outs.push(change);
        if !self.settle_change(feerate) {
            self.give_back();
            return Ok(false);
        }
        self.emit(height)?;
        self.credit_new();
        Ok(true)
    }

    /// A mining pool pays its miners: coinbase outputs to 20-150 (mostly reused) addresses.
    fn pool_payout(&mut self, height: u32) -> Result<bool, SynthError> {
        let weights: Vec<u64> =
            self.ents[..POOLS.len()].iter().map(|e| e.utxos.len() as u64).collect();
        if weights.iter().all(|&w| w == 0) {
            return Ok(false);
        }
        let pool = u32::try_from(self.rng.weighted(&weights)).unwrap_or(0);
        let n_in = self.ents[pool as usize].utxos.len().min(10);
        for _ in 0..n_in {
            let len = self.ents[pool as usize].utxos.len();
            let index = self.rng.index(len);
            self.take(pool, index);
        }
        let n = self.rng.log_uniform(20, 150);
        for _ in 0..n {
            let out = if self.rng.chance(50) {
                self.plan_deposit(None)
            } else {
                let user = self.payee_user();
                self.plan_receive(user, R_RECEIVE, 700)
            };
            self.outs.push(out);
        }
        let mut change = self.plan_fixed(pool, R_COINBASE, 2);
        change.change = true;
        self.outs.push(change);
        let feerate = self.low_feerate();
        let fee = feerate * self.vsize();
        let available = self.sum_in().saturating_sub(fee);
        let share = available * 9 / 10 / n;
        if share < DUST {
            self.give_back();
            return Ok(false);
        }
        for out in self.outs.iter_mut().filter(|o| !o.change) {
            out.value = share;
        }
        if let Some(change) = self.outs.last_mut() {
            change.value = available - share * n;
        }
        self.emit(height)?;
        self.credit_new();
        Ok(true)
    }

    // ----- CoinJoins -----

    /// Samples up to `want` distinct funded users whose largest output is at least `min_value`
    /// into `cands`, sorted by value (largest first).
    fn sample_candidates(&mut self, want: usize, min_value: u64, exclude: u32) {
        self.cands.clear();
        if self.funded.is_empty() {
            return;
        }
        for _ in 0..want * 4 {
            if self.cands.len() >= want {
                break;
            }
            let user = self.funded[self.rng.index(self.funded.len())];
            if user == exclude || self.cands.iter().any(|c| c.entity == user) {
                continue;
            }
            let utxos = &self.ents[user as usize].utxos;
            let Some((index, value)) = utxos
                .iter()
                .enumerate()
                .map(|(i, u)| (i, u.value))
                .max_by_key(|&(i, v)| (v, usize::MAX - i))
            else {
                continue;
            };
            if value >= min_value {
                self.cands.push(Candidate { entity: user, index, value });
            }
        }
        self.cands.sort_by(|a, b| b.value.cmp(&a.value).then(a.entity.cmp(&b.entity)));
    }

    fn shuffle_plan(&mut self) {
        for i in (1..self.ins.len()).rev() {
            let j = self.rng.index(i + 1);
            self.ins.swap(i, j);
        }
        for i in (1..self.outs.len()).rev() {
            let j = self.rng.index(i + 1);
            self.outs.swap(i, j);
        }
    }

    fn record_coinjoin(
        &mut self,
        txid: [u8; 32],
        height: u32,
        shape: &str,
        mut participants: Vec<u32>,
        denomination: u64,
    ) {
        let (inputs, outputs) = self.last_io;
        participants.sort_unstable();
        self.coinjoins.push(CoinjoinTruth {
            txid: txid_text(&txid),
            height,
            shape: shape.to_owned(),
            participants,
            inputs: u32::try_from(inputs).unwrap_or(u32::MAX),
            outputs: u32::try_from(outputs).unwrap_or(u32::MAX),
            denomination,
        });
    }

    /// Takes candidate `i`'s output into the inputs.
    fn take_candidate(&mut self, i: usize) {
        let c = self.cands[i];
        self.take(c.entity, c.index);
    }

    /// Removes a forced (thief) input from the plan, then gives the rest back.
    fn abandon(&mut self, forced: Option<Utxo>) {
        if let Some(f) = forced {
            self.ins.retain(|u| !(u.txid == f.txid && u.vout == f.vout));
        }
        self.give_back();
    }

    /// A JoinMarket CoinJoin: a taker (a user, or the given thief output) and 2-9 makers; `n`
    /// equal outputs, the makers' change (input minus amount plus their fee) and the taker's
    /// change unless dust. Returns the taker's equal output and change when `forced`.
    fn joinmarket(
        &mut self,
        height: u32,
        forced: Option<Utxo>,
    ) -> Result<Option<(Utxo, Option<Utxo>)>, SynthError> {
        let n = usize::try_from(self.rng.range(3, 10)).unwrap_or(3);
        let feerate = self.low_feerate() + 2;
        let exclude = forced.map_or(NONE, |u| self.addr_owner[u.addr as usize]);
        self.sample_candidates(n + 4, 70_000, exclude);
        let (taker, taker_value, taker_index) = match forced {
            Some(u) => (self.addr_owner[u.addr as usize], u.value, None),
            None => match self.cands.pop() {
                Some(c) => (c.entity, c.value, Some(c.index)),
                None => return Ok(None),
            },
        };
        let makers = (n - 1).min(self.cands.len());
        if makers < 2 {
            return Ok(None);
        }
        self.cands.truncate(makers);
        let weakest = self.cands[makers - 1].value;
        let cap = taker_value / 1000 * self.rng.range(700, 950);
        let amount = cap.min(weakest.saturating_sub(20_000));
        if amount < 50_000 {
            return Ok(None);
        }
        let mut participants = Vec::with_capacity(makers + 1);
        let mut maker_fees = 0;
        for i in 0..makers {
            let c = self.cands[i];
            self.take_candidate(i);
            let fee = amount * self.rng.range(1, 30) / 100_000 + self.rng.range(0, 500);
            maker_fees += fee;
            let mut equal = OutSpec::new(c.entity, ScriptKind::P2wpkh, R_MIXED);
            equal.value = amount;
            let mut change = OutSpec::new(c.entity, ScriptKind::P2wpkh, R_CHANGE);
            change.value = c.value - amount + fee;
            change.change = true;
            self.outs.push(equal);
            self.outs.push(change);
            participants.push(c.entity);
        }
        match (forced, taker_index) {
            (Some(u), _) => self.ins.push(u),
            (None, Some(index)) => self.take(taker, index),
            (None, None) => {}
        }
        participants.push(taker);
        let mut equal = OutSpec::new(
            taker,
            ScriptKind::P2wpkh,
            if forced.is_some() { R_THIEF } else { R_MIXED },
        );
        equal.value = amount;
        self.outs.push(equal);
        let role = if forced.is_some() { R_THIEF } else { R_CHANGE };
        let mut change = OutSpec::new(taker, ScriptKind::P2wpkh, role);
        change.change = true;
        self.outs.push(change);
        let fee = feerate * self.vsize();
        let Some(left) = taker_value.checked_sub(amount + maker_fees + fee) else {
            self.abandon(forced);
            return Ok(None);
        };
        if left < DUST {
            self.outs.pop();
        } else if let Some(change) = self.outs.last_mut() {
            change.value = left;
        }
        self.shuffle_plan();
        let txid = self.emit(height)?;
        self.record_coinjoin(txid, height, "joinmarket", participants, amount);
        if forced.is_none() {
            self.credit_new();
            return Ok(None);
        }
        let mut mine = (None, None);
        for i in 0..self.new_utxos.len() {
            let u = self.new_utxos[i];
            if self.addr_owner[u.addr as usize] == taker {
                if u.value == amount && mine.0.is_none() {
                    mine.0 = Some(u);
                } else {
                    mine.1 = Some(u);
                }
            } else {
                self.credit(u);
            }
        }
        Ok(mine.0.map(|equal| (equal, mine.1)))
    }

    /// A Wasabi 1 CoinJoin: 10-60 participants each with one input, one equal output of about
    /// 0.1 BTC, change, and one coordinator fee output.
    fn wasabi1(&mut self, height: u32) -> Result<(), SynthError> {
        let want = usize::try_from(self.rng.range(20, 60)).unwrap_or(20);
        let denom = 10_000_000 / 1000 * self.rng.range(950, 1050);
        self.sample_candidates(want, denom + 300_000, NONE);
        let n = self.cands.len();
        if n < 10 {
            return Ok(());
        }
        let feerate = self.low_feerate() + 1;
        // 0.003 % of the denomination per anonymity-set member, per participant.
        let coord_each = denom * 3 * n as u64 / 100_000;
        let mut participants = Vec::with_capacity(n);
        for i in 0..n {
            let c = self.cands[i];
            self.take_candidate(i);
            let mut equal = OutSpec::new(c.entity, ScriptKind::P2wpkh, R_MIXED);
            equal.value = denom;
            let mut change = OutSpec::new(c.entity, ScriptKind::P2wpkh, R_CHANGE);
            change.change = true;
            self.outs.push(equal);
            self.outs.push(change);
            participants.push(c.entity);
        }
        let coordinator = self.first_coord + 1;
        let mut fee_out = self.plan_fixed(coordinator, R_FEE, 1);
        fee_out.value = coord_each * n as u64;
        self.outs.push(fee_out);
        let fee_each = (feerate * self.vsize()).div_ceil(n as u64);
        for i in 0..n {
            let value = self.cands[i].value;
            self.outs[2 * i + 1].value = value - denom - coord_each - fee_each;
        }
        self.shuffle_plan();
        let txid = self.emit(height)?;
        self.record_coinjoin(txid, height, "wasabi1", participants, denom);
        self.credit_new();
        Ok(())
    }

    /// A Wasabi 2 CoinJoin: 5-50 participants with one or two inputs each; every output is a
    /// standard denomination (leftovers below 5,000 sats go to the miner).
    fn wasabi2(&mut self, height: u32) -> Result<(), SynthError> {
        let want = usize::try_from(self.rng.range(10, 50)).unwrap_or(10);
        self.sample_candidates(want, 100_000, NONE);
        let n = self.cands.len();
        if n < 5 {
            return Ok(());
        }
        let feerate = self.low_feerate() + 1;
        let mut participants = Vec::with_capacity(n);
        let mut smallest = u64::MAX;
        for i in 0..n {
            let c = self.cands[i];
            let first = self.ins.len();
            self.take_candidate(i);
            let len = self.ents[c.entity as usize].utxos.len();
            if len > 0 && self.rng.chance(400) {
                let index = self.rng.index(len);
                self.take(c.entity, index);
            }
            let mine = &self.ins[first..];
            let sum: u64 = mine.iter().map(|u| u.value).sum();
            let reserve = feerate * (mine.len() as u64 * 150 + 8 * 43 + 10);
            let mut left = sum.saturating_sub(reserve);
            let kind = if self.rng.chance(500) { ScriptKind::P2tr } else { ScriptKind::P2wpkh };
            let mut made = 0;
            while made < 8 && left >= self.denoms[0] {
                let at = self.denoms.partition_point(|&d| d <= left);
                let d = self.denoms[at - 1];
                let mut out = OutSpec::new(c.entity, kind, R_MIXED);
                out.value = d;
                self.outs.push(out);
                smallest = smallest.min(d);
                left -= d;
                made += 1;
            }
            participants.push(c.entity);
        }
        self.shuffle_plan();
        let txid = self.emit(height)?;
        self.record_coinjoin(txid, height, "wasabi2", participants, smallest);
        self.credit_new();
        Ok(())
    }

    /// A Whirlpool mix in `pool`: exactly 5 inputs of 5 distinct owners from the pool's queue (at
    /// least one fresh premix output, which pays the miner fee) and 5 equal outputs. Without
    /// enough mixable outputs, a user enters the pool with a tx0 instead.
    fn whirlpool(&mut self, height: u32, pool: usize) -> Result<(), SynthError> {
        let (denom, _) = WHIRLPOOL[pool];
        let len = self.whirl[pool].len();
        let mut picked: Vec<usize> = Vec::with_capacity(5);
        let mut owners: Vec<u32> = Vec::with_capacity(5);
        if len >= 5 {
            let start = self.rng.index(len);
            for pass in 0..2 {
                for i in 0..len {
                    let at = (start + i) % len;
                    let entry = self.whirl[pool][at];
                    let owner = self.addr_owner[entry.utxo.addr as usize];
                    let premixes = picked.iter().filter(|&&p| self.whirl[pool][p].premix).count();
                    let wanted = if pass == 0 {
                        entry.premix && premixes < 2
                    } else {
                        !picked.contains(&at)
                    };
                    if picked.len() < 5 && wanted && !owners.contains(&owner) {
                        picked.push(at);
                        owners.push(owner);
                    }
                }
            }
        }
        let has_premix = picked.iter().any(|&p| self.whirl[pool][p].premix);
        if picked.len() < 5 || !has_premix {
            return self.tx0(height, pool);
        }
        picked.sort_unstable_by(|a, b| b.cmp(a));
        for &at in &picked {
            let entry = self.whirl[pool].swap_remove(at);
            self.ins.push(entry.utxo);
        }
        let mut participants = Vec::with_capacity(5);
        for i in 0..5 {
            let owner = self.addr_owner[self.ins[i].addr as usize];
            let mut out = OutSpec::new(owner, ScriptKind::P2wpkh, R_POSTMIX);
            out.value = denom;
            self.outs.push(out);
            participants.push(owner);
        }
        if self.sum_in() < self.sum_out() + self.vsize() {
            // Not enough premix surplus for a 1 sat/vB fee: put them back, enter a new premix.
            while let Some(utxo) = self.ins.pop() {
                let premix = utxo.value > denom;
                self.whirl[pool].push(WhirlEntry { utxo, premix });
            }
            self.outs.clear();
            return self.tx0(height, pool);
        }
        self.shuffle_plan();
        let txid = self.emit(height)?;
        self.record_coinjoin(txid, height, "whirlpool", participants, denom);
        for i in 0..self.new_utxos.len() {
            let utxo = self.new_utxos[i];
            if self.rng.chance(600) {
                self.whirl[pool].push(WhirlEntry { utxo, premix: false });
            } else {
                self.credit(utxo);
            }
        }
        Ok(())
    }

    /// A Whirlpool tx0: a user splits one output into 1-10 premix outputs of the pool's
    /// denomination plus a miner-fee allowance, the pool fee to the coordinator, an `OP_RETURN`
    /// and change.
    fn tx0(&mut self, height: u32, pool: usize) -> Result<(), SynthError> {
        let (denom, pool_fee) = WHIRLPOOL[pool];
        let extra = self.rng.range(1_500, 4_000);
        let premix = denom + extra;
        self.sample_candidates(8, premix + pool_fee + 60_000, NONE);
        if self.cands.is_empty() {
            return Ok(());
        }
        let c = self.cands[0];
        let k = ((c.value - pool_fee - 60_000) / premix).clamp(1, 10);
        self.take_candidate(0);
        for _ in 0..k {
            let mut out = OutSpec::new(c.entity, ScriptKind::P2wpkh, R_PREMIX);
            out.value = premix;
            self.outs.push(out);
        }
        let mut fee_out = self.plan_fixed(self.first_coord, R_FEE, 1);
        fee_out.value = pool_fee;
        self.outs.push(fee_out);
        self.outs.push(OutSpec::op_return(46));
        let change = self.plan_change(c.entity);
        self.outs.push(change);
        let feerate = self.low_feerate();
        if !self.settle_change(feerate) {
            self.give_back();
            return Ok(());
        }
        self.emit(height)?;
        for i in 0..self.new_utxos.len() {
            let utxo = self.new_utxos[i];
            if self.addr_role[utxo.addr as usize] == R_PREMIX {
                self.whirl[pool].push(WhirlEntry { utxo, premix: true });
            } else {
                self.credit(utxo);
            }
        }
        Ok(())
    }

    // ----- thefts -----

    fn run_tasks(&mut self, height: u32) -> Result<(), SynthError> {
        if self.tasks.is_empty() {
            return Ok(());
        }
        let tasks = std::mem::take(&mut self.tasks);
        let mut later = Vec::new();
        for task in tasks {
            if task.height > height {
                later.push(task);
            } else {
                self.run_task(height, task, &mut later)?;
            }
        }
        self.tasks = later;
        Ok(())
    }

    fn thief_out(&self, theft: usize, value: u64) -> OutSpec {
        let mut out = OutSpec::new(self.thefts[theft].thief, ScriptKind::P2wpkh, R_THIEF);
        out.value = value;
        out
    }

    fn run_task(
        &mut self,
        height: u32,
        task: Task,
        later: &mut Vec<Task>,
    ) -> Result<(), SynthError> {
        let k = task.theft;
        let retry = |task: Task| Task { height: height + 1, ..task };
        match task.action {
            Action::Steal => {
                if !self.steal(height, k)? {
                    later.push(retry(task));
                    return Ok(());
                }
                let seeds = std::mem::take(&mut self.new_utxos);
                later.push(Task {
                    height: height + 1,
                    theft: k,
                    action: Action::Split,
                    utxos: seeds,
                });
            }
            Action::Split => self.split(height, k, &task.utxos, later)?,
            Action::Peel(left) => {
                let Some(&u) = task.utxos.first() else { return Ok(()) };
                let feerate = self.feerate();
                self.ins.push(u);
                let mut dest = if self.rng.chance(600) {
                    self.plan_deposit(None)
                } else {
                    let service = self.random_service();
                    self.plan_receive(service, R_INVOICE, 0)
                };
                dest.value = u.value / 1000 * self.rng.range(30, 120);
                self.outs.push(dest);
                let mut rest = self.thief_out(k, 0);
                rest.change = true;
                self.outs.push(rest);
                let fee = feerate * self.vsize();
                match u
                    .value
                    .checked_sub(dest.value + fee)
                    .filter(|&r| r >= DUST && dest.value >= DUST)
                {
                    Some(r) => {
                        if let Some(last) = self.outs.last_mut() {
                            last.value = r;
                        }
                    }
                    None => {
                        self.ins.clear();
                        self.outs.clear();
                        later.push(Task {
                            height: height + 1,
                            theft: k,
                            action: Action::Deposit,
                            utxos: task.utxos,
                        });
                        return Ok(());
                    }
                }
                if self.rng.chance(500) {
                    self.outs.swap(0, 1);
                }
                let txid = self.emit(height)?;
                self.thefts[k].peel.push(txid);
                let mut next = Vec::new();
                for i in 0..self.new_utxos.len() {
                    let utxo = self.new_utxos[i];
                    if self.addr_role[utxo.addr as usize] == R_THIEF {
                        next.push(utxo);
                    } else {
                        self.credit(utxo);
                    }
                }
                let action = if left > 1 { Action::Peel(left - 1) } else { Action::Deposit };
                later.push(Task { height: height + 1, theft: k, action, utxos: next });
            }
            Action::Coinjoin(tries) => {
                let Some(&u) = task.utxos.first() else { return Ok(()) };
                match self.joinmarket(height, Some(u))? {
                    Some((equal, change)) => {
                        self.thefts[k].coinjoin = Some(equal.txid);
                        let at = height + self.rng.range32(2, 6);
                        later.push(Task {
                            height: at,
                            theft: k,
                            action: Action::Deposit,
                            utxos: vec![equal],
                        });
                        if let Some(change) = change {
                            let at = height + self.rng.range32(3, 8);
                            later.push(Task {
                                height: at,
                                theft: k,
                                action: Action::Deposit,
                                utxos: vec![change],
                            });
                        }
                    }
                    None if tries > 0 => {
                        later.push(Task { action: Action::Coinjoin(tries - 1), ..retry(task) });
                    }
                    None => later.push(Task { action: Action::Deposit, ..retry(task) }),
                }
            }
            Action::Deposit => {
                for &u in &task.utxos {
                    self.ins.push(u);
                    let deposit = self.plan_deposit(None);
                    self.outs.push(deposit);
                    let feerate = self.feerate();
                    let fee = feerate * self.vsize();
                    match u.value.checked_sub(fee).filter(|&v| v >= DUST) {
                        Some(value) => {
                            self.outs[0].value = value;
                            let txid = self.emit(height)?;
                            self.thefts[k].deposits.push(txid);
                            self.credit_new();
                        }
                        None => {
                            self.ins.clear();
                            self.outs.clear();
                            self.credit(u);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The theft: up to 3 of the victim's hot-wallet outputs, 60-90 % of their value to 2-4 new
    /// thief addresses (the seeds), the rest back to the hot wallet. Leaves the seeds (and the
    /// clean output paid to the thief, at index 1) in `new_utxos`. False if the hot wallet is
    /// still too poor.
    fn steal(&mut self, height: u32, k: usize) -> Result<bool, SynthError> {
        let victim = self.thefts[k].victim;
        let hot: u64 = self.ents[victim as usize].utxos.iter().map(|u| u.value).sum();
        if hot < 10_000_000 {
            return Ok(false);
        }
        let n = self.ents[victim as usize].utxos.len().min(3);
        for _ in 0..n {
            let len = self.ents[victim as usize].utxos.len();
            let index = self.rng.index(len);
            self.take(victim, index);
        }
        let stolen = self.sum_in() / 1000 * self.rng.range(600, 900);
        let seeds = self.rng.range(2, 4);
        for i in 0..seeds {
            let value =
                if i + 1 == seeds { stolen - stolen / seeds * (seeds - 1) } else { stolen / seeds };
            let out = self.thief_out(k, value);
            self.outs.push(out);
        }
        let mut change = self.plan_fixed(victim, R_HOT, 3);
        change.change = true;
        self.outs.push(change);
        let feerate = self.feerate();
        if !self.settle_change(feerate) {
            self.give_back();
            return Ok(false);
        }
        let txid = self.emit(height)?;
        let thief = self.thefts[k].thief;
        let mut seeds = Vec::new();
        for i in 0..self.new_utxos.len() {
            let mut utxo = self.new_utxos[i];
            if self.addr_owner[utxo.addr as usize] == thief {
                utxo.poison = 1 << k;
                let mut amounts = [0; THEFTS * AMOUNT_POLICIES];
                for p in 0..AMOUNT_POLICIES {
                    amounts[k * 3 + p] = utxo.value;
                }
                self.slab.push(amounts);
                utxo.taint = u32::try_from(self.slab.len() - 1).unwrap_or(NONE);
                seeds.push(utxo);
            } else {
                self.credit(utxo);
            }
        }
        let state = &mut self.thefts[k];
        state.txid = Some(txid);
        state.height = height;
        state.amount = seeds.iter().map(|u| u.value).sum();
        state.seeds = seeds.iter().map(|u| (u.txid, u.vout)).collect();
        let amount = state.amount;
        // Clean funds of the thief's own, spent together with the stolen ones (theft 1 always,
        // the others by chance): a pool pays the thief.
        if k == 0 || self.rng.chance(500) {
            let pool = (0..POOLS.len())
                .max_by_key(|&p| {
                    (self.ents[p].utxos.iter().map(|u| u.value).sum::<u64>(), usize::MAX - p)
                })
                .unwrap_or(0);
            let pool = u32::try_from(pool).unwrap_or(0);
            let balance: u64 = self.ents[pool as usize].utxos.iter().map(|u| u.value).sum();
            let clean = (amount / 4).min(balance / 2);
            let feerate = self.low_feerate();
            if clean >= 100_000 && self.select(pool, clean, feerate, 50) {
                let out = self.thief_out(k, clean);
                self.outs.push(out);
                let mut change = self.plan_fixed(pool, R_COINBASE, 2);
                change.change = true;
                self.outs.push(change);
                if self.settle_change(feerate) {
                    self.emit(height)?;
                    for i in 0..self.new_utxos.len() {
                        let utxo = self.new_utxos[i];
                        if self.addr_owner[utxo.addr as usize] == thief {
                            self.thefts[k].clean = Some((utxo.txid, utxo.vout, utxo.value));
                            seeds.insert(1.min(seeds.len()), utxo);
                        } else {
                            self.credit(utxo);
                        }
                    }
                } else {
                    self.give_back();
                }
            }
        }
        self.new_utxos = seeds;
        Ok(true)
    }

    /// The split: the seeds (and clean input) to 6-10 new thief addresses; one starts a peel
    /// chain, one goes into a CoinJoin, one stays dormant, the others are deposited at exchanges
    /// over the next blocks.
    fn split(
        &mut self,
        height: u32,
        k: usize,
        utxos: &[Utxo],
        later: &mut Vec<Task>,
    ) -> Result<(), SynthError> {
        self.ins.extend_from_slice(utxos);
        let n = usize::try_from(self.rng.range(6, 10)).unwrap_or(6);
        // Roles by output: 0 peel, 1 coinjoin, 2 dormant, 3 deposit; shares in thousandths.
        let mut roles: Vec<(u8, u64)> = vec![(0, 350), (1, 40), (2, 60)];
        let rest = u64::try_from(n - 3).unwrap_or(1);
        for _ in 3..n {
            roles.push((3, 550 / rest));
        }
        for i in (1..roles.len()).rev() {
            let j = self.rng.index(i + 1);
            roles.swap(i, j);
        }
        for _ in 0..n {
            let out = self.thief_out(k, 0);
            self.outs.push(out);
        }
        let feerate = self.feerate();
        let total = self.sum_in() - feerate * self.vsize();
        let mut given = 0;
        for (i, &(_, share)) in roles.iter().enumerate() {
            let value = if i + 1 == n { total - given } else { total / 1000 * share };
            self.outs[i].value = value;
            given += value;
        }
        let txid = self.emit(height)?;
        self.thefts[k].split = Some(txid);
        for i in 0..self.new_utxos.len() {
            let utxo = self.new_utxos[i];
            let (role, _) = roles[utxo.vout as usize];
            let task = |height, action| Task { height, theft: k, action, utxos: vec![utxo] };
            match role {
                0 => later.push(task(height + 1, Action::Peel(self.rng.range32(5, 20)))),
                1 => later.push(task(height + 2, Action::Coinjoin(20))),
                2 => self.credit(utxo),
                _ => later.push(task(height + self.rng.range32(1, 10), Action::Deposit)),
            }
        }
        Ok(())
    }

    // ----- ground truth -----

    fn write_truth(&mut self, config: &SynthConfig, out: &Path) -> Result<(), SynthError> {
        let n_ents = self.ents.len();
        let mut counts = vec![0u64; n_ents];
        let mut deposits = vec![0u64; n_ents];
        {
            let file = fs::File::create(out.join("truth_addresses.tsv"))?;
            let mut tsv = BufWriter::with_capacity(1 << 20, file);
            tsv.write_all(b"address\tentity\trole\n")?;
            for (id, ((&owner, &kind), &role)) in
                self.addr_owner.iter().zip(&self.addr_kind).zip(&self.addr_role).enumerate()
            {
                let id = u32::try_from(id).unwrap_or(NONE);
                let key = address_key(self.salt, id, ScriptKind::from_u8(kind));
                let text = self.network.encode_address(&key);
                writeln!(tsv, "{text}\t{owner}\t{}", ROLE_NAMES[usize::from(role)])?;
                counts[owner as usize] += 1;
                if role == R_DEPOSIT {
                    deposits[owner as usize] += 1;
                }
            }
            tsv.flush()?;
        }
        let entities = (0..n_ents)
            .map(|i| {
                let id = u32::try_from(i).unwrap_or(NONE);
                let kind = self.ents[i].kind;
                let name = if kind == Kind::User {
                    format!("user-{}", id - self.first_user + 1)
                } else {
                    self.names[i].clone()
                };
                EntityTruth { id, kind: kind.name().to_owned(), name, address_count: counts[i] }
            })
            .collect();
        let exchanges = (self.first_ex..self.first_ex + self.n_ex)
            .map(|ex| ExchangeTruth {
                name: self.names[ex as usize].clone(),
                entity: ex,
                hot_wallet: self.ents[ex as usize]
                    .addrs
                    .iter()
                    .map(|&a| self.address_text(a))
                    .collect(),
                deposit_address_count: deposits[ex as usize],
            })
            .collect();

        // What is left unspent, per theft and policy.
        let mut unspent = [[0u64; 4]; THEFTS];
        let mut dormant: Vec<Vec<String>> = vec![Vec::new(); THEFTS];
        let mut visit = |u: &Utxo, slab: &[Amounts]| {
            for (k, left) in unspent.iter_mut().enumerate() {
                if u.poison & (1 << k) != 0 {
                    left[0] += u.value;
                }
                if u.taint != NONE {
                    for p in 0..AMOUNT_POLICIES {
                        left[p + 1] += slab[u.taint as usize][k * 3 + p];
                    }
                }
            }
        };
        for e in &self.ents {
            for u in &e.utxos {
                visit(u, &self.slab);
            }
        }
        for u in self.deposits.iter().flatten() {
            visit(u, &self.slab);
        }
        for entry in self.whirl.iter().flatten() {
            visit(&entry.utxo, &self.slab);
        }
        for task in &self.tasks {
            for u in &task.utxos {
                visit(u, &self.slab);
            }
        }
        for (k, list) in dormant.iter_mut().enumerate() {
            let thief = self.first_thief + u32::try_from(k).unwrap_or(0);
            list.extend(
                self.ents[thief as usize].utxos.iter().map(|u| outpoint_text(&u.txid, u.vout)),
            );
            for task in self.tasks.iter().filter(|t| t.theft == k) {
                list.extend(task.utxos.iter().map(|u| outpoint_text(&u.txid, u.vout)));
            }
            list.sort();
        }
        let mut thefts = Vec::new();
        for (k, state) in self.thefts.iter().enumerate() {
            let Some(txid) = state.txid else { continue };
            let mut policies = BTreeMap::new();
            for (p, name) in ["poison", "haircut", "fifo", "lifo"].into_iter().enumerate() {
                let reached = state
                    .reached
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r[p] > 0)
                    .map(|(ex, r)| (self.names[self.first_ex as usize + ex].clone(), r[p]))
                    .collect();
                policies.insert(
                    name.to_owned(),
                    PolicyTruth { reached, unspent: unspent[k][p], fees: state.fees[p] },
                );
            }
            thefts.push(TheftTruth {
                name: format!("theft-{}", k + 1),
                thief: state.thief,
                victim: self.names[state.victim as usize].clone(),
                height: state.height,
                txid: txid_text(&txid),
                seeds: state.seeds.iter().map(|(t, v)| outpoint_text(t, *v)).collect(),
                amount: state.amount,
                clean_input: state.clean.map(|(t, v, _)| outpoint_text(&t, v)),
                clean_amount: state.clean.map_or(0, |c| c.2),
                split_txid: state.split.map_or_else(String::new, |t| txid_text(&t)),
                peel_chain: state.peel.iter().map(txid_text).collect(),
                coinjoin_txid: state.coinjoin.map(|t| txid_text(&t)),
                deposit_txids: state.deposits.iter().map(txid_text).collect(),
                dormant: dormant[k].clone(),
                policies,
            });
        }
        let truth = Truth {
            format: TRUTH_FORMAT,
            network: self.network.name().to_owned(),
            seed: config.seed,
            blocks: config.blocks,
            entities,
            exchanges,
            coinjoins: std::mem::take(&mut self.coinjoins),
            thefts,
        };
        let path = out.join("truth.json");
        let file = BufWriter::new(fs::File::create(&path)?);
        serde_json::to_writer_pretty(file, &truth)
            .map_err(|source| SynthError::Json { file: path.clone(), source })?;
        write_scenario(&truth, out)
    }

    fn address_text(&self, addr: u32) -> String {
        let key = address_key(self.salt, addr, self.kind_of(addr));
        self.network.encode_address(&key)
    }
}

/// Writes what an investigator of the planted thefts would start from: the exchanges' known hot
/// wallet addresses as labels (`labels.csv`, for `cointrail labels import --format csv`; deposit
/// addresses are left for clustering to find) and the thefts as incidents (`thefts.tsv`: name,
/// actor, seeds separated by commas, amount), all attributed to one actor.
fn write_scenario(truth: &Truth, out: &Path) -> Result<(), SynthError> {
    let mut labels = String::from("address,label,category,source\n");
    for exchange in &truth.exchanges {
        for address in &exchange.hot_wallet {
            labels.push_str(&format!("{address},{},exchange,synthetic scenario\n", exchange.name));
        }
    }
    fs::write(out.join("labels.csv"), labels)?;
    let mut thefts = String::from("name\tactor\tseeds\tamount\n");
    for theft in &truth.thefts {
        thefts.push_str(&format!(
            "{}\tLazarus Group\t{}\t{}\n",
            theft.name,
            theft.seeds.join(","),
            theft.amount
        ));
    }
    fs::write(out.join("thefts.tsv"), thefts)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_offsets_stay_in_range_and_fall_off_with_distance() {
        let mut rng = Rng::new(5);
        // Shorter than the window: uniform over all of it.
        for _ in 0..1000 {
            assert!(recent_offset(&mut rng, 1024, 10) < 10);
        }
        assert_eq!(recent_offset(&mut rng, 1024, 1), 0);
        // Longer: counts per binary order of magnitude of `offset + window` are about equal, so
        // the chance per entry halves with each doubling, and nothing piles onto the oldest entry.
        let (window, len) = (1024u64, 1_000_000u64);
        let mut per_magnitude = [0u32; 21];
        let mut oldest = 0;
        for _ in 0..200_000 {
            let offset = recent_offset(&mut rng, window, len);
            assert!(offset < len);
            per_magnitude[(63 - (offset + window).leading_zeros()) as usize] += 1;
            oldest += u32::from(offset == len - 1);
        }
        // Magnitudes 2^10 to 2^19 are whole; 2^20 only reaches len + window.
        let whole = &per_magnitude[10..20];
        let (least, most) = (whole.iter().min().unwrap(), whole.iter().max().unwrap());
        assert!(*least > 0 && f64::from(*most) / f64::from(*least) < 1.1, "{per_magnitude:?}");
        assert!(oldest < 10, "{oldest} picks of the oldest entry");
    }
}
