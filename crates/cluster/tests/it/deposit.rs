//! Measured precision and recall of the deposit-address heuristic on a synthetic account-model
//! chain with planted ground truth.
//!
//! The generator plants users with several addresses each, exchanges with hot wallets and one
//! deposit address per customer (some users at several exchanges, some sweeps slower than the
//! heuristic's delay, ether and token deposits, the gas of token forwards paid by the exchange's
//! gas station, users' pass-through addresses forwarding everything to their deposit address), and
//! noise: payments between users, merchants paid by many users who cash out through their own
//! deposit address, payout services paying into many customers' deposit addresses, a small exchange
//! below the hot-wallet threshold, and a forwarder contract that passes everything it receives to a
//! hot wallet (a false-positive trap).
//!
//! Reproduce the figures of `docs/heuristics.md` with
//! `cargo test -p cointrail-cluster --test it deposit -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};

use cointrail_cluster::{
    AccountFlow, AccountFlowKind, ClusterState, DepositClustering, DepositConfig, KnownAddresses,
    cluster_deposits,
};
use cointrail_types::{AddressId, U256};

const ETHER: u64 = 1_000_000_000_000_000_000;
const GWEI: u64 = 1_000_000_000;
/// The token's asset id.
const TOKEN: u32 = 1;

/// xorshift64*: a deterministic generator for the test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Who owns an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Owner {
    User(u32),
    Exchange(u32),
    Merchant(u32),
    Service(u32),
    Contract,
    Miner,
    TokenContract,
}

/// Generator parameters.
struct Params {
    seed: u64,
    users: u32,
    exchanges: u32,
    merchants: u32,
    services: u32,
    blocks: u64,
}

/// A generated chain: flows in chain order, the owner of every address id, the planted deposit
/// addresses, and the addresses the caller knows (the token contract).
struct Synthetic {
    flows: Vec<AccountFlow>,
    owners: Vec<Owner>,
    deposits: BTreeSet<u32>,
    known: KnownAddresses,
}

struct Builder {
    rng: Rng,
    owners: Vec<Owner>,
    /// (block, sequence, flow without id)
    events: Vec<(u64, u64, AccountFlow)>,
    sequence: u64,
    miner: AddressId,
}

impl Builder {
    fn address(&mut self, owner: Owner) -> AddressId {
        self.owners.push(owner);
        AddressId::new(u32::try_from(self.owners.len() - 1).unwrap())
    }

    fn flow(
        &mut self,
        block: u64,
        kind: AccountFlowKind,
        from: AddressId,
        to: AddressId,
        asset: u32,
        amount: u64,
    ) {
        self.sequence += 1;
        let flow = AccountFlow {
            id: 0,
            block,
            kind,
            from: Some(from),
            to: Some(to),
            asset,
            amount: U256::from_u64(amount),
        };
        self.events.push((block, self.sequence, flow));
    }

    /// A transaction of `from` moving `amount` of `asset` to `to`, with its gas.
    fn tx(&mut self, block: u64, from: AddressId, to: AddressId, asset: u32, amount: u64) -> u64 {
        let kind = if asset == 0 { AccountFlowKind::Transfer } else { AccountFlowKind::Token };
        self.flow(block, kind, from, to, asset, amount);
        let gas = 21_000 * self.rng.range(1, 100) * GWEI;
        self.flow(block, AccountFlowKind::Gas, from, self.miner, 0, gas);
        gas
    }

    /// Payments into `deposit` from `payers`, then its forward to `hot` after `delay` blocks.
    /// Returns the block of the forward.
    fn deposit(
        &mut self,
        start: u64,
        payers: &[AddressId],
        deposit: AddressId,
        hot: AddressId,
        asset: u32,
        delay: u64,
    ) -> u64 {
        let mut block = start;
        let mut sum = 0;
        for payer in payers {
            let amount = if asset == 0 {
                self.rng.range(ETHER / 20, 5 * ETHER)
            } else {
                self.rng.range(10, 100_000) * 1_000_000
            };
            self.tx(block, *payer, deposit, asset, amount);
            sum += amount;
            block += self.rng.range(0, 20);
        }
        let forward = block + delay;
        self.forward(forward, deposit, hot, asset, sum);
        forward
    }
}

