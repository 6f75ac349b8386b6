//! Address fixtures with known real encodings, round trips and cross-network rejection.
//!
//! Every expected text was computed a second time by an independent Python implementation of
//! base58check, bech32 and bech32m; the BIP-173/350/86 ones are the published test vectors.

use cointrail_btc::{AddressError, Network, script_to_address};
use cointrail_types::{AddressKey, AddressKind};

struct Case {
    name: &'static str,
    network: Network,
    script: &'static str,
    kind: AddressKind,
    /// The payload (hash or program) in hex.
    payload: &'static str,
    text: &'static str,
}

const GENESIS_KEY: &str = "4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac";
const MULTISIG_1_OF_3: &str = "512102ce5aa87770904932fd32cc7458f9100136cbfdae7aa158e32b99b4b231e5177a21028a1ac46b900258bae36549525bfc4d66658c2608e089e32bebb40a43472ff681410433e05b29670f19cbc499f207f11abe1c69f77f00d5cbb9dbec5b5fe7527e2f41fa1e90f10a05e9c0a34d255988082e190c9ee7ea05f62297d4f76d9b61d7561b53ae";

const CASES: &[Case] = &[
    Case {
        name: "genesis coinbase P2PK (65-byte key)",
        network: Network::Mainnet,
        script: GENESIS_KEY,
        kind: AddressKind::P2pkh,
        payload: "62e907b15cbf27d5425399ebf6f0fb50ebb88f18",
        text: "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
    },
    Case {
        name: "block 170 P2PK to Hal Finney",
        network: Network::Mainnet,
        script: "4104ae1a62fe09c5f51b13905f07f06b99a2f7159b2225f374cd378d71302fa28414e7aab37397f554a7df5f142c21c1b7303b8a0626f1baded5c72a704f7e6cd84cac",
        kind: AddressKind::P2pkh,
        payload: "",
        text: "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3",
    },
    Case {
        name: "block 9 / block 170 change P2PK (Satoshi)",
        network: Network::Mainnet,
        script: "410411db93e1dcdb8a016b49840f8c53bc1eb68a382e97b1482ecad7b148a6909a5cb2e0eaddfb84ccf9744464f82e160bfa9b8b64f9d4c03f999b8643f656b412a3ac",
        kind: AddressKind::P2pkh,
        payload: "",
        text: "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S",
    },
    Case {
        name: "block 574200 P2PK (33-byte compressed key)",
        network: Network::Mainnet,
        script: "210296270f394140640f8fa15684fc11255371abb6b9f253416ea2734e34607799c4ac",
        kind: AddressKind::P2pkh,
        payload: "",
        text: "13XpsmJszDj3GA7rg59pP2bqovU6gk3tLU",
    },
    Case {
        name: "block 702861 P2PKH",
        network: Network::Mainnet,
        script: "76a914b6b1e63c3e81cf0453f579409bac19ce59951d1488ac",
        kind: AddressKind::P2pkh,
        payload: "b6b1e63c3e81cf0453f579409bac19ce59951d14",
        text: "1Hf16aUW3yjzi3STTUBwA9VGgWUpDvXC1T",
    },
    Case {
        name: "block 702861 P2SH",
        network: Network::Mainnet,
        script: "a91468f35944d7423b37638c5f2be40eb626f18b2e7087",
        kind: AddressKind::P2sh,
        payload: "68f35944d7423b37638c5f2be40eb626f18b2e70",
        text: "3BFwifA3YAiv8TeCYMkeYnVWPcJFzsBXE3",
    },
    Case {
        name: "BIP-173 P2WPKH",
        network: Network::Mainnet,
        script: "0014751e76e8199196d454941c45d1b3a323f1433bd6",
        kind: AddressKind::P2wpkh,
        payload: "751e76e8199196d454941c45d1b3a323f1433bd6",
        text: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    },
    Case {
        name: "block 702861 coinbase P2WPKH",
        network: Network::Mainnet,
        script: "00143156afc4249915008020f932783319f3e610b97d",
        kind: AddressKind::P2wpkh,
        payload: "3156afc4249915008020f932783319f3e610b97d",
        text: "bc1qx9t2l3pyny2spqpqlye8svce70nppwtaxwdrp4",
    },
    Case {
        name: "BIP-173 P2WSH",
        network: Network::Mainnet,
        script: "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
        kind: AddressKind::P2wsh,
        payload: "1863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
        text: "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
    },
    Case {
        name: "block 702861 P2WSH",
        network: Network::Mainnet,
        script: "0020de4d09dc9cb0fca2e71f96b79871fc991310bc0c9eba10e93ca494696face92a",
        kind: AddressKind::P2wsh,
        payload: "de4d09dc9cb0fca2e71f96b79871fc991310bc0c9eba10e93ca494696face92a",
        text: "bc1qmexsnhyukr729eclj6mesu0unyf3p0qvn6app6fu5j2xjmavay4qrx02ge",
    },
    Case {
        name: "BIP-350 P2TR",
        network: Network::Mainnet,
        script: "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        kind: AddressKind::P2tr,
        payload: "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        text: "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
    },
    Case {
        name: "BIP-86 first receive address P2TR",
        network: Network::Mainnet,
        script: "5120a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c",
        kind: AddressKind::P2tr,
        payload: "a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c",
        text: "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr",
    },
    Case {
        name: "block 363703 bare 1-of-3 multisig",
        network: Network::Mainnet,
        script: MULTISIG_1_OF_3,
        kind: AddressKind::Multisig,
        payload: "48a4d8c330851afc6c50ecb95ad24b03d5090b319dd444a942c27c3f135b48f9",
        text: "multisig-48a4d8c330851afc6c50ecb95ad24b03d5090b319dd444a942c27c3f135b48f9",
    },
    Case {
        name: "block 540107 nonstandard coinbase output",
        network: Network::Mainnet,
        script: "52534b424c4f434b3ae3fc068128effed4a212959a1f8fde5d7caa01226071d40c530b99f90e099ed5",
        kind: AddressKind::Nonstandard,
        payload: "0dc310d4a2e72bdd3ed82ff0f0c0d5f56cf12b10e7d6707b239e17795e2c2e7f",
        text: "nonstandard-0dc310d4a2e72bdd3ed82ff0f0c0d5f56cf12b10e7d6707b239e17795e2c2e7f",
    },
    Case {
        name: "P2A anchor is nonstandard",
        network: Network::Mainnet,
        script: "51024e73",
        kind: AddressKind::Nonstandard,
        payload: "a6fe0f77b8f1ea889782e6406b04dc5fb46ce60168b2e5cf904a476338fbd0c5",
        text: "nonstandard-a6fe0f77b8f1ea889782e6406b04dc5fb46ce60168b2e5cf904a476338fbd0c5",
    },
    Case {
        name: "empty script is nonstandard",
        network: Network::Mainnet,
        script: "",
        kind: AddressKind::Nonstandard,
        payload: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        text: "nonstandard-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    },
    Case {
        name: "genesis key on testnet (m...)",
        network: Network::Testnet3,
        script: GENESIS_KEY,
        kind: AddressKind::P2pkh,
        payload: "62e907b15cbf27d5425399ebf6f0fb50ebb88f18",
        text: "mpXwg4jMtRhuSpVq4xS3HFHmCmWp9NyGKt",
    },
    Case {
        name: "testnet3 block 924634 P2PKH (n...)",
        network: Network::Testnet3,
        script: "76a914e7c1345fc8f87c68170b3aa798a956c2fe6a9eff88ac",
        kind: AddressKind::P2pkh,
        payload: "e7c1345fc8f87c68170b3aa798a956c2fe6a9eff",
        text: "n2eMqTT929pb1RDNuqEnxdaLau1rxy3efi",
    },
    Case {
        name: "testnet3 block 924634 P2SH (2...)",
        network: Network::Testnet3,
        script: "a9140ffdcf96700455074292a821c74922e86529939987",
        kind: AddressKind::P2sh,
        payload: "0ffdcf96700455074292a821c74922e865299399",
        text: "2MthnBFX9T8VBrqDWmLR7zngH11knuwNSsZ",
    },
    Case {
        name: "testnet3 block 21066 P2PK (compressed)",
        network: Network::Testnet3,
        script: "2103ea2db2abc15995405d1905cf1b79e2fff3b2f0c77b90007e9c0c0014121ce633ac",
        kind: AddressKind::P2pkh,
        payload: "",
        text: "n1yKggu7sDc9mDGPCAYbnRoWMyqzHU9iHD",
    },
    Case {
        name: "BIP-173 testnet P2WPKH",
        network: Network::Testnet3,
        script: "0014751e76e8199196d454941c45d1b3a323f1433bd6",
        kind: AddressKind::P2wpkh,
        payload: "751e76e8199196d454941c45d1b3a323f1433bd6",
        text: "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",
    },
    Case {
        name: "BIP-173 testnet P2WSH",
        network: Network::Testnet4,
        script: "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
        kind: AddressKind::P2wsh,
        payload: "1863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
        text: "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
    },
    Case {
        name: "BIP-350 testnet P2TR",
        network: Network::Signet,
        script: "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
        kind: AddressKind::P2tr,
        payload: "000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
        text: "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
    },
    Case {
        name: "regtest P2WSH",
        network: Network::Regtest,
        script: "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
        kind: AddressKind::P2wsh,
        payload: "1863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
        text: "bcrt1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qzf4jry",
    },
    Case {
        name: "regtest P2WPKH",
        network: Network::Regtest,
        script: "0014751e76e8199196d454941c45d1b3a323f1433bd6",
        kind: AddressKind::P2wpkh,
        payload: "751e76e8199196d454941c45d1b3a323f1433bd6",
        text: "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
    },
    Case {
        name: "regtest P2SH shares testnet's version byte",
        network: Network::Regtest,
        script: "a9140ffdcf96700455074292a821c74922e86529939987",
        kind: AddressKind::P2sh,
        payload: "0ffdcf96700455074292a821c74922e865299399",
        text: "2MthnBFX9T8VBrqDWmLR7zngH11knuwNSsZ",
    },
];

#[test]
fn script_fixtures_map_encode_and_parse() {
    for case in CASES {
        let name = case.name;
        let script = hex::decode(case.script).unwrap();
        let key = script_to_address(&script).unwrap_or_else(|| panic!("{name}: no address"));
        assert_eq!(key.kind, case.kind, "{name}");
        if !case.payload.is_empty() {
            assert_eq!(key.payload(), hex::decode(case.payload).unwrap(), "{name}");
        }
        assert!(key.payload.iter().skip(key.kind.payload_len()).all(|&b| b == 0), "{name}");
        assert_eq!(case.network.encode_address(&key), case.text, "{name}");
        assert_eq!(case.network.parse_address(case.text), Ok(key), "{name}");
        if case.text.starts_with("bc1")
            || case.text.starts_with("tb1")
            || case.text.starts_with("bcrt1")
        {
            let upper = case.text.to_uppercase();
            assert_eq!(case.network.parse_address(&upper), Ok(key), "{name}: upper case");
        }
    }
}

#[test]
fn op_return_and_other_scripts() {
    for script in [
        "6a",
        "6a00",
        "6a24aa21a9ed71bfcc287cd6271682f35f5fba3963861571e0f186899eb0a41a5ebc360a3faa",
        "6a76a914b6b1e63c3e81cf0453f579409bac19ce59951d1488ac",
    ] {
        assert_eq!(script_to_address(&hex::decode(script).unwrap()), None, "{script}");
    }
    // Other witness versions and program lengths, and near-misses of the templates.
    for script in [
        "5114751e76e8199196d454941c45d1b3a323f1433bd6",
        "5220000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
        "0015751e76e8199196d454941c45d1b3a323f1433bd600",
        "76a914b6b1e63c3e81cf0453f579409bac19ce59951d1488",
        "76a914b6b1e63c3e81cf0453f579409bac19ce59951d1488acac",
        "a91468f35944d7423b37638c5f2be40eb626f18b2e7088",
        "2105ce5aa87770904932fd32cc7458f9100136cbfdae7aa158e32b99b4b231e5177aac",
        "4102ae1a62fe09c5f51b13905f07f06b99a2f7159b2225f374cd378d71302fa28414e7aab37397f554a7df5f142c21c1b7303b8a0626f1baded5c72a704f7e6cd84cac",
        "ac",
        "00",
    ] {
        let key = script_to_address(&hex::decode(script).unwrap()).unwrap();
        assert_eq!(key.kind, AddressKind::Nonstandard, "{script}");
    }
}

#[test]
fn every_kind_round_trips_on_every_network() {
    let kinds = AddressKind::ALL;
    let mut seed = 1u8;
    for network in Network::ALL {
        for kind in kinds {
            for fill in [0u8, 0xff, 0] {
                let payload: Vec<u8> = (0..u8::try_from(kind.payload_len()).unwrap())
                    .map(|i| {
                        seed = seed.wrapping_mul(31).wrapping_add(7);
                        if fill == 0 { seed ^ i } else { fill }
                    })
                    .collect();
                let key = AddressKey::new(kind, &payload);
                let text = network.encode_address(&key);
                assert_eq!(network.parse_address(&text), Ok(key), "{network} {kind:?} {text}");
            }
        }
    }
}

#[test]
fn addresses_of_other_networks_are_rejected() {
    let cases = [
        (Network::Testnet3, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "mainnet"),
        (Network::Regtest, "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "testnet"),
        (
            Network::Mainnet,
            "bcrt1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qzf4jry",
            "regtest",
        ),
        (Network::Signet, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "mainnet"),
        (Network::Mainnet, "mpXwg4jMtRhuSpVq4xS3HFHmCmWp9NyGKt", "testnet"),
        (Network::Mainnet, "2MthnBFX9T8VBrqDWmLR7zngH11knuwNSsZ", "testnet"),
        (Network::Testnet4, "3BFwifA3YAiv8TeCYMkeYnVWPcJFzsBXE3", "mainnet"),
    ];
    for (network, text, belongs_to) in cases {
        let err = network.parse_address(text).unwrap_err();
        assert!(matches!(err, AddressError::WrongNetwork { .. }), "{text}: {err:?}");
        let message = err.to_string();
        assert!(message.contains(text), "{message}");
        assert!(message.contains(network.name()), "{message}");
        assert!(message.contains(belongs_to), "{message}");
    }
    let err =
        Network::Testnet3.parse_address("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4").unwrap_err();
    assert_eq!(
        err.to_string(),
        "address bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4 is a mainnet address, not a testnet address"
    );
}

#[test]
fn malformed_addresses_are_rejected() {
    for text in [
        "",
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", // bad checksum
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kV8f3t4", // mixed case
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", // v1 with bech32 checksum
        "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",       // witness v2: no address kind
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",         // bad base58 checksum
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfN0",         // not base58
        "multisig-zz",
        "nonstandard-0dc310d4a2e72bdd3ed82ff0f0c0d5f56cf12b10e7d6707b239e17795e2c2e7",
        "LVg2kJoFNg45Nbpy53h7Fe1wKyeXVRhMH9", // Litecoin
    ] {
        let err = Network::Mainnet.parse_address(text).unwrap_err();
        assert!(err.to_string().contains(text), "{text}: {err}");
    }
}
