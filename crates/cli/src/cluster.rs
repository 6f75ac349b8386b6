//! `cointrail cluster`, `cointrail explain`, and printing clusters and labels.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use cointrail_btc::Network;
use cointrail_cluster::{ClusterState, Clusterer, Config, DepositConfig, Heuristic};
use cointrail_query::{
    AttributedLabel, ClusterJson, Conflict, EvmClusteringJson, EvmExplanationJson,
};
use cointrail_store::{
    ClusterReader, ClusterWriter, LabelTable, Store, StoreError, StoredHeld, StoredLink,
};
use cointrail_types::{AddressId, U256};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::args::{ClusterArgs, Format};
use crate::output::emit;

/// Transactions per clustering step (progress granularity).
const STEP: u32 = 1 << 20;

#[derive(Serialize)]
struct ClusterSummary {
    heuristics: Vec<String>,
    txs_examined: u64,
    txs_clustered: u64,
    addresses: u64,
    clusters: u64,
    largest_cluster: u32,
    merges: u64,
    coinjoins_skipped: u64,
    held_merges: u64,
    total_held_merges: usize,
    seconds: f64,
    merges_per_second: f64,
}

/// Whether a command without `--chain` is about the store's EVM chains: the store holds no UTXO
/// chain but at least one EVM chain.
fn evm_only(dir: &Path) -> anyhow::Result<bool> {
    Ok(matches!(Store::open(dir), Err(StoreError::NotFound { .. }))
        && !cointrail_store::evm::evm_chains(dir)?.is_empty())
}

pub(crate) fn run(
    args: &ClusterArgs,
    chain: Option<&str>,
    dir: &Path,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if chain.is_some() || evm_only(dir)? {
        return run_evm(args, chain, dir, format, out);
    }
    let config = Config {
        max_cluster_size: args.max_cluster_size,
        guard_min_side: args.guard_min_side,
        ..Config::from_names(&args.heuristics)?
    };
    let names = config.names();
    if names.is_empty() {
        bail!("no heuristic selected: pass --heuristics multi-input[,change:...]");
    }
    let store = Store::open(dir)?;
    let view = store.view();
    let counts = view.counts();
    let mut writer =
        ClusterWriter::open(dir, &names, config.max_cluster_size, config.guard_min_side)?;
    let start = writer.manifest().txs;
    let previous_addresses = writer.manifest().addresses;
    let end = counts.txs;
    let clusterer = Clusterer::new(config);
    let started = Instant::now();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(end - start);
        bar.set_style(
            ProgressStyle::with_template("clustering {bar:30} {pos}/{len} txs {per_sec} ETA {eta}")
                .expect("the template is valid"),
        );
        bar
    });
    let (mut links, mut held, mut coinjoins) = (Vec::new(), Vec::new(), 0);
    let (clusters, largest) = {
        let (parent, size, next) = writer.arrays(counts.addresses)?;
        let mut state = ClusterState::new(parent, size, next);
        state.init_singletons(usize::try_from(previous_addresses)?);
        let mut from = u32::try_from(start)?;
        let end = u32::try_from(end)?;
        while from < end {
            let to = from.saturating_add(STEP).min(end);
            let changes = clusterer.run(&view, from..to, &mut state);
            coinjoins += changes.coinjoins;
            links.extend(changes.links.iter().map(|link| StoredLink {
                a: link.a,
                b: link.b,
                tx: link.tx,
                heuristic: link.heuristic.code(),
            }));
            held.extend(changes.held.iter().map(|merge| StoredHeld {
                link: StoredLink {
                    a: merge.link.a,
                    b: merge.link.b,
                    tx: merge.link.tx,
                    heuristic: merge.link.heuristic.code(),
                },
                size_a: merge.size_a,
                size_b: merge.size_b,
            }));
            if let Some(bar) = &bar {
                bar.inc(u64::from(to - from));
            }
            from = to;
        }
        state.canonicalize();
        let mut clusters = 0u64;
        let mut largest = 0u32;
        for index in 0..state.len() {
            let id = u32::try_from(index)?;
            if state.find(AddressId::new(id)) == id {
                clusters += 1;
                largest = largest.max(state.size_of_root(id));
            }
        }
        (clusters, largest)
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let seconds = started.elapsed().as_secs_f64();
    writer.push_links(&links)?;
    writer.push_held(&held);
    let manifest = writer.commit(end)?;
    let summary = ClusterSummary {
        heuristics: names,
        txs_examined: end - start,
        txs_clustered: end,
        addresses: counts.addresses,
        clusters,
        largest_cluster: largest,
        merges: links.len() as u64,
        coinjoins_skipped: coinjoins,
        held_merges: held.len() as u64,
        total_held_merges: manifest.held.len(),
        seconds,
        merges_per_second: links.len() as f64 / seconds.max(1e-9),
    };
    emit(out, format, &summary, |out, summary| {
        writeln!(out, "heuristics   {}", summary.heuristics.join(", "))?;
        writeln!(
            out,
            "examined     {} txs ({} clustered in all)",
            summary.txs_examined, summary.txs_clustered
        )?;
        writeln!(
            out,
            "clusters     {} for {} addresses (largest {})",
            summary.clusters, summary.addresses, summary.largest_cluster
        )?;
        writeln!(
            out,
            "merges       {} ({:.0}/s), {} coinjoins skipped",
            summary.merges, summary.merges_per_second, summary.coinjoins_skipped
        )?;
        if summary.total_held_merges > 0 {
            writeln!(
                out,
                "held         {} merges of two large clusters (see `cointrail show cluster`)",
                summary.total_held_merges
            )?;
        }
        Ok(())
    })
}