impl Builder {
    /// The forward of `received` from `deposit` to `hot`: ether loses the forward's gas; for
    /// tokens the exchange tops up the gas, and the tokens arrive whole.
    fn forward(
        &mut self,
        block: u64,
        deposit: AddressId,
        hot: AddressId,
        asset: u32,
        received: u64,
    ) {
        let gas = 21_000 * self.rng.range(1, 100) * GWEI;
        let (kind, amount) = if asset == 0 {
            (AccountFlowKind::Transfer, received - gas)
        } else {
            (AccountFlowKind::Token, received)
        };
        self.flow(block, kind, deposit, hot, asset, amount);
        self.flow(block, AccountFlowKind::Gas, deposit, self.miner, 0, gas);
    }
}

fn generate(params: &Params) -> Synthetic {
    let mut builder = Builder {
        rng: Rng(params.seed | 1),
        owners: Vec::new(),
        events: Vec::new(),
        sequence: 0,
        miner: AddressId::new(0),
    };
    builder.miner = builder.address(Owner::Miner);
    let token = builder.address(Owner::TokenContract);
    let blocks = params.blocks;

    // Exchanges: one or two hot wallets each. The last one is small (two customers).
    let mut hot_wallets: Vec<Vec<AddressId>> = Vec::new();
    for exchange in 0..params.exchanges {
        let count = 1 + builder.rng.below(2);
        hot_wallets.push((0..count).map(|_| builder.address(Owner::Exchange(exchange))).collect());
    }
    let gas_stations: Vec<AddressId> =
        (0..params.exchanges).map(|exchange| builder.address(Owner::Exchange(exchange))).collect();
    let small = params.exchanges - 1;
    let mut deposits = BTreeSet::new();
    let mut customers: Vec<(u32, AddressId, AddressId)> = Vec::new(); // (exchange, deposit, hot)

    // Users: 1-4 addresses, funded by withdrawals from an exchange.
    let mut users: Vec<Vec<AddressId>> = Vec::new();
    for user in 0..params.users {
        let count = builder.rng.range(1, 4);
        let addresses: Vec<AddressId> =
            (0..count).map(|_| builder.address(Owner::User(user))).collect();
        for address in &addresses {
            let exchange = builder.rng.below(u64::from(params.exchanges - 1)) as usize;
            let hot = builder.rng.pick(&hot_wallets[exchange]);
            let block = builder.rng.range(0, blocks / 10);
            let amount = builder.rng.range(ETHER, 15 * ETHER);
            builder.tx(block, hot, *address, 0, amount);
        }
        users.push(addresses);
    }
    let all_user_addresses: Vec<AddressId> = users.iter().flatten().copied().collect();

    // Each user banks at 1-3 exchanges (the small one only by the first two users), with one
    // deposit address each; 1-4 deposit rounds from random addresses of theirs.
    for (user, addresses) in users.iter().enumerate() {
        let mut banks: BTreeSet<u32> = BTreeSet::new();
        if user < 2 {
            banks.insert(small);
        }
        for _ in 0..builder.rng.range(1, 3) {
            banks.insert(builder.rng.below(u64::from(params.exchanges - 1)) as u32);
        }
        for exchange in banks {
            let deposit = builder.address(Owner::Exchange(exchange));
            deposits.insert(deposit.get());
            let hot = builder.rng.pick(&hot_wallets[exchange as usize]);
            customers.push((exchange, deposit, hot));
            let asset = if builder.rng.below(5) == 0 { TOKEN } else { 0 };
            if asset == TOKEN {
                // Token balances come from a token withdrawal of the exchange.
                for address in addresses {
                    builder.tx(1, hot, *address, TOKEN, 1_000_000_000_000);
                }
            }
            let mut block = builder.rng.range(blocks / 10, blocks / 2);
            for _ in 0..builder.rng.range(1, 4) {
                let payers: Vec<AddressId> =
                    (0..builder.rng.range(1, 2)).map(|_| builder.rng.pick(addresses)).collect();
                // Most sweeps are prompt; one in ten takes hours to a day, one in ten longer than
                // the heuristic's default delay.
                let delay = match builder.rng.below(10) {
                    0 => builder.rng.range(10_500, 20_000),
                    1 => builder.rng.range(300, 8_000),
                    _ => builder.rng.range(1, 300),
                };
                if asset == TOKEN {
                    // The exchange's gas station pays the gas of the token forward.
                    let station = gas_stations[exchange as usize];
                    builder.tx(block, station, deposit, 0, ETHER / 500);
                }
                block = builder.deposit(block, &payers, deposit, hot, asset, delay)
                    + builder.rng.range(1, 500);
            }
            // One user in five also has three pass-through addresses: each is paid by a friend
            // and sends it all on to the user's deposit address. They forward everything to one
            // address, like deposit addresses do, so the deposit address has three "candidates"
            // of its own and must not be taken for a hot wallet.
            if asset == 0 && user % 5 == 4 {
                for _ in 0..3 {
                    let pass = builder.address(Owner::User(user as u32));
                    let friend = builder.rng.pick(&all_user_addresses);
                    let amount = builder.rng.range(ETHER / 10, 2 * ETHER);
                    builder.tx(block, friend, pass, 0, amount);
                    let sent = amount - 21_000 * 100 * GWEI;
                    block += builder.rng.range(1, 200);
                    builder.tx(block, pass, deposit, 0, sent);
                    block += builder.rng.range(1, 300);
                    builder.forward(block, deposit, hot, 0, sent);
                    block += builder.rng.range(1, 500);
                }
            }
        }
    }

    // Noise: payments between users.
    for _ in 0..params.users * 3 {
        let (from, to) =
            (builder.rng.pick(&all_user_addresses), builder.rng.pick(&all_user_addresses));
        if from != to {
            let block = builder.rng.range(blocks / 10, blocks);
            let amount = builder.rng.range(ETHER / 100, ETHER);
            builder.tx(block, from, to, 0, amount);
        }
    }

    // Merchants: paid by many users, cashing out through their own deposit address.
    for merchant in 0..params.merchants {
        let address = builder.address(Owner::Merchant(merchant));
        let exchange = builder.rng.below(u64::from(params.exchanges - 1)) as usize;
        let hot = builder.rng.pick(&hot_wallets[exchange]);
        let deposit = builder.address(Owner::Exchange(exchange as u32));
        deposits.insert(deposit.get());
        let mut block = blocks / 2;
        for _ in 0..3 {
            let mut received = 0;
            for _ in 0..builder.rng.range(3, 10) {
                let payer = builder.rng.pick(&all_user_addresses);
                let amount = builder.rng.range(ETHER / 100, ETHER / 2);
                builder.tx(block, payer, address, 0, amount);
                received += amount;
                block += builder.rng.range(1, 30);
            }
            let sweep = received - 21_000 * 100 * GWEI;
            builder.tx(block, address, deposit, 0, sweep);
            let delay = builder.rng.range(1, 300);
            builder.forward(block + delay, deposit, hot, 0, sweep);
            block += builder.rng.range(50, 400);
        }
    }

    // Payout services: each pays into the deposit addresses of several customers.
    for service in 0..params.services {
        let address = builder.address(Owner::Service(service));
        let targets = builder.rng.range(2, 10);
        for _ in 0..targets {
            let (_, deposit, hot) = builder.rng.pick(&customers);
            let block = builder.rng.range(blocks / 2, blocks - 400);
            let delay = builder.rng.range(1, 100);
            builder.deposit(block, &[address], deposit, hot, 0, delay);
        }
    }

    // A forwarder contract: users pay it, it passes everything on to a hot wallet in the same
    // transaction (an internal transfer; a contract pays no gas).
    let forwarder = builder.address(Owner::Contract);
    let hot = hot_wallets[0][0];
    for _ in 0..40 {
        let payer = builder.rng.pick(&all_user_addresses);
        let block = builder.rng.range(blocks / 10, blocks);
        let amount = builder.rng.range(ETHER / 10, ETHER);
        builder.tx(block, payer, forwarder, 0, amount);
        builder.flow(block, AccountFlowKind::Internal, forwarder, hot, 0, amount);
    }

    builder.events.sort_by_key(|(block, sequence, _)| (*block, *sequence));
    let flows = builder
        .events
        .into_iter()
        .enumerate()
        .map(|(id, (_, _, flow))| AccountFlow { id: id as u64, ..flow })
        .collect();
    Synthetic {
        flows,
        owners: builder.owners,
        deposits,
        known: KnownAddresses { tokens: BTreeSet::from([token]), ..KnownAddresses::default() },
    }
}

