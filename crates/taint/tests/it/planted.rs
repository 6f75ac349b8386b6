//! The planted thefts of a synthetic chain: cointrail's trace reproduces the generator's own
//! figures exactly, for every policy.

use std::collections::{BTreeMap, HashMap};

use cointrail_btc::Network;
use cointrail_ingest::{IngestOptions, ingest_btc};
use cointrail_store::Store;
use cointrail_synth::{SynthConfig, Truth, generate};
use cointrail_taint::{Direction, Policy, StopLabel, TraceOptions, trace};
use cointrail_types::{AddressId, Hash32, OutputId};

#[test]
fn planted_thefts_reach_each_exchange_exactly_as_planted() {
    let temp = tempfile::tempdir().unwrap();
    let chain = temp.path().join("chain");
    let config = SynthConfig {
        blocks: 150,
        txs_per_block: 200,
        seed: 21,
        xor: true,
        ..SynthConfig::default()
    };
    generate(&config, &chain, &mut |_| {}).unwrap();
    let store_dir = temp.path().join("store");
    ingest_btc(&IngestOptions::new(&chain, &store_dir, Network::Regtest), &mut ()).unwrap();
    let store = Store::open(&store_dir).unwrap();
    let view = store.view();
    let truth: Truth =
        serde_json::from_str(&fs_err::read_to_string(chain.join("truth.json")).unwrap()).unwrap();
    assert!(truth.thefts.len() >= 3);

    // Every address an exchange owns is a stop labeled with the exchange's name.
    let exchange_names: HashMap<u32, String> =
        truth.exchanges.iter().map(|exchange| (exchange.entity, exchange.name.clone())).collect();
    let mut stops: HashMap<AddressId, StopLabel> = HashMap::new();
    let table = fs_err::read_to_string(chain.join("truth_addresses.tsv")).unwrap();
    for line in table.lines().skip(1) {
        let mut fields = line.split('\t');
        let (Some(address), Some(entity)) = (fields.next(), fields.next()) else { continue };
        let Some(name) = entity.parse::<u32>().ok().and_then(|entity| exchange_names.get(&entity))
        else {
            continue;
        };
        let key = Network::Regtest.parse_address(address).unwrap();
        if let Some(id) = view.find_address(&key) {
            stops.insert(id, StopLabel { name: name.clone(), category: "exchange".into() });
        }
    }
    assert!(!stops.is_empty());

    for theft in &truth.thefts {
        let seeds: Vec<OutputId> = theft
            .seeds
            .iter()
            .map(|seed| {
                let (txid, vout) = seed.split_once(':').unwrap();
                let txnum = view.find_tx(&Hash32::from_display_hex(txid).unwrap()).unwrap();
                OutputId::new(view.tx(txnum).unwrap().outputs.start + vout.parse::<u64>().unwrap())
            })
            .collect();
        for policy in Policy::ALL {
            let mut options = TraceOptions::new(policy, Direction::Forward);
            options.max_hops = u32::MAX;
            options.max_txs = usize::MAX;
            let report = trace(&view, &stops, &seeds, &options);
            let expected = &theft.policies[policy.name()];
            let reached: BTreeMap<String, u64> = report
                .reached
                .iter()
                .map(|reached| (reached.label.name.clone(), reached.amount))
                .collect();
            let planted: BTreeMap<String, u64> = expected
                .reached
                .iter()
                .filter(|(_, amount)| **amount > 0)
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            assert_eq!(reached, planted, "{} {policy}: reached", theft.name);
            assert_eq!(report.unspent, expected.unspent, "{} {policy}: unspent", theft.name);
            assert_eq!(report.fees, expected.fees, "{} {policy}: fees", theft.name);
            if policy.conserves() {
                assert_eq!(
                    report.accounted(),
                    theft.amount,
                    "{} {policy}: conservation",
                    theft.name
                );
            }
        }
    }
}
