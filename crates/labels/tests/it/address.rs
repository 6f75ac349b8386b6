//! `normalize_address`.

use cointrail_labels::{AddressProblem, normalize_address};

#[test]
fn accepted_addresses() {
    for (name, asset, text, expected) in [
        (
            "p2pkh",
            "BTC",
            "1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn",
            "1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn",
        ),
        (
            "xbt is btc",
            "XBT",
            "3F2sZ4jbhvDKQdGbHYPC6ZxFXEau2m5Lqj",
            "3F2sZ4jbhvDKQdGbHYPC6ZxFXEau2m5Lqj",
        ),
        (
            "bech32 upper case is lowered",
            "BTC",
            "BC1QAZCM763858NKJ2DJ986ETAJV6WQUSLV8UXWCZT",
            "bc1qazcm763858nkj2dj986etajv6wquslv8uxwczt",
        ),
        (
            "trimmed",
            "btc",
            "  1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn\t",
            "1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn",
        ),
        (
            "testnet",
            "BTC",
            "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",
            "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",
        ),
        (
            "eth lower-cased",
            "ETH",
            "0x098B716B8Aaf21512996dC57EB0615e2383E2f96",
            "0x098b716b8aaf21512996dc57eb0615e2383e2f96",
        ),
        (
            "usdt on ethereum",
            "USDT",
            "0x19Aa5Fe80D33a56D56c78e82eA5E50E5d80b4Dff",
            "0x19aa5fe80d33a56d56c78e82ea5e50e5d80b4dff",
        ),
        (
            "usdt on tron",
            "USDT",
            "TA3941uFAvmVibSkQ6fMJXxmaSNovX86mz",
            "TA3941uFAvmVibSkQ6fMJXxmaSNovX86mz",
        ),
        ("tron", "TRX", "TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM", "TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM"),
        (
            "litecoin as is",
            "LTC",
            "LNf2JDiuunBz7GMDKFYHN4rq5meXWxiwfb",
            "LNf2JDiuunBz7GMDKFYHN4rq5meXWxiwfb",
        ),
        (
            "bnb beacon chain",
            "BNB",
            "bnb136ns6lfw4zs5hg4n85vdthaad7hq5m4gtkgf23",
            "bnb136ns6lfw4zs5hg4n85vdthaad7hq5m4gtkgf23",
        ),
        (
            "arbitrum",
            "ARB",
            "0x0000000000000000000000000000000000000000",
            "0x0000000000000000000000000000000000000000",
        ),
        (
            "unknown asset, evm shape",
            "FOO",
            "0xABCDEF0123456789abcdef0123456789ABCDEF01",
            "0xabcdef0123456789abcdef0123456789abcdef01",
        ),
    ] {
        assert_eq!(normalize_address(asset, text).as_deref(), Ok(expected), "{name}");
    }
}

#[test]
fn rejected_addresses() {
    for (name, asset, text, problem) in [
        ("asset too short", "B", "1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn", "unknown asset"),
        ("asset with dash", "US-DT", "TA3941uFAvmVibSkQ6fMJXxmaSNovX86mz", "unknown asset"),
        ("asset too long", "ABCDEFGHIJK", "x1", "unknown asset"),
        ("empty", "BTC", "  ", "empty"),
        ("bad checksum", "BTC", "1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMro", "bitcoin"),
        ("tron address under xbt", "XBT", "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq", "bitcoin"),
        ("eth too short", "ETH", "0x098B716B8Aaf21512996dC57EB0615e2383E2f9", "evm"),
        ("eth not hex", "ETH", "0x098B716B8Aaf21512996dC57EB0615e2383E2fZZ", "evm"),
        ("eth without 0x", "ETH", "098B716B8Aaf21512996dC57EB0615e2383E2f96", "evm"),
        ("usdt 0x too short", "USDT", "0x1234", "evm"),
        ("space inside", "LTC", "LNf2JDiuunBz7GMD KFYHN4rq5meXWxiwfb", "characters"),
        ("colon", "BCH", "bitcoincash:qpf2cphc5dkuclkqur7lhj2yuqq9pk3hmukle77vhq", "characters"),
    ] {
        let error = normalize_address(asset, text).unwrap_err();
        let kind = match error {
            AddressProblem::UnknownAsset { .. } => "unknown asset",
            AddressProblem::Empty => "empty",
            AddressProblem::Bitcoin { .. } => "bitcoin",
            AddressProblem::Evm => "evm",
            AddressProblem::Characters => "characters",
            _ => "other",
        };
        assert_eq!(kind, problem, "{name}: {error}");
    }
}
