//! The deposit-address heuristic for account-model chains (Victor 2020, "Address Clustering
//! Heuristics for Ethereum", FC 2020, §4.1).
//!
//! An exchange gives each customer a deposit address `D`; `D` forwards what it receives to the
//! exchange's hot wallet `E` soon after, for nearly the same amount (the native currency loses the
//! gas of the forward; tokens arrive whole), and many such `D` forward to one `E`. Everyone who
//! pays into one `D` is then taken to be one customer, so the senders of `D` form one cluster; `D`
//! itself belongs to the exchange and is not put in it.
//!
//! One pass over the chain's flows, in chain order:
//!
//! - a **forward** is a value flow out of an address (a top-level transfer or a token transfer)
//!   whose amount is at most the sum of what the address received of that asset since its last
//!   outgoing flow of the asset, within [`DepositConfig::max_block_delay`] blocks, and at most
//!   [`DepositConfig::max_amount_difference`] (native) or [`DepositConfig::max_token_difference`]
//!   (tokens) below it;
//! - a **candidate deposit** is an address that paid gas (it sent a transaction, so it is an
//!   externally owned account), never sent value from inside a contract call (contracts do), is not
//!   a token contract, sent value to exactly one address `E`, and forwarded at least once;
//! - `E` is a **hot wallet** when at least [`DepositConfig::min_deposits`] candidates forward to it
//!   and it is no candidate itself (a hot wallet pays many), or when the caller knows it as an
//!   exchange; the candidates of a hot wallet that are not hot wallets themselves are **deposit
//!   addresses**;
//! - the **users** of a deposit address are the senders of the receipts its forwards matched,
//!   except senders that are contracts, token contracts, hot wallets or deposit addresses, that paid
//!   no gas, or that paid into more than [`DepositConfig::max_sender_deposits`] deposit addresses
//!   (a service paying many customers, or the hot wallet of an exchange not recognised as one).
//!
//! The users of each deposit address are merged, each merge with its evidence ([`DepositLink`]).
//! Sans-IO: the chain is an iterator of [`AccountFlow`]s over dense address ids, and the result
//! is deterministic (sorted by address id).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use cointrail_types::{AddressId, U256};

use crate::{ClusterState, UnionOutcome};

/// What a flow is, as far as the heuristic cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountFlowKind {
    /// The value of a transaction, from its sender (who signed it and paid its gas).
    Transfer,
    /// A value transfer inside a transaction, from a contract.
    Internal,
    /// A fungible token transfer (EIP-20 `Transfer` log); the asset is the token.
    Token,
    /// Gas paid or burned by a transaction's sender.
    Gas,
    /// Value without a sender: withdrawals, block rewards.
    Issued,
    /// Anything else (non-fungible tokens): ignored.
    Other,
}

/// One value flow of an account-model chain over dense address ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountFlow {
    /// Flow id: flows are numbered in chain order.
    pub id: u64,
    /// Block number.
    pub block: u64,
    /// What it is.
    pub kind: AccountFlowKind,
    /// Sender (`None`: issued).
    pub from: Option<AddressId>,
    /// Recipient (`None`: burned).
    pub to: Option<AddressId>,
    /// Asset id (0: the native currency).
    pub asset: u32,
    /// Amount in base units.
    pub amount: U256,
}

/// 0.01 ether in wei: Victor's maximum amount difference between a deposit and its forward
/// (`maxETHDiff` in etherclust's `config.py`).
pub const DEFAULT_MAX_AMOUNT_DIFFERENCE: u64 = 10_000_000_000_000_000;
/// 10,000 blocks (about 37 hours at 13.5 s blocks, 33 at 12 s): the maximum delay of Victor's
/// published implementation (`maxBlockDiff` in etherclust's `config.py`).
pub const DEFAULT_MAX_BLOCK_DELAY: u64 = 10_000;

