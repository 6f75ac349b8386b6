//! `risk`: screen an address, a transaction or one output, and explain the score.

use std::collections::BTreeMap;

use cointrail_risk::{Assessment, RiskOptions, Rules, TargetLabel, screen};
use cointrail_taint::{StopLabel, Stops as _};
use cointrail_types::{Hash32, OutputId, Sats};
use serde::Serialize;

use crate::show::{attribute, outpoint};
use crate::snapshot::{Snapshot, Stops};
use crate::trace::truncation_name;
use crate::{QueryError, Result};

/// What to screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RiskTarget {
    /// Everything an address received.
    Address(String),
    /// Every output of a transaction (an incoming transfer).
    Tx(Hash32),
    /// One output.
    Output(Hash32, u32),
}

/// The kind of a [`RiskTarget`], as JSON names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskTargetKind {
    /// An address.
    Address,
    /// A transaction.
    Tx,
    /// An output.
    Output,
}

/// Parses `txid:vout`, a txid, or anything else as an address.
///
/// # Errors
///
/// [`QueryError::Invalid`] for a malformed txid or output index.
pub fn parse_risk_target(text: &str) -> Result<RiskTarget> {
    let text = text.trim();
    if let Some((txid, vout)) = text.split_once(':')
        && txid.len() == 64
    {
        let hash = Hash32::from_display_hex(txid)
            .map_err(|error| QueryError::invalid(error.to_string()))?;
        let vout = vout
            .parse()
            .map_err(|_| QueryError::invalid(format!("bad output index in `{text}`")))?;
        return Ok(RiskTarget::Output(hash, vout));
    }
    if text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        let hash = Hash32::from_display_hex(text)
            .map_err(|error| QueryError::invalid(error.to_string()))?;
        return Ok(RiskTarget::Tx(hash));
    }
    Ok(RiskTarget::Address(text.to_owned()))
}

/// A screening: score, level, exposures and the explanation.
#[derive(Debug, Clone, Serialize)]
pub struct RiskJson {
    /// The target as given (address, txid, or `txid:vout`).
    pub target: String,
    /// `address`, `tx` or `output`.
    pub kind: RiskTargetKind,
    /// 0-10.
    pub score: f64,
    /// `severe`, `high`, `medium` or `low`.
    pub level: String,
    /// Exposures, worst first.
    pub exposures: Vec<ExposureJson>,
    /// Sentences: why this score, from which labels, through which transactions.
    pub explanation: Vec<String>,
    /// Sum of the screened outputs (base units).
    pub screened_amount: u64,
    /// Number of screened outputs.
    pub screened_outputs: usize,
    /// `true` when the address received more outputs than screened (the first ones are).
    pub outputs_truncated: bool,
    /// Hops searched for indirect exposure.
    pub max_hops: u32,
    /// `transactions` or `time` when a limit cut the search short (exposures are a lower bound).
    pub truncated: Option<String>,
    /// Transactions visited.
    pub txs_visited: u64,
    /// Screened value whose origin was not followed (beyond the hops or other limits).
    pub beyond_limits: u64,
    /// Risk categories of the rules in force.
    pub risk_categories: Vec<String>,
    /// Height of the store's tip.
    pub tip_height: Option<u32>,
}

/// Exposure to one label.
#[derive(Debug, Clone, Serialize)]
pub struct ExposureJson {
    /// Label name.
    pub label: String,
    /// Label category.
    pub category: String,
    /// Base units of the screened funds attributed to it.
    pub amount: u64,
    /// Share of the screened funds.
    pub share: f64,
    /// The target itself is labeled, or the value came in one hop.
    pub direct: bool,
    /// Fewest transactions between the screened funds and the label (0: the target itself).
    pub hops: u32,
    /// This exposure's score under the rules.
    pub score: f64,
    /// Distinct labeled outputs the value came from.
    pub sources: usize,
    /// The largest paths (at most five).
    pub paths: Vec<PathJson>,
}