/// `cluster --chain NAME`: the deposit-address heuristic over a stored EVM chain.
fn run_evm(
    args: &ClusterArgs,
    chain: Option<&str>,
    dir: &Path,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if args.heuristics.iter().any(|name| name.trim() != "multi-input") {
        bail!(
            "--heuristics selects UTXO heuristics; an EVM chain is clustered with the \
             deposit-address heuristic (tune it with --max-block-delay, --min-deposits, ...)"
        );
    }
    let amount = |text: &str, option: &str| {
        U256::from_dec_str(text.trim())
            .with_context(|| format!("--{option} takes a whole number of base units, not `{text}`"))
    };
    let config = DepositConfig {
        max_amount_difference: amount(&args.max_amount_difference, "max-amount-difference")?,
        max_token_difference: amount(&args.max_token_difference, "max-token-difference")?,
        max_block_delay: args.max_block_delay,
        min_deposits: args.min_deposits,
        max_sender_deposits: args.max_sender_deposits,
    };
    let labels = LabelTable::load(dir)?;
    let summary = cointrail_query::cluster_evm_chain(dir, &labels, chain, &config)?;
    emit(out, format, &summary, |out, summary| {
        writeln!(out, "chain        {} (heuristic {})", summary.chain, summary.heuristic)?;
        let tip = summary.tip_height.map_or_else(|| "-".to_owned(), |tip| tip.to_string());
        writeln!(out, "examined     {} flows up to block {tip}", summary.flows)?;
        writeln!(
            out,
            "found        {} hot wallets, {} deposit addresses ({} candidates)",
            summary.hot_wallets, summary.deposit_addresses, summary.candidates
        )?;
        writeln!(
            out,
            "clusters     {} of several addresses, largest {} ({} merges)",
            summary.clusters, summary.largest_cluster, summary.merges
        )?;
        if summary.services_excluded > 0 {
            writeln!(
                out,
                "services     {} senders paying into more than {} deposit addresses left out",
                summary.services_excluded, summary.params.max_sender_deposits
            )?;
        }
        Ok(())
    })
}

fn network_of(store: &Store) -> anyhow::Result<Network> {
    let chain = store.chain();
    chain.network.parse().with_context(|| format!("store holds unknown network {chain}"))
}