/// Parameters of the deposit-address heuristic (see `docs/heuristics.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositConfig {
    /// Largest shortfall of a native forward against what it forwards, in wei (the forward's gas
    /// is paid from the deposit). Default 0.01 ether (Victor 2020).
    pub max_amount_difference: U256,
    /// Largest shortfall of a token forward, in token units. Default 0: gas is paid in the native
    /// currency, so a token deposit is forwarded whole.
    pub max_token_difference: U256,
    /// Largest number of blocks between a receipt and the forward that passes it on. Default
    /// 10,000 (Victor 2020).
    pub max_block_delay: u64,
    /// Candidates that must forward to one address before it counts as a hot wallet. Default 3.
    pub min_deposits: u32,
    /// A sender paying into more deposit addresses than this is a service, not one customer, and
    /// is not clustered. Default 3 (ours, not Victor's: see the measured trade-off in
    /// `docs/heuristics.md`).
    pub max_sender_deposits: u32,
}

impl Default for DepositConfig {
    fn default() -> Self {
        Self {
            max_amount_difference: U256::from_u64(DEFAULT_MAX_AMOUNT_DIFFERENCE),
            max_token_difference: U256::ZERO,
            max_block_delay: DEFAULT_MAX_BLOCK_DELAY,
            min_deposits: 3,
            max_sender_deposits: 3,
        }
    }
}

/// What the caller knows about addresses beyond the flows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownAddresses {
    /// Token contracts (the chain's assets): never deposits, users or hot wallets.
    pub tokens: BTreeSet<AddressId>,
    /// Addresses labelled as exchanges: hot wallets with a single deposit forwarding to them.
    pub exchanges: BTreeSet<AddressId>,
}

/// A receipt passed on by a forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The incoming flow.
    pub flow: u64,
    /// Its block.
    pub block: u64,
    /// Its sender.
    pub from: Option<AddressId>,
    /// Its amount.
    pub amount: U256,
}

/// A forward: what a deposit address received, passed on to one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// The outgoing flow.
    pub flow: u64,
    /// Its block.
    pub block: u64,
    /// Where it went.
    pub to: AddressId,
    /// Asset id.
    pub asset: u32,
    /// Amount forwarded.
    pub amount: U256,
    /// The receipts it passes on, in chain order.
    pub receipts: Vec<Receipt>,
    /// Blocks between the first receipt and the forward.
    pub block_delay: u64,
    /// Sum of the receipts minus the amount forwarded.
    pub amount_difference: U256,
}

/// A customer of a deposit address and its first payment into it that a forward passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepositUser {
    /// The customer's address.
    pub address: AddressId,
    /// The incoming flow.
    pub receipt: u64,
    /// The forward that passed it on.
    pub forward: u64,
}

/// A detected deposit address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositAddress {
    /// The deposit address (the exchange's).
    pub address: AddressId,
    /// The hot wallet it forwards to.
    pub hot_wallet: AddressId,
    /// Its forwards, in chain order.
    pub forwards: Vec<Forward>,
    /// Its customers' addresses, by address id.
    pub users: Vec<DepositUser>,
}

/// A detected hot wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotWallet {
    /// The address.
    pub address: AddressId,
    /// Candidate deposit addresses forwarding to it.
    pub deposits: u32,
    /// Whether the caller knew it as an exchange.
    pub known: bool,
}

/// Why two addresses were merged: both paid into one deposit address, and forwards passed both
/// payments on to the hot wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DepositLink {
    /// An address of one side.
    pub a: AddressId,
    /// An address of the other side.
    pub b: AddressId,
    /// The deposit address both paid into.
    pub deposit: AddressId,
    /// The payment of `a` into it.
    pub receipt_a: u64,
    /// The forward that passed the payment of `a` on.
    pub forward_a: u64,
    /// The payment of `b` into it.
    pub receipt_b: u64,
    /// The forward that passed the payment of `b` on.
    pub forward_b: u64,
}

/// A sender left out of clustering because it paid into too many deposit addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// The sender.
    pub address: AddressId,
    /// Deposit addresses it paid into.
    pub deposits: u32,
}

/// What one run of the deposit-address heuristic found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepositClustering {
    /// Hot wallets, by address id.
    pub hot_wallets: Vec<HotWallet>,
    /// Deposit addresses, by address id.
    pub deposits: Vec<DepositAddress>,
    /// Applied merges, in the order they were applied.
    pub links: Vec<DepositLink>,
    /// Senders not clustered because they paid into too many deposit addresses.
    pub services: Vec<Service>,
    /// Flows examined.
    pub flows: u64,
    /// Candidate deposit addresses (before the hot-wallet test).
    pub candidates: u64,
}