/// The chain measured in `docs/heuristics.md`.
const STANDARD: Params =
    Params { seed: 2020, users: 2_000, exchanges: 5, merchants: 20, services: 30, blocks: 200_000 };

/// Pair counts of a partition against the ground truth.
#[derive(Debug, Default)]
struct Pairs {
    predicted: u64,
    correct: u64,
    true_pairs: u64,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Counts predicted, correct and true pairs among the addresses of users, merchants and services
/// (what the heuristic means to cluster; exchange, contract and miner addresses are left out).
fn measure(parent: &[u32], owners: &[Owner]) -> Pairs {
    let clustered =
        |owner: &Owner| matches!(owner, Owner::User(_) | Owner::Merchant(_) | Owner::Service(_));
    let mut by_cluster: BTreeMap<u32, BTreeMap<Owner, u64>> = BTreeMap::new();
    let mut by_owner: BTreeMap<Owner, u64> = BTreeMap::new();
    for (index, owner) in owners.iter().enumerate() {
        if !clustered(owner) {
            continue;
        }
        *by_cluster.entry(parent[index]).or_default().entry(*owner).or_default() += 1;
        *by_owner.entry(*owner).or_default() += 1;
    }
    let mut result = Pairs::default();
    for owners in by_cluster.values() {
        result.predicted += pairs(owners.values().sum());
        result.correct += owners.values().map(|count| pairs(*count)).sum::<u64>();
    }
    result.true_pairs = by_owner.values().map(|count| pairs(*count)).sum();
    result
}

fn run(synthetic: &Synthetic, config: &DepositConfig) -> (Vec<u32>, DepositClustering) {
    let len = synthetic.owners.len();
    let (mut parent, mut size, mut next) = (vec![0; len], vec![0; len], vec![0; len]);
    let mut state = ClusterState::new(&mut parent, &mut size, &mut next);
    state.init_singletons(0);
    let result =
        cluster_deposits(synthetic.flows.iter().copied(), &synthetic.known, config, &mut state);
    state.canonicalize();
    (parent, result)
}

#[test]
#[expect(clippy::cast_precision_loss, reason = "ratios for people to read")]
fn deposit_heuristic_precision_and_recall_on_planted_truth() {
    let params = Params {
        seed: 2020,
        users: 2_000,
        exchanges: 5,
        merchants: 20,
        services: 30,
        blocks: 200_000,
    };
    let synthetic = generate(&params);
    let (parent, result) = run(&synthetic, &DepositConfig::default());
    let measured = measure(&parent, &synthetic.owners);
    let precision = measured.correct as f64 / measured.predicted.max(1) as f64;
    let recall = measured.correct as f64 / measured.true_pairs.max(1) as f64;
    let detected: BTreeSet<u32> = result.deposits.iter().map(|d| d.address.get()).collect();
    let right = detected.intersection(&synthetic.deposits).count();
    let deposit_precision = right as f64 / detected.len().max(1) as f64;
    let deposit_recall = right as f64 / synthetic.deposits.len() as f64;
    let clusters = {
        let mut sizes: BTreeMap<u32, u32> = BTreeMap::new();
        for root in &parent {
            *sizes.entry(*root).or_default() += 1;
        }
        sizes
    };
    let multi = clusters.values().filter(|size| **size > 1).count();
    let largest = clusters.values().max().copied().unwrap_or(0);
    println!(
        "addresses {} flows {} | planted deposits {} detected {} (precision {deposit_precision:.4}, recall {deposit_recall:.4}) | hot wallets {} services excluded {} | clusters >1: {multi}, largest {largest}, merges {} | pairs predicted {} correct {} true {} | pair precision {precision:.4} recall {recall:.4}",
        synthetic.owners.len(),
        synthetic.flows.len(),
        synthetic.deposits.len(),
        detected.len(),
        result.hot_wallets.len(),
        result.services.len(),
        result.links.len(),
        measured.predicted,
        measured.correct,
        measured.true_pairs,
    );
    // Floors a little under the measured figures (docs/heuristics.md), so that a regression fails.
    assert!(precision >= 0.95, "pair precision {precision:.4}");
    assert!(recall >= 0.70, "pair recall {recall:.4}");
    assert!(deposit_precision >= 0.99, "deposit precision {deposit_precision:.4}");
    assert!(deposit_recall >= 0.95, "deposit recall {deposit_recall:.4}");
    // The forwarder contract is never a deposit address, so its 40 payers stay apart.
    let forwarder = synthetic.owners.iter().position(|owner| *owner == Owner::Contract).unwrap();
    assert!(!detected.contains(&u32::try_from(forwarder).unwrap()));
    // The small exchange stays below the hot-wallet threshold.
    assert!(
        result.hot_wallets.iter().all(|hot| synthetic.owners[hot.address.get() as usize]
            != Owner::Exchange(params.exchanges - 1))
    );
    // Same input, same output.
    let (again_parent, again) = run(&synthetic, &DepositConfig::default());
    assert_eq!((again_parent, again), (parent, result));
}

#[test]
fn looser_parameters_trade_precision_for_recall() {
    let params =
        Params { seed: 7, users: 500, exchanges: 5, merchants: 5, services: 10, blocks: 100_000 };
    let synthetic = generate(&params);
    let strict = measure(&run(&synthetic, &DepositConfig::default()).0, &synthetic.owners);
    let loose = DepositConfig {
        max_block_delay: 30_000,
        max_sender_deposits: 100,
        ..DepositConfig::default()
    };
    let loose = measure(&run(&synthetic, &loose).0, &synthetic.owners);
    // The longer delay finds the slow sweeps, and without the service limit the payout services
    // join their customers: more pairs, some of them wrong.
    assert!(loose.correct > strict.correct, "{loose:?} vs {strict:?}");
    assert!(
        loose.predicted - loose.correct > strict.predicted - strict.correct,
        "{loose:?} vs {strict:?}"
    );
}

/// The sender limit and the delay, swept: a higher limit never loses a correct pair and never
/// removes a wrong one; a longer delay finds more deposit addresses.
#[test]
#[expect(clippy::cast_precision_loss, reason = "ratios for people to read")]
fn deposit_parameter_sweep() {
    let synthetic = generate(&STANDARD);
    let mut previous: Option<Pairs> = None;
    for limit in [1, 2, 3, 5, 10] {
        let config = DepositConfig { max_sender_deposits: limit, ..DepositConfig::default() };
        let (parent, result) = run(&synthetic, &config);
        let measured = measure(&parent, &synthetic.owners);
        println!(
            "max_sender_deposits {limit:>2}: deposits {} pairs {} precision {:.4} recall {:.4}",
            result.deposits.len(),
            measured.predicted,
            measured.correct as f64 / measured.predicted.max(1) as f64,
            measured.correct as f64 / measured.true_pairs.max(1) as f64
        );
        if let Some(previous) = &previous {
            assert!(measured.correct >= previous.correct);
            assert!(measured.predicted - measured.correct >= previous.predicted - previous.correct);
        }
        previous = Some(measured);
    }
    let mut found = 0;
    for delay in [100, 3_200, 10_000, 30_000] {
        let config = DepositConfig { max_block_delay: delay, ..DepositConfig::default() };
        let (parent, result) = run(&synthetic, &config);
        let measured = measure(&parent, &synthetic.owners);
        println!(
            "max_block_delay {delay:>6}: deposits {} pairs {} precision {:.4} recall {:.4}",
            result.deposits.len(),
            measured.predicted,
            measured.correct as f64 / measured.predicted.max(1) as f64,
            measured.correct as f64 / measured.true_pairs.max(1) as f64
        );
        assert!(result.deposits.len() > found);
        found = result.deposits.len();
    }
}
