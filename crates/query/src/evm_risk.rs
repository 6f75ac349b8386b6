//! `risk` on EVM chains: screen an address, a transaction or one token transfer (a log) with the
//! account-model screening of `cointrail_risk::screen_account`, and explain the score.

use std::collections::BTreeMap;
use std::path::Path;

use cointrail_risk::{AccountAssessment, AccountTargetLabel, RiskOptions, Rules, screen_account};
use cointrail_store::LabelTable;
use cointrail_store::evm::{EvmView, FlowKind, FlowRecord};
use cointrail_taint::{Flow, StopLabel};
use cointrail_types::{B256, EvmAddress};
use serde::Serialize;

use crate::evm::{Chain, EvmAssetJson, native_symbol, open_chain};
use crate::evm_cluster::EvmStops;
use crate::evm_trace::{Flows, account_flow, clamped_amount as amount};
use crate::risk::exposure_sentence;
use crate::trace::truncation_name;
use crate::{QueryError, Result};

/// What to screen on an EVM chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvmRiskTarget {
    /// Everything an address received of one asset.
    Address(EvmAddress),
    /// A transaction's transfers of one asset to their final recipients.
    Tx(B256),
    /// One token transfer: a transaction and the log index of its `Transfer` event.
    Log(B256, u32),
}

/// Parses an EVM screening target: `0x` + 40 hex digits (an address), `0x` + 64 hex digits (a
/// transaction), or a transaction and a log index, `0x…:LOG`. Returns `None` for text of another
/// shape (a Bitcoin address or txid).
///
/// # Errors
///
/// [`QueryError::Invalid`] for a malformed log index, or other text starting with `0x`.
pub fn parse_evm_risk_target(text: &str) -> Option<Result<EvmRiskTarget>> {
    let text = text.trim();
    if crate::is_evm_address(text) {
        return Some(
            EvmAddress::from_hex(text)
                .map(EvmRiskTarget::Address)
                .map_err(|error| QueryError::invalid(error.to_string())),
        );
    }
    if crate::is_evm_tx_hash(text) {
        return Some(
            B256::from_hex(text)
                .map(EvmRiskTarget::Tx)
                .map_err(|error| QueryError::invalid(error.to_string())),
        );
    }
    let prefixed = text.starts_with("0x") || text.starts_with("0X");
    let Some((hash, log)) = text.split_once(':').filter(|(hash, _)| crate::is_evm_tx_hash(hash))
    else {
        // No Bitcoin address or txid starts with 0x: say what an EVM target looks like.
        return prefixed.then(|| {
            Err(QueryError::invalid(format!(
                "`{text}` is neither an EVM address (0x and 40 hex digits), a transaction hash (0x \
                 and 64) nor HASH:LOG_INDEX"
            )))
        });
    };
    Some((|| {
        let hash = B256::from_hex(hash).map_err(|error| QueryError::invalid(error.to_string()))?;
        let log =
            log.parse().map_err(|_| QueryError::invalid(format!("bad log index in `{text}`")))?;
        Ok(EvmRiskTarget::Log(hash, log))
    })())
}

/// A screening on an EVM chain: score, level, exposures and the explanation. Amounts are base
/// units of `asset` (wei for the native currency), as JSON integers.
#[derive(Debug, Clone, Serialize)]
pub struct EvmRiskJson {
    /// The EVM chain answered from.
    pub chain: String,
    /// The target as given (address, transaction hash, or `hash:log`).
    pub target: String,
    /// `address`, `tx` or `log`.
    pub kind: &'static str,
    /// The asset screened.
    pub asset: EvmAssetJson,
    /// 0-10.
    pub score: f64,
    /// `severe`, `high`, `medium` or `low`.
    pub level: String,
    /// Exposures, worst first.
    pub exposures: Vec<EvmExposureJson>,
    /// Sentences: why this score, from which labels, through which transactions.
    pub explanation: Vec<String>,
    /// Sum of the screened flows.
    pub screened_amount: u128,
    /// Number of screened flows.
    pub screened_flows: usize,
    /// The screened flows: `hash:position` and recipient.
    pub screened: Vec<ScreenedFlowJson>,
    /// `true` when the address received more flows than screened (the first ones are).
    pub flows_truncated: bool,
    /// Hops searched for indirect exposure.
    pub max_hops: u32,
    /// `transactions` (the flow budget) or `time` when a limit cut the search short.
    pub truncated: Option<String>,
    /// Flows read.
    pub flows_visited: u64,
    /// Screened value with no stored origin (balances held before the stored history, issuance).
    pub unattributed: u128,
    /// Screened value not followed to its origin (beyond the hops or the budget).
    pub beyond_limits: u128,
    /// Risk categories of the rules in force.
    pub risk_categories: Vec<String>,
    /// Number of the chain's tip block.
    pub tip_block: Option<u64>,
}