/// Recipients of an address's outgoing value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recipients {
    One(AddressId),
    Several,
}

#[derive(Debug, Default)]
struct Scan {
    gas_payers: HashSet<AddressId>,
    /// Addresses that sent value from inside a contract call.
    contracts: HashSet<AddressId>,
    recipients: HashMap<AddressId, Recipients>,
    pending: HashMap<(AddressId, u32), VecDeque<Receipt>>,
    forwards: HashMap<AddressId, Vec<Forward>>,
    flows: u64,
}

impl Scan {
    fn push(&mut self, flow: &AccountFlow, config: &DepositConfig) {
        self.flows += 1;
        if flow.kind == AccountFlowKind::Other {
            return;
        }
        if flow.kind == AccountFlowKind::Gas {
            if let Some(from) = flow.from {
                self.gas_payers.insert(from);
            }
            return;
        }
        if flow.amount.is_zero() || (flow.from.is_some() && flow.from == flow.to) {
            // Zero-value token transfers are often address poisoning, not payments; a transfer to
            // oneself moves nothing.
            return;
        }
        if let Some(from) = flow.from {
            if flow.kind == AccountFlowKind::Internal {
                self.contracts.insert(from);
            }
            if let Some(to) = flow.to {
                let entry = self.recipients.entry(from).or_insert(Recipients::One(to));
                if *entry != Recipients::One(to) {
                    *entry = Recipients::Several;
                }
            }
            if matches!(flow.kind, AccountFlowKind::Transfer | AccountFlowKind::Token) {
                self.outgoing(from, flow, config);
            } else {
                self.pending.remove(&(from, flow.asset));
            }
        }
        if let Some(to) = flow.to {
            let queue = self.pending.entry((to, flow.asset)).or_default();
            while queue.front().is_some_and(|first| {
                flow.block.saturating_sub(first.block) > config.max_block_delay
            }) {
                queue.pop_front();
            }
            queue.push_back(Receipt {
                flow: flow.id,
                block: flow.block,
                from: flow.from,
                amount: flow.amount,
            });
        }
    }

    fn outgoing(&mut self, from: AddressId, flow: &AccountFlow, config: &DepositConfig) {
        let Some(receipts) = self.pending.remove(&(from, flow.asset)) else { return };
        let Some(to) = flow.to else { return };
        let receipts: Vec<Receipt> = receipts
            .into_iter()
            .filter(|receipt| flow.block.saturating_sub(receipt.block) <= config.max_block_delay)
            .collect();
        let Some(first) = receipts.first() else { return };
        let sum = receipts
            .iter()
            .try_fold(U256::ZERO, |sum, receipt| sum.checked_add(receipt.amount))
            .unwrap_or(U256::MAX);
        let tolerance = if flow.asset == 0 {
            config.max_amount_difference
        } else {
            config.max_token_difference
        };
        let Some(difference) = sum.checked_sub(flow.amount) else { return };
        if difference > tolerance {
            return;
        }
        let block_delay = flow.block.saturating_sub(first.block);
        self.forwards.entry(from).or_default().push(Forward {
            flow: flow.id,
            block: flow.block,
            to,
            asset: flow.asset,
            amount: flow.amount,
            receipts,
            block_delay,
            amount_difference: difference,
        });
    }
}

