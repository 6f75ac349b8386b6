//! Union-find throughput: random unions over many addresses, then canonicalisation.
//!
//! `cargo bench -p cointrail-cluster --bench unionfind [-- N]` (N addresses and N unions, default
//! 50 million, the size used in `../shared/DEPENDENCIES.md`). Reports unions per second, the
//! canonicalisation time and bytes per address.
#![allow(
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    missing_docs,
    reason = "benchmark harness"
)]

use std::time::Instant;

use cointrail_cluster::ClusterState;
use cointrail_types::AddressId;

fn main() {
    let quick = cfg!(debug_assertions);
    let count: usize = std::env::args()
        .filter_map(|arg| arg.parse().ok())
        .next()
        .unwrap_or(if quick { 100_000 } else { 50_000_000 });
    let (mut parent, mut size, mut next) =
        (vec![0u32; count], vec![0u32; count], vec![0u32; count]);
    let mut state = ClusterState::new(&mut parent, &mut size, &mut next);
    state.init_singletons(0);
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % count as u64) as u32
    };
    let started = Instant::now();
    let mut merged = 0u64;
    for _ in 0..count {
        let (a, b) = (random(), random());
        if state.union(AddressId::new(a), AddressId::new(b), u32::MAX, u32::MAX)
            == cointrail_cluster::UnionOutcome::Merged
        {
            merged += 1;
        }
    }
    let unions = started.elapsed();
    let started = Instant::now();
    state.canonicalize();
    let canonical = started.elapsed();
    println!(
        "{count} addresses, {count} random unions ({merged} merges): {:.2} s, {:.1} M unions/s; \
         canonicalise {:.2} s; 12 bytes/address ({:.0} MiB)",
        unions.as_secs_f64(),
        count as f64 / unions.as_secs_f64() / 1e6,
        canonical.as_secs_f64(),
        (count * 12) as f64 / f64::from(1u32 << 20)
    );
}