/// One screened flow of [`EvmRiskJson`].
#[derive(Debug, Clone, Serialize)]
pub struct ScreenedFlowJson {
    /// Transaction hash (none for withdrawals and rewards).
    pub tx: Option<String>,
    /// Flow kind (`native`, `internal`, `erc20`, ...).
    pub kind: &'static str,
    /// Log index of a token transfer, call-frame index of an internal transfer.
    pub position: u32,
    /// Sender (`mint` for issued value).
    pub from: String,
    /// Recipient.
    pub to: String,
    /// Base units.
    pub amount: u128,
}

/// Exposure to one label, as [`crate::ExposureJson`] with exact amounts.
#[derive(Debug, Clone, Serialize)]
pub struct EvmExposureJson {
    /// Label name.
    pub label: String,
    /// Label category.
    pub category: String,
    /// Base units of the screened value attributed to it.
    pub amount: u128,
    /// Share of the screened value.
    pub share: f64,
    /// The target itself is labeled, or the value came in one hop.
    pub direct: bool,
    /// Fewest flows between the screened value and the label (0: the target itself).
    pub hops: u32,
    /// This exposure's score under the rules.
    pub score: f64,
    /// Distinct flows out of labeled addresses the value came from.
    pub sources: usize,
    /// The largest paths (at most five).
    pub paths: Vec<EvmPathJson>,
}

/// One path from the screened value back to a labeled address.
#[derive(Debug, Clone, Serialize)]
pub struct EvmPathJson {
    /// Base units along this path.
    pub amount: u128,
    /// Transaction hashes from the screened transfer back to the one that left the labeled
    /// address (consecutive repeats merged).
    pub txs: Vec<String>,
    /// Flow ids of the same steps (the store's flow numbers).
    pub flows: Vec<u64>,
    /// The sender the value came from (none when the target itself is labeled).
    pub from_address: Option<String>,
    /// The address that carries the label: the sender, or another member of its deposit cluster
    /// (none when the target itself is labeled).
    pub labeled_address: Option<String>,
    /// Where the label comes from.
    pub label_source: Option<String>,
}

/// The asset named by `text`: `native` or the native symbol, a token contract (`0x…`), or a token
/// symbol that only one stored token has (any case).
pub(crate) fn resolve_asset(view: &EvmView<'_>, native: &str, text: &str) -> Result<u32> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("native") || text.eq_ignore_ascii_case(native) {
        return Ok(0);
    }
    if crate::is_evm_address(text) {
        let contract =
            EvmAddress::from_hex(text).map_err(|error| QueryError::invalid(error.to_string()))?;
        return view
            .asset_id(&contract)
            .ok_or_else(|| QueryError::not_found(format!("no token {text} in the chain")));
    }
    let matching: Vec<u32> = view
        .assets()
        .into_iter()
        .filter(|(_, info)| {
            info.symbol.as_deref().is_some_and(|symbol| symbol.eq_ignore_ascii_case(text))
        })
        .map(|(id, _)| id)
        .collect();
    match matching.as_slice() {
        [id] => Ok(*id),
        [] => Err(QueryError::not_found(format!(
            "no asset `{text}`: name `native`, {native}, a token contract or a token symbol"
        ))),
        _ => Err(QueryError::invalid(format!(
            "{} tokens have the symbol `{text}`: name the contract",
            matching.len()
        ))),
    }
}