fn clusters(dir: &Path) -> anyhow::Result<ClusterReader> {
    ClusterReader::open(dir)?.context("no clusters in this store: run `cointrail cluster` first")
}

fn find_address(store: &Store, network: Network, text: &str) -> anyhow::Result<AddressId> {
    let key = network.parse_address(text.trim())?;
    store
        .view()
        .find_address(&key)
        .with_context(|| format!("address {text} has no activity in this store"))
}

#[derive(Serialize)]
struct Step {
    from: String,
    to: String,
    txid: String,
    heuristic: String,
}

#[derive(Serialize)]
struct Explanation {
    address_a: String,
    address_b: String,
    joined: bool,
    cluster: Option<u32>,
    steps: Vec<Step>,
}

pub(crate) fn explain(
    dir: &Path,
    chain: Option<&str>,
    a: &str,
    b: &str,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if cointrail_query::is_evm_address(a) && cointrail_query::is_evm_address(b) {
        let explanation = cointrail_query::evm_explain(dir, chain, a, b)?;
        return emit(out, format, &explanation, print_evm_explanation);
    }
    let store = Store::open(dir)?;
    let network = network_of(&store)?;
    let view = store.view();
    let reader = clusters(dir)?;
    let (id_a, id_b) = (find_address(&store, network, a)?, find_address(&store, network, b)?);
    let text = |id: AddressId| network.encode_address(&view.address_key(id));
    let mut explanation = Explanation {
        address_a: text(id_a),
        address_b: text(id_b),
        joined: false,
        cluster: None,
        steps: Vec::new(),
    };
    if reader.cluster_of(id_a).0 == reader.cluster_of(id_b).0 {
        explanation.joined = true;
        explanation.cluster = Some(reader.cluster_of(id_a).0.get());
        let path = cointrail_query::shortest_path(&reader.links_of_cluster(id_a), id_a, id_b)
            .context("cluster evidence is incomplete (re-run `cointrail cluster`)")?;
        explanation.steps = path
            .into_iter()
            .map(|(from, to, link)| Step {
                from: text(from),
                to: text(to),
                txid: view.txid(link.tx).to_string(),
                heuristic: Heuristic::from_code(link.heuristic)
                    .map_or_else(|| format!("code {}", link.heuristic), |h| h.to_string()),
            })
            .collect();
    }
    emit(out, format, &explanation, |out, explanation| {
        if !explanation.joined {
            return writeln!(
                out,
                "{} and {} are not in one cluster",
                explanation.address_a, explanation.address_b
            );
        }
        writeln!(
            out,
            "{} and {} are in cluster {} ({} steps):",
            explanation.address_a,
            explanation.address_b,
            explanation.cluster.unwrap_or_default(),
            explanation.steps.len()
        )?;
        for step in &explanation.steps {
            writeln!(
                out,
                "  {} -- {} --> {}\n      tx {}",
                step.from, step.heuristic, step.to, step.txid
            )?;
        }
        Ok(())
    })
}

fn print_evm_explanation(
    out: &mut dyn Write,
    explanation: &EvmExplanationJson,
) -> std::io::Result<()> {
    if !explanation.joined {
        return writeln!(
            out,
            "{} and {} are not in one cluster (evm chain {})",
            explanation.address_a, explanation.address_b, explanation.chain
        );
    }
    writeln!(
        out,
        "{} and {} are in cluster {} of evm chain {} ({} steps):",
        explanation.address_a,
        explanation.address_b,
        explanation.cluster.unwrap_or_default(),
        explanation.chain,
        explanation.steps.len()
    )?;
    for step in &explanation.steps {
        writeln!(
            out,
            "  {} and {} both paid deposit address {} (hot wallet {})",
            step.from, step.to, step.deposit, step.hot_wallet
        )?;
        for (who, payment) in [(&step.from, &step.payment_from), (&step.to, &step.payment_to)] {
            writeln!(
                out,
                "      payment  {who}: {} in block {}, tx {}",
                payment.amount_text(),
                payment.block,
                payment.tx.as_deref().unwrap_or("-")
            )?;
        }
        for forward in &step.forwards {
            writeln!(
                out,
                "      forward  {} to {} in block {} ({} blocks later, {} base units short), tx {}",
                forward.flow.amount_text(),
                forward.flow.to,
                forward.flow.block,
                forward.block_delay,
                forward.amount_difference,
                forward.flow.tx.as_deref().unwrap_or("-")
            )?;
        }
    }
    Ok(())
}