/// One path from the screened funds back to a labeled output.
#[derive(Debug, Clone, Serialize)]
pub struct PathJson {
    /// Base units along this path's last step.
    pub amount: u64,
    /// Txids from the screened transaction back to the one that spent the labeled output.
    pub txids: Vec<String>,
    /// The labeled output, `txid:vout` (none when the target itself is labeled).
    pub from_output: Option<String>,
    /// The address of that output.
    pub from_address: Option<String>,
    /// The address that carries the label (differs from `from_address` through a cluster).
    pub labeled_address: Option<String>,
    /// Where the label comes from.
    pub label_source: Option<String>,
}

/// Screens `target` under `rules`, looking `options.max_hops` back; an address's outputs are
/// screened up to `max_outputs`.
///
/// # Errors
///
/// [`QueryError::Invalid`] for a malformed address, [`QueryError::NotFound`] for a tx or output
/// the store does not have.
pub fn risk(
    snapshot: &Snapshot,
    target: &RiskTarget,
    rules: &Rules,
    options: &RiskOptions,
    max_outputs: usize,
) -> Result<RiskJson> {
    let view = snapshot.view();
    let network = snapshot.network();
    let set = snapshot.stop_set(&rules.category_names());
    let stops = snapshot.stops(&set);
    let mut seeds: Vec<OutputId> = Vec::new();
    let mut outputs_truncated = false;
    let mut own: BTreeMap<StopLabel, u64> = BTreeMap::new();
    let (text, kind) = match target {
        RiskTarget::Address(text) => {
            let key = network
                .parse_address(text)
                .map_err(|error| QueryError::invalid(error.to_string()))?;
            let address = network.encode_address(&key);
            let id = view.find_address(&key);
            if let Some(id) = id {
                for output in view.address_outputs(id) {
                    if seeds.len() >= max_outputs {
                        outputs_truncated = true;
                        break;
                    }
                    seeds.push(output);
                }
            }
            let received: u64 = seeds.iter().map(|seed| view.output(*seed).value.to_sat()).sum();
            // Its own risky labels and those of its cluster, even with no activity on chain.
            let (labels, _) = attribute(snapshot, &address, id);
            for attributed in labels {
                if rules.is_risk_category(&attributed.label.category) {
                    let label = StopLabel {
                        name: attributed.label.name.clone(),
                        category: attributed.label.category.clone(),
                    };
                    own.insert(label, received);
                }
            }
            (address, RiskTargetKind::Address)
        }
        RiskTarget::Tx(hash) => {
            let tx = view
                .find_tx(hash)
                .and_then(|txnum| view.tx(txnum))
                .ok_or_else(|| QueryError::not_found(format!("tx {hash} is not in the store")))?;
            seeds.extend(tx.outputs.map(OutputId::new));
            (hash.to_string(), RiskTargetKind::Tx)
        }
        RiskTarget::Output(hash, vout) => {
            let tx = view
                .find_tx(hash)
                .and_then(|txnum| view.tx(txnum))
                .ok_or_else(|| QueryError::not_found(format!("tx {hash} is not in the store")))?;
            let id = tx.outputs.start + u64::from(*vout);
            if id >= tx.outputs.end {
                return Err(QueryError::not_found(format!(
                    "tx {hash} has {} outputs, there is no output {vout}",
                    tx.outputs.end - tx.outputs.start
                )));
            }
            seeds.push(OutputId::new(id));
            (format!("{hash}:{vout}"), RiskTargetKind::Output)
        }
    };
    if kind != RiskTargetKind::Address {
        // A transfer paid to a risky address carries that label itself.
        for seed in &seeds {
            let output = view.output(*seed);
            if let Some(label) = output.address.and_then(|address| stops.stop(address)) {
                *own.entry(label.clone()).or_default() += output.value.to_sat();
            }
        }
    }
    let target_labels: Vec<TargetLabel> =
        own.into_iter().map(|(label, amount)| TargetLabel { label, amount }).collect();
    let assessment = screen(&view, &stops, &seeds, &target_labels, rules, options);
    let exposures = exposures_json(snapshot, &stops, &assessment);
    let explanation = explain(&text, kind, rules, options, &assessment, &exposures);
    Ok(RiskJson {
        target: text,
        kind,
        score: assessment.score,
        level: assessment.level.name().to_owned(),
        exposures,
        explanation,
        screened_amount: assessment.screened_amount,
        screened_outputs: seeds.len(),
        outputs_truncated,
        max_hops: options.max_hops,
        truncated: assessment.truncated.map(|reason| truncation_name(reason).to_owned()),
        txs_visited: assessment.txs_visited,
        beyond_limits: assessment.beyond_limits,
        risk_categories: rules.category_names(),
        tip_height: view.tip().map(|block| block.height.get()),
    })
}