/// Screens `target` on chain `chain` (or the store's only EVM chain) under `rules`, looking
/// `options.max_hops` flows back (`options.max_txs` bounds the flows read). An address is
/// screened for `asset` (default: the native currency), at most `max_flows` incoming flows (the
/// first ones); a transaction for `asset` (default: native value if it moves any, else its first
/// token), over its transfers to final recipients (not to an address that passes value on in the
/// same transaction); a log for its token.
///
/// # Errors
///
/// [`QueryError::NotFound`] without (such) a chain, transaction, log or asset;
/// [`QueryError::Invalid`] for an ambiguous chain or asset.
#[allow(clippy::too_many_arguments)]
pub fn evm_risk(
    dir: &Path,
    labels: &LabelTable,
    chain: Option<&str>,
    target: EvmRiskTarget,
    asset: Option<&str>,
    rules: &Rules,
    options: &RiskOptions,
    max_flows: usize,
) -> Result<EvmRiskJson> {
    let store = open_chain(dir, chain)?;
    let view = store.view();
    let name = view.spec().name.clone();
    let native = native_symbol(view.spec().chain_id);
    let asked_asset = asset.map(|text| resolve_asset(&view, native, text)).transpose()?;
    // Risk labels of an address: its own, then its deposit cluster's (`cluster --chain`).
    let index =
        EvmStops::new(dir, view.clone(), labels, |category| rules.is_risk_category(category))?;
    let stops = |address: &EvmAddress| index.stop(address);

    let mut seeds: Vec<FlowRecord> = Vec::new();
    let mut flows_truncated = false;
    let mut own: BTreeMap<StopLabel, u128> = BTreeMap::new();
    let (text, kind, asset_id) = match target {
        EvmRiskTarget::Address(address) => {
            let asset_id = asked_asset.unwrap_or(0);
            for flow in view.flows_of(&address) {
                let incoming = flow.to == Some(address) && flow.from != Some(address);
                if !incoming || flow.asset != asset_id || flow.kind == FlowKind::Erc721 {
                    continue;
                }
                if seeds.len() >= max_flows {
                    flows_truncated = true;
                    break;
                }
                seeds.push(flow);
            }
            let received = seeds.iter().fold(0u128, |sum, flow| sum.saturating_add(amount(flow)));
            for stop in index.all(&address) {
                own.insert(stop.label, received);
            }
            (address.to_string(), "address", asset_id)
        }
        EvmRiskTarget::Tx(hash) | EvmRiskTarget::Log(hash, _) => {
            let tx = view.tx_by_hash(&hash).ok_or_else(|| {
                QueryError::not_found(format!("tx {hash} is not in EVM chain {name} of the store"))
            })?;
            let block = view.block(tx.block).ok_or_else(|| {
                QueryError::not_found(format!("the block of tx {hash} is not in the store"))
            })?;
            let flows: Vec<FlowRecord> = (block.first_flow..block.first_flow + block.flow_count)
                .filter_map(|id| view.flow(id))
                .filter(|flow| flow.tx == Some(tx.number))
                .collect();
            let value = |flow: &&FlowRecord| {
                !matches!(flow.kind, FlowKind::Fee | FlowKind::Burn | FlowKind::Erc721)
                    && !flow.amount.is_zero()
            };
            if let EvmRiskTarget::Log(_, log) = target {
                let flow = flows
                    .iter()
                    .find(|flow| flow.kind == FlowKind::Erc20 && flow.position == log)
                    .ok_or_else(|| {
                        QueryError::not_found(format!(
                            "tx {hash} has no EIP-20 transfer at log index {log}"
                        ))
                    })?;
                seeds.push(*flow);
                (format!("{hash}:{log}"), "log", flow.asset)
            } else {
                let asset_id = asked_asset
                    .or_else(|| flows.iter().filter(value).find(|f| f.asset == 0).map(|_| 0))
                    .or_else(|| flows.iter().find(value).map(|flow| flow.asset))
                    .ok_or_else(|| {
                        QueryError::not_found(format!("tx {hash} moves no value to screen"))
                    })?;
                let of_asset: Vec<&FlowRecord> =
                    flows.iter().filter(value).filter(|flow| flow.asset == asset_id).collect();
                // Final recipients: not an address that sends this asset on in the same tx.
                for flow in &of_asset {
                    let passes_on = of_asset.iter().any(|later| {
                        later.id > flow.id && later.from == flow.to && flow.to.is_some()
                    });
                    if !passes_on {
                        seeds.push(**flow);
                    }
                }
                (hash.to_string(), "tx", asset_id)
            }
        }
    };
    if kind != "address" {
        // A transfer paid to a risky address carries that label itself.
        for seed in &seeds {
            if let Some(label) = seed.to.as_ref().and_then(stops) {
                let entry = own.entry(label).or_default();
                *entry = entry.saturating_add(amount(seed));
            }
        }
    }
    let target_labels: Vec<AccountTargetLabel> =
        own.into_iter().map(|(label, amount)| AccountTargetLabel { label, amount }).collect();
    let seed_flows: Vec<Flow> = seeds.iter().map(|flow| account_flow(&view, flow)).collect();
    let flows = Flows(view.clone());
    let assessment = screen_account(&flows, &stops, &seed_flows, &target_labels, rules, options);

    let chain_info = Chain { view: view.clone(), native };
    let asset_json = chain_info.asset(asset_id);
    let exposures = exposures_json(&view, &index, &assessment);
    let explanation = explain(&text, kind, &asset_json, rules, options, &assessment, &exposures);
    let party = |address: Option<EvmAddress>, none: &str| {
        address.map_or_else(|| none.to_owned(), |address| address.to_string())
    };
    Ok(EvmRiskJson {
        chain: name,
        target: text,
        kind,
        asset: asset_json,
        score: assessment.score,
        level: assessment.level.name().to_owned(),
        exposures,
        explanation,
        screened_amount: assessment.screened_amount,
        screened_flows: seeds.len(),
        screened: seeds
            .iter()
            .map(|flow| ScreenedFlowJson {
                tx: flow.tx.and_then(|number| view.tx(number)).map(|tx| tx.hash.to_string()),
                kind: flow.kind.name(),
                position: flow.position,
                from: party(flow.from, "mint"),
                to: party(flow.to, "burn"),
                amount: amount(flow),
            })
            .collect(),
        flows_truncated,
        max_hops: options.max_hops,
        truncated: assessment.truncated.map(|reason| truncation_name(reason).to_owned()),
        flows_visited: assessment.flows_visited,
        unattributed: assessment.unattributed,
        beyond_limits: assessment.beyond_limits,
        risk_categories: rules.category_names(),
        tip_block: view.tip().map(|tip| tip.block.number),
    })
}