/// Runs the deposit-address heuristic over `flows` (in chain order, ascending id) and merges the
/// users of every deposit address in `state`, which must cover every address id of the flows.
///
/// # Panics
///
/// Panics if a flow names an address id outside `state`.
pub fn cluster_deposits(
    flows: impl IntoIterator<Item = AccountFlow>,
    known: &KnownAddresses,
    config: &DepositConfig,
    state: &mut ClusterState<'_>,
) -> DepositClustering {
    let mut scan = Scan::default();
    for flow in flows {
        scan.push(&flow, config);
    }
    let Scan { gas_payers, contracts, recipients, forwards, flows, .. } = scan;
    let is_contract =
        |address: &AddressId| contracts.contains(address) || known.tokens.contains(address);

    // Candidates: externally owned, paying only one address, forwarding to it.
    let mut candidates: BTreeMap<AddressId, AddressId> = BTreeMap::new();
    for (address, list) in &forwards {
        let Some(Recipients::One(target)) = recipients.get(address) else { continue };
        if gas_payers.contains(address) && !is_contract(address) && list[0].to == *target {
            candidates.insert(*address, *target);
        }
    }
    let mut per_target: BTreeMap<AddressId, u32> = BTreeMap::new();
    for target in candidates.values() {
        *per_target.entry(*target).or_default() += 1;
    }
    let hot_wallets: Vec<HotWallet> = per_target
        .iter()
        .filter(|(address, _)| !known.tokens.contains(address))
        .map(|(address, count)| HotWallet {
            address: *address,
            deposits: *count,
            known: known.exchanges.contains(address),
        })
        // A hot wallet pays many (withdrawals, cold storage); an address that forwards everything
        // to one address is a deposit address itself (a user's pass-through addresses would
        // otherwise make the user's deposit address look like a hot wallet).
        .filter(|hot| {
            hot.known
                || (hot.deposits >= config.min_deposits && !candidates.contains_key(&hot.address))
        })
        .collect();
    let hot: BTreeSet<AddressId> = hot_wallets.iter().map(|hot| hot.address).collect();
    let deposit_of: BTreeMap<AddressId, AddressId> = candidates
        .iter()
        .filter(|(address, target)| hot.contains(target) && !hot.contains(address))
        .map(|(address, target)| (*address, *target))
        .collect();

    // Senders into deposit addresses, and how many deposit addresses each paid into.
    let eligible = |sender: &AddressId| {
        gas_payers.contains(sender)
            && !is_contract(sender)
            && !hot.contains(sender)
            && !deposit_of.contains_key(sender)
    };
    let mut paid: BTreeMap<AddressId, BTreeSet<AddressId>> = BTreeMap::new();
    for deposit in deposit_of.keys() {
        for forward in &forwards[deposit] {
            for receipt in &forward.receipts {
                if let Some(sender) = receipt.from.filter(&eligible) {
                    paid.entry(sender).or_default().insert(*deposit);
                }
            }
        }
    }
    let count = |set: &BTreeSet<AddressId>| u32::try_from(set.len()).unwrap_or(u32::MAX);
    let services: Vec<Service> = paid
        .iter()
        .filter(|(_, deposits)| count(deposits) > config.max_sender_deposits)
        .map(|(address, deposits)| Service { address: *address, deposits: count(deposits) })
        .collect();
    let service: BTreeSet<AddressId> = services.iter().map(|service| service.address).collect();

    let mut result = DepositClustering {
        hot_wallets,
        services,
        flows,
        candidates: candidates.len() as u64,
        ..DepositClustering::default()
    };
    for (&deposit, &hot_wallet) in &deposit_of {
        let list = &forwards[&deposit];
        let mut users: BTreeMap<AddressId, DepositUser> = BTreeMap::new();
        for forward in list {
            for receipt in &forward.receipts {
                let Some(sender) = receipt.from else { continue };
                if eligible(&sender) && !service.contains(&sender) {
                    users.entry(sender).or_insert(DepositUser {
                        address: sender,
                        receipt: receipt.flow,
                        forward: forward.flow,
                    });
                }
            }
        }
        let users: Vec<DepositUser> = users.into_values().collect();
        if let Some((first, rest)) = users.split_first() {
            for other in rest {
                let merged = state.union(first.address, other.address, u32::MAX, u32::MAX);
                if merged == UnionOutcome::Merged {
                    result.links.push(DepositLink {
                        a: first.address,
                        b: other.address,
                        deposit,
                        receipt_a: first.receipt,
                        forward_a: first.forward,
                        receipt_b: other.receipt,
                        forward_b: other.forward,
                    });
                }
            }
        }
        result.deposits.push(DepositAddress {
            address: deposit,
            hot_wallet,
            forwards: list.clone(),
            users,
        });
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETHER: u64 = 1_000_000_000_000_000_000;

    /// A hand-built chain: named addresses, flows appended in order.
    #[derive(Default)]
    struct Chain {
        names: Vec<&'static str>,
        flows: Vec<AccountFlow>,
    }

    impl Chain {
        fn id(&mut self, name: &'static str) -> AddressId {
            let index = self.names.iter().position(|known| *known == name).unwrap_or_else(|| {
                self.names.push(name);
                self.names.len() - 1
            });
            AddressId::new(u32::try_from(index).unwrap())
        }

        fn flow(
            &mut self,
            block: u64,
            kind: AccountFlowKind,
            from: &'static str,
            to: &'static str,
            asset: u32,
            amount: u64,
        ) {
            let (from, to) = (Some(self.id(from)), Some(self.id(to)));
            let id = self.flows.len() as u64;
            self.flows.push(AccountFlow {
                id,
                block,
                kind,
                from,
                to,
                asset,
                amount: U256::from_u64(amount),
            });
        }

        /// A top-level transfer with its gas.
        fn send(&mut self, block: u64, from: &'static str, to: &'static str, amount: u64) {
            self.flow(block, AccountFlowKind::Transfer, from, to, 0, amount);
            self.flow(block, AccountFlowKind::Gas, from, "miner", 0, 21_000);
        }

        /// `user` pays `amount` into `deposit`, which forwards it minus 0.001 ether `delay`
        /// blocks later to `hot`.
        fn deposit(
            &mut self,
            block: u64,
            user: &'static str,
            deposit: &'static str,
            hot: &'static str,
            amount: u64,
            delay: u64,
        ) {
            self.send(block, user, deposit, amount);
            self.send(block + delay, deposit, hot, amount - ETHER / 1000);
        }

        fn run(
            &mut self,
            known: &KnownAddresses,
            config: &DepositConfig,
        ) -> (Vec<u32>, DepositClustering) {
            self.id("miner");
            let len = self.names.len();
            let (mut parent, mut size, mut next) = (vec![0; len], vec![0; len], vec![0; len]);
            let mut state = ClusterState::new(&mut parent, &mut size, &mut next);
            state.init_singletons(0);
            let result = cluster_deposits(self.flows.clone(), known, config, &mut state);
            state.canonicalize();
            (parent, result)
        }

        fn joined(&mut self, parent: &[u32], a: &'static str, b: &'static str) -> bool {
            parent[self.id(a).get() as usize] == parent[self.id(b).get() as usize]
        }
    }

    /// Three other customers of exchange `hot`, so that it passes the hot-wallet test.
    fn exchange(chain: &mut Chain, hot: &'static str) {
        chain.deposit(10, "c1", "d-c1", hot, ETHER, 5);
        chain.deposit(12, "c2", "d-c2", hot, 2 * ETHER, 5);
        chain.deposit(14, "c3", "d-c3", hot, 3 * ETHER, 5);
    }

    #[test]
    fn two_senders_of_one_deposit_address_are_merged_with_evidence() {
        let mut chain = Chain::default();
        exchange(&mut chain, "hot");
        chain.send(100, "alice-1", "d-alice", ETHER);
        chain.send(110, "alice-2", "d-alice", ETHER);
        chain.send(120, "d-alice", "hot", 2 * ETHER - ETHER / 1000);
        let (parent, result) = chain.run(&KnownAddresses::default(), &DepositConfig::default());
        assert!(chain.joined(&parent, "alice-1", "alice-2"));
        assert!(
            !chain.joined(&parent, "alice-1", "d-alice"),
            "the deposit address is the exchange's"
        );
        assert!(!chain.joined(&parent, "alice-1", "c1"));
        assert_eq!(
            result.hot_wallets,
            vec![HotWallet { address: chain.id("hot"), deposits: 4, known: false }]
        );
        assert_eq!(result.deposits.len(), 4);
        assert_eq!(result.links.len(), 1);
        let link = result.links[0];
        assert_eq!(
            (link.a, link.b, link.deposit),
            (chain.id("alice-1"), chain.id("alice-2"), chain.id("d-alice"))
        );
        let deposit = result.deposits.iter().find(|d| d.address == chain.id("d-alice")).unwrap();
        let forward = &deposit.forwards[0];
        assert_eq!(forward.block_delay, 20);
        assert_eq!(forward.amount_difference, U256::from_u64(ETHER / 1000));
        assert_eq!(
            forward.receipts.iter().map(|r| r.flow).collect::<Vec<_>>(),
            vec![link.receipt_a, link.receipt_b]
        );
        assert_eq!(link.forward_a, forward.flow);
    }

    #[test]
    fn table_of_must_merge_and_must_not_merge_cases() {
        struct Case {
            name: &'static str,
            build: fn(&mut Chain),
            config: DepositConfig,
            merged: bool,
        }
        let default = DepositConfig::default;
        let cases = [
            Case {
                name: "forward within the delay and the amount difference",
                build: |chain| {
                    chain.send(100, "u1", "d", ETHER);
                    chain.send(101, "u2", "d", ETHER);
                    chain.send(100 + DEFAULT_MAX_BLOCK_DELAY, "d", "hot", 2 * ETHER - 1);
                },
                config: default(),
                merged: true,
            },
            Case {
                name: "forward later than the maximum delay",
                build: |chain| {
                    chain.send(100, "u1", "d", ETHER);
                    chain.send(101, "u2", "d", ETHER);
                    chain.send(101 + DEFAULT_MAX_BLOCK_DELAY, "d", "hot", 2 * ETHER - 1);
                },
                config: default(),
                merged: false,
            },
            Case {
                name: "forward short by more than 0.01 ether",
                build: |chain| {
                    chain.send(100, "u1", "d", ETHER);
                    chain.send(101, "u2", "d", ETHER);
                    chain.send(200, "d", "hot", 2 * ETHER - ETHER / 50);
                },
                config: default(),
                merged: false,
            },
            Case {
                name: "a larger tolerance accepts it",
                build: |chain| {
                    chain.send(100, "u1", "d", ETHER);
                    chain.send(101, "u2", "d", ETHER);
                    chain.send(200, "d", "hot", 2 * ETHER - ETHER / 50);
                },
                config: DepositConfig {
                    max_amount_difference: U256::from_u64(ETHER / 20),
                    ..default()
                },
                merged: true,
            },
            Case {
                name: "an address paying two recipients is no deposit address",
                build: |chain| {
                    chain.send(100, "u1", "d", ETHER);
                    chain.send(101, "u2", "d", ETHER);
                    chain.send(200, "d", "hot", 2 * ETHER - 1);
                    chain.send(300, "u1", "d", ETHER);
                    chain.send(301, "d", "merchant", ETHER);
                },
                config: default(),
                merged: false,
            },
            Case {
                name: "a contract forwarding everything pays no gas and is no deposit address",
                build: |chain| {
                    chain.send(100, "u1", "forwarder", ETHER);
                    chain.flow(100, AccountFlowKind::Internal, "forwarder", "hot", 0, ETHER);
                    chain.send(101, "u2", "forwarder", ETHER);
                    chain.flow(101, AccountFlowKind::Internal, "forwarder", "hot", 0, ETHER);
                },
                config: default(),
                merged: false,
            },
            Case {
                name: "a hot wallet of another exchange (u2) paying in is not a user",
                build: |chain| {
                    chain.deposit(20, "e1", "d-e1", "u2", ETHER, 5);
                    chain.deposit(22, "e2", "d-e2", "u2", ETHER, 5);
                    chain.deposit(24, "e3", "d-e3", "u2", ETHER, 5);
                    chain.send(100, "u1", "d", ETHER);
                    chain.send(101, "u2", "d", ETHER);
                    chain.send(200, "d", "hot", 2 * ETHER - 1);
                },
                config: default(),
                merged: false,
            },
            Case {
                name: "a transfer to oneself neither forwards nor adds a recipient",
                build: |chain| {
                    chain.send(100, "u1", "d", ETHER);
                    chain.send(101, "u2", "d", ETHER);
                    chain.send(150, "d", "d", ETHER);
                    chain.send(200, "d", "hot", 2 * ETHER - 1);
                },
                config: default(),
                merged: true,
            },
            Case {
                name: "pass-through addresses do not make a deposit address a hot wallet",
                build: |chain| {
                    // u1 and u2 each pay three pass-through addresses of one user, which forward
                    // everything to that user's deposit address d-c1.
                    for (block, pass) in [(100, "p1"), (200, "p2"), (300, "p3")] {
                        chain.send(block, "u1", pass, ETHER);
                        chain.send(block + 1, "u2", pass, ETHER);
                        chain.send(block + 2, pass, "d-c1", 2 * ETHER - 1);
                        chain.send(block + 3, "d-c1", "hot", 2 * ETHER - 2);
                    }
                },
                config: default(),
                merged: false,
            },
            Case {
                name: "token deposits forwarded whole",
                build: |chain| {
                    chain.flow(100, AccountFlowKind::Token, "u1", "d", 7, 500);
                    chain.flow(100, AccountFlowKind::Gas, "u1", "miner", 0, 1);
                    chain.flow(101, AccountFlowKind::Token, "u2", "d", 7, 250);
                    chain.flow(101, AccountFlowKind::Gas, "u2", "miner", 0, 1);
                    chain.flow(150, AccountFlowKind::Token, "d", "hot", 7, 750);
                    chain.flow(150, AccountFlowKind::Gas, "d", "miner", 0, 1);
                },
                config: default(),
                merged: true,
            },
            Case {
                name: "token forward short by one unit",
                build: |chain| {
                    chain.flow(100, AccountFlowKind::Token, "u1", "d", 7, 500);
                    chain.flow(100, AccountFlowKind::Gas, "u1", "miner", 0, 1);
                    chain.flow(101, AccountFlowKind::Token, "u2", "d", 7, 250);
                    chain.flow(101, AccountFlowKind::Gas, "u2", "miner", 0, 1);
                    chain.flow(150, AccountFlowKind::Token, "d", "hot", 7, 749);
                    chain.flow(150, AccountFlowKind::Gas, "d", "miner", 0, 1);
                },
                config: default(),
                merged: false,
            },
            Case {
                name: "a sender paying into more deposit addresses than the limit is a service",
                build: |chain| {
                    chain.send(100, "u1", "d", ETHER);
                    chain.send(101, "u2", "d", ETHER);
                    chain.send(200, "d", "hot", 2 * ETHER - 1);
                    chain.deposit(300, "u2", "d-c1", "hot", ETHER, 3);
                },
                config: DepositConfig { max_sender_deposits: 1, ..default() },
                merged: false,
            },
        ];
        for case in cases {
            let mut chain = Chain::default();
            exchange(&mut chain, "hot");
            (case.build)(&mut chain);
            let (parent, _) = chain.run(&KnownAddresses::default(), &case.config);
            assert_eq!(chain.joined(&parent, "u1", "u2"), case.merged, "{}", case.name);
        }
    }

    #[test]
    fn too_few_deposits_make_no_hot_wallet_unless_labelled() {
        let mut chain = Chain::default();
        chain.send(100, "u1", "d", ETHER);
        chain.send(101, "u2", "d", ETHER);
        chain.send(200, "d", "hot", 2 * ETHER - 1);
        let (parent, result) = chain.run(&KnownAddresses::default(), &DepositConfig::default());
        assert!(!chain.joined(&parent, "u1", "u2"));
        assert_eq!(result.candidates, 1);
        assert!(result.hot_wallets.is_empty());
        let known = KnownAddresses {
            exchanges: BTreeSet::from([chain.id("hot")]),
            ..KnownAddresses::default()
        };
        let (parent, result) = chain.run(&known, &DepositConfig::default());
        assert!(chain.joined(&parent, "u1", "u2"));
        assert!(result.hot_wallets[0].known);
    }

    #[test]
    fn runs_are_deterministic_and_join_only_shared_deposits() {
        let mut chain = Chain::default();
        exchange(&mut chain, "hot");
        chain.deposit(200, "c1", "d-c2", "hot", ETHER, 1);
        chain.send(300, "a", "d-x", ETHER);
        chain.send(301, "b", "d-x", ETHER);
        chain.send(302, "d-x", "hot", 2 * ETHER);
        let first = chain.run(&KnownAddresses::default(), &DepositConfig::default());
        let second = chain.run(&KnownAddresses::default(), &DepositConfig::default());
        assert_eq!(first, second);
        assert!(chain.joined(&first.0, "c1", "c2"));
        assert!(chain.joined(&first.0, "a", "b"));
        assert!(!chain.joined(&first.0, "a", "c1"));
    }
}
