//! Plays a small laundering case on a running anvil (started with `--auto-impersonate`), for the
//! demo (`scripts/demo.sh`): an exchange's hot wallet is drained by a thief, who splits the loot
//! over mules; two mules of one launderer pay the same deposit address of another exchange, which
//! sweeps its deposit addresses into its hot wallet; stolen tokens go to an OTC desk.
//!
//! Usage: `cargo run -p cointrail-testkit --example evm_laundering -- URL OUT.csv`. Writes the
//! case's labels (victim, thief, the receiving exchange) as a `cointrail labels import --format
//! csv` file and prints the addresses to look at.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used, reason = "a demo driver")]

use cointrail_testkit::anvil::{Anvil, DEV_ACCOUNTS, ETHER, token_code};

/// Fresh addresses (anvil sends for them with `--auto-impersonate`).
const THIEF: &str = "0x000000000000000000000000000000000000a001";
const MULE_1: &str = "0x000000000000000000000000000000000000b001";
const MULE_2: &str = "0x000000000000000000000000000000000000b002";
const MULE_3: &str = "0x000000000000000000000000000000000000b003";
const DEPOSIT: &str = "0x000000000000000000000000000000000000d001";
const DEPOSIT_2: &str = "0x000000000000000000000000000000000000d002";
const DEPOSIT_3: &str = "0x000000000000000000000000000000000000d003";
const HOT_WALLET: &str = "0x000000000000000000000000000000000000e001";
/// One whole token of the demo's (18 decimals).
const TOKEN: u64 = 1_000_000_000_000_000_000;
const OTC_DESK: &str = "0x000000000000000000000000000000000000f001";

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: evm_laundering URL LABELS.csv");
        std::process::exit(2);
    };
    let anvil = Anvil::connect(&url);
    let victim = DEV_ACCOUNTS[0];
    let [customer_a, customer_b] = [DEV_ACCOUNTS[1], DEV_ACCOUNTS[2]];
    // The theft: 100 ether and 10 tokens from the victim exchange's hot wallet.
    // 18 decimals: 15 whole tokens minted, 10 stolen, 6 sent on.
    let token = anvil.deploy(victim, &token_code(15 * TOKEN));
    let theft = anvil.send(victim, THIEF, 100 * ETHER);
    anvil.transfer_token(victim, &token, THIEF, 10 * TOKEN);
    // Peeling: the thief splits over three mules.
    anvil.send(THIEF, MULE_1, 30 * ETHER);
    anvil.send(THIEF, MULE_2, 45 * ETHER);
    anvil.send(MULE_2, MULE_3, 20 * ETHER);
    anvil.transfer_token(THIEF, &token, MULE_3, 6 * TOKEN);
    // Cash-out: mules 1 and 3 pay the launderer's deposit address at the other exchange, which
    // sweeps it (and two clean customers' deposit addresses) into its hot wallet.
    anvil.send(MULE_1, DEPOSIT, 29 * ETHER);
    anvil.send(MULE_3, DEPOSIT, 19 * ETHER);
    anvil.transfer_token(MULE_3, &token, OTC_DESK, 6 * TOKEN);
    anvil.send(customer_a, DEPOSIT_2, 12 * ETHER);
    anvil.send(customer_b, DEPOSIT_3, 7 * ETHER);
    let sweep = anvil.send(DEPOSIT, HOT_WALLET, 48 * ETHER - ETHER / 1_000);
    anvil.send(DEPOSIT_2, HOT_WALLET, 12 * ETHER - ETHER / 1_000);
    anvil.send(DEPOSIT_3, HOT_WALLET, 7 * ETHER - ETHER / 1_000);
    // The pay-in of mule 1, the transfer an exchange would screen.
    let deposit_tx = anvil.send(MULE_1, DEPOSIT, ETHER / 2);
    let labels = format!(
        "address,label,category,actor,source\n\
         {victim},Victim Exchange (demo),exchange,,demo case\n\
         {THIEF},Theft of the victim exchange (demo),theft,Lazarus Group,demo case\n\
         {HOT_WALLET},Cash-out Exchange (demo),exchange,,demo case\n\
         {OTC_DESK},OTC desk (demo),service,,demo case\n",
        victim = victim.to_lowercase()
    );
    std::fs::write(&out, labels).unwrap();
    println!("theft tx      {theft}");
    println!("thief         {THIEF}");
    println!("token         {token}");
    println!("mules         {MULE_1} {MULE_3}");
    println!("deposit       {DEPOSIT} (swept by {sweep})");
    println!("screen tx     {deposit_tx}");
}