fn exposures_json(
    view: &EvmView<'_>,
    index: &EvmStops<'_>,
    assessment: &AccountAssessment,
) -> Vec<EvmExposureJson> {
    let hash_of = |id: u64| {
        view.flow(id).and_then(|flow| flow.tx).and_then(|number| view.tx(number)).map(|tx| tx.hash)
    };
    assessment
        .exposures
        .iter()
        .map(|exposure| EvmExposureJson {
            label: exposure.label.name.clone(),
            category: exposure.label.category.clone(),
            amount: exposure.amount,
            share: exposure.share,
            direct: exposure.direct,
            hops: exposure.hops,
            score: exposure.score,
            sources: exposure.sources,
            paths: exposure
                .paths
                .iter()
                .map(|path| {
                    let mut txs: Vec<String> = Vec::new();
                    for hash in path.flows.iter().filter_map(|id| hash_of(*id)) {
                        let text = hash.to_string();
                        if txs.last() != Some(&text) {
                            txs.push(text);
                        }
                    }
                    // The sender reached, and the address carrying the label (another member of
                    // its cluster when the label is inherited).
                    let stop = path.labeled.and_then(|address| {
                        index.all(&address).into_iter().find(|stop| stop.label == exposure.label)
                    });
                    EvmPathJson {
                        amount: path.amount,
                        txs,
                        flows: path.flows.clone(),
                        from_address: path.labeled.map(|address| address.to_string()),
                        labeled_address: stop.as_ref().map(|stop| stop.labeled.to_string()),
                        label_source: stop.map(|stop| stop.source),
                    }
                })
                .collect(),
        })
        .collect()
}