fn exposures_json(
    snapshot: &Snapshot,
    stops: &Stops<'_>,
    assessment: &Assessment,
) -> Vec<ExposureJson> {
    let view = snapshot.view();
    assessment
        .exposures
        .iter()
        .map(|exposure| ExposureJson {
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
                    let address = path.source.and_then(|output| view.output(output).address);
                    let defined = address.and_then(|address| stops.defined_by(address));
                    PathJson {
                        amount: path.amount,
                        txids: path.txs.iter().map(|tx| view.txid(*tx).to_string()).collect(),
                        from_output: path.source.map(|output| outpoint(&view, output)),
                        from_address: address.map(|address| snapshot.address_text(address)),
                        labeled_address: defined
                            .map(|(defining, _)| snapshot.address_text(defining)),
                        label_source: defined.map(|(_, source)| source.to_owned()),
                    }
                })
                .collect(),
        })
        .collect()
}

fn explain(
    target: &str,
    kind: RiskTargetKind,
    rules: &Rules,
    options: &RiskOptions,
    assessment: &Assessment,
    exposures: &[ExposureJson],
) -> Vec<String> {
    let what = match kind {
        RiskTargetKind::Address => format!("address {target}"),
        RiskTargetKind::Tx => format!("the outputs of tx {target}"),
        RiskTargetKind::Output => format!("output {target}"),
    };
    let mut lines = vec![format!(
        "screened {what}: {} BTC in backward haircut within {} hops",
        Sats::from_sat(assessment.screened_amount),
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
            &format!("{} BTC", Sats::from_sat(exposure.amount)),
            exposure.share,
            &exposure.label,
            &exposure.category,
            exposure.hops,
            exposure.score,
        );
        if let Some(path) = exposure.paths.first()
            && let Some(from) = &path.from_output
        {
            let labeled = path.labeled_address.as_deref().unwrap_or("?");
            let source = path.label_source.as_deref().unwrap_or("?");
            line.push_str(&format!(
                "; largest path: {from} (label on {labeled}, source {source}) via tx {}",
                path.txids.iter().rev().cloned().collect::<Vec<_>>().join(" -> ")
            ));
        }
        lines.push(line);
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

/// The sentence explaining one exposure's score: `AMOUNT (SHARE%) from LABEL [CATEGORY] HOW:
/// severity x hop factor x share factor = SCORE` (Bitcoin and EVM screenings alike).
pub(crate) fn exposure_sentence(
    rules: &Rules,
    amount: &str,
    share: f64,
    label: &str,
    category: &str,
    hops: u32,
    score: f64,
) -> String {
    let how = match hops {
        0 => "the target itself carries the label".to_owned(),
        1 => "directly (1 hop)".to_owned(),
        hops => format!("indirectly ({hops} hops)"),
    };
    format!(
        "{amount} ({:.2}%) from {label} [{category}] {how}: severity {} x hop factor {:.3} x share \
         factor {:.3} = {score:.1}",
        share * 100.0,
        rules.severity(category),
        rules.hop_factor(hops),
        rules.share_factor(share),
    )
}