/// Prints an EVM address's deposit-address cluster and role.
pub(crate) fn print_evm_clustering(
    out: &mut dyn Write,
    clustering: &EvmClusteringJson,
) -> std::io::Result<()> {
    if let Some(role) = &clustering.role {
        match (&role.hot_wallet, role.deposits) {
            (Some(hot), _) => writeln!(out, "role      {} of hot wallet {hot}", role.kind)?,
            (None, Some(deposits)) => {
                writeln!(out, "role      {} ({deposits} deposit addresses)", role.kind)?;
            }
            (None, None) => writeln!(out, "role      {}", role.kind)?,
        }
    }
    let Some(cluster) = &clustering.cluster else {
        return if clustering.role.is_none() {
            writeln!(out, "cluster   - (alone: no deposit address joins it to another address)")
        } else {
            Ok(())
        };
    };
    writeln!(
        out,
        "cluster   {} ({} addresses, deposit-address heuristic)",
        cluster.id, cluster.size
    )?;
    for member in &cluster.members {
        writeln!(out, "  member  {member}")?;
    }
    if cluster.members_truncated {
        writeln!(
            out,
            "  ... {} more (--format json)",
            cluster.size as usize - cluster.members.len()
        )?;
    }
    for deposit in &cluster.deposits {
        writeln!(
            out,
            "  deposit {} (hot wallet {}) paid by {}",
            deposit.deposit,
            deposit.hot_wallet,
            deposit.payers.join(", ")
        )?;
    }
    print_labels(out, &cluster.labels, &[])
}

/// Prints a cluster for people.
pub(crate) fn print_cluster(out: &mut dyn Write, cluster: &ClusterJson) -> std::io::Result<()> {
    writeln!(out, "cluster   {} ({} addresses)", cluster.id, cluster.size)?;
    print_labels(out, &cluster.labels, &cluster.conflicts)?;
    for held in &cluster.held_merges {
        writeln!(
            out,
            "held      merge with cluster {} by {} in tx {} (sizes {} and {})",
            held.other_cluster, held.heuristic, held.txid, held.sizes[0], held.sizes[1]
        )?;
    }
    writeln!(out, "addresses")?;
    for address in &cluster.addresses {
        writeln!(out, "  {address}")?;
    }
    if cluster.addresses_truncated {
        writeln!(
            out,
            "  ... {} more (--limit N)",
            cluster.size as usize - cluster.addresses.len()
        )?;
    }
    Ok(())
}

/// Prints labels grouped by name, and conflicts.
pub(crate) fn print_labels(
    out: &mut dyn Write,
    labels: &[AttributedLabel],
    conflicts: &[Conflict],
) -> std::io::Result<()> {
    let mut grouped: BTreeMap<(String, String), (Vec<String>, bool)> = BTreeMap::new();
    for attributed in labels {
        let entry = grouped
            .entry((attributed.label.name.clone(), attributed.label.category.clone()))
            .or_default();
        if !entry.0.contains(&attributed.label.source) {
            entry.0.push(attributed.label.source.clone());
        }
        entry.1 |= attributed.inherited;
    }
    for ((name, category), (sources, inherited)) in grouped {
        let via = if inherited { " (via its cluster)" } else { "" };
        writeln!(out, "label     {name} [{category}]{via} from {}", sources.join("; "))?;
    }
    for conflict in conflicts {
        writeln!(out, "CONFLICT  {} {}", conflict.kind, conflict.values.join(" vs "))?;
    }
    Ok(())
}