/// Returns `amount` in whole units of an asset with `decimals` (exact, trailing zeros trimmed).
pub fn asset_units(amount: u128, decimals: Option<u8>) -> String {
    let Some(decimals) = decimals.filter(|decimals| *decimals > 0 && *decimals <= 38) else {
        return amount.to_string();
    };
    let scale = 10u128.pow(u32::from(decimals));
    let fraction = format!("{:0width$}", amount % scale, width = usize::from(decimals));
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        (amount / scale).to_string()
    } else {
        format!("{}.{fraction}", amount / scale)
    }
}

fn explain(
    target: &str,
    kind: &str,
    asset: &EvmAssetJson,
    rules: &Rules,
    options: &RiskOptions,
    assessment: &AccountAssessment,
    exposures: &[EvmExposureJson],
) -> Vec<String> {
    let symbol = asset.symbol.clone().or_else(|| asset.contract.clone()).unwrap_or_default();
    let show = |amount: u128| format!("{} {symbol}", asset_units(amount, asset.decimals));
    let what = match kind {
        "address" => format!("what address {target} received"),
        "log" => format!("the token transfer {target}"),
        _ => format!("the transfers of tx {target}"),
    };
    let mut lines = vec![format!(
        "screened {what}: {} by the haircut make-up of the senders' balances within {} hops",
        show(assessment.screened_amount),
        options.max_hops
    )];
    if !assessment.severe_by_label.is_empty() {
        lines.push(format!(
            "score 10 (severe): the target itself carries a {} label",
            assessment.severe_by_label.join(" and ")
        ));
    }
    if exposures.is_empty() {
        lines.push(format!(
            "no exposure to a risk category ({}) found",
            rules.category_names().join(", ")
        ));
    }
    for exposure in exposures {
        let mut line = exposure_sentence(
            rules,
            &show(exposure.amount),
            exposure.share,
            &exposure.label,
            &exposure.category,
            exposure.hops,
            exposure.score,
        );
        if let Some(path) = exposure.paths.first()
            && let Some(labeled) = &path.labeled_address
        {
            let source = path.label_source.as_deref().unwrap_or("?");
            let via = match path.from_address.as_deref() {
                Some(from) if from != labeled => format!(" via its cluster member {from}"),
                _ => String::new(),
            };
            line.push_str(&format!(
                "; largest path: from {labeled}{via} (source {source}) via tx {}",
                path.txs.iter().rev().cloned().collect::<Vec<_>>().join(" -> ")
            ));
        }
        lines.push(line);
    }
    if assessment.unattributed > 0 {
        lines.push(format!(
            "{} came from balances older than the stored history or from issuance: origin \
             unknown",
            show(assessment.unattributed)
        ));
    }
    if assessment.beyond_limits > 0 {
        lines.push(format!(
            "{} was not followed to its origin (hop or budget limit)",
            show(assessment.beyond_limits)
        ));
    }
    if let Some(reason) = assessment.truncated {
        lines.push(format!(
            "the search stopped early ({} limit): exposures are a lower bound",
            truncation_name(reason)
        ));
    }
    lines.push(format!("score {:.1}: {}", assessment.score, assessment.level.name()));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let hash = format!("0x{}", "ab".repeat(32));
        let address = format!("0x{}", "12".repeat(20));
        assert!(matches!(parse_evm_risk_target(&address), Some(Ok(EvmRiskTarget::Address(_)))));
        assert!(matches!(parse_evm_risk_target(&hash), Some(Ok(EvmRiskTarget::Tx(_)))));
        assert!(matches!(
            parse_evm_risk_target(&format!("{hash}:7")),
            Some(Ok(EvmRiskTarget::Log(_, 7)))
        ));
        assert!(matches!(parse_evm_risk_target(&format!("{hash}:x")), Some(Err(_))));
        assert!(matches!(parse_evm_risk_target("0x1234"), Some(Err(_))));
        assert!(parse_evm_risk_target(&"ab".repeat(32)).is_none());
        assert!(parse_evm_risk_target("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq").is_none());
    }

    #[test]
    fn units_are_exact() {
        assert_eq!(asset_units(1_500_000_000_000_000_000, Some(18)), "1.5");
        assert_eq!(asset_units(2_000_000, Some(6)), "2");
        assert_eq!(asset_units(1, Some(18)), "0.000000000000000001");
        assert_eq!(asset_units(42, None), "42");
    }
}
