//! A small deterministic random number generator: xoshiro256** seeded through SplitMix64.
//!
//! Hand-rolled so that the same seed gives the same chain forever, on every platform: only integer
//! arithmetic, no floating point.

/// SplitMix64's finalizer: a bijection on `u64` that mixes its input well.
pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// xoshiro256** (Blackman and Vigna, 2018).
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// Seeds the generator: the four state words are SplitMix64 outputs of `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut s = [0u64; 4];
        for word in &mut s {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            *word = mix64(x);
        }
        if s == [0; 4] {
            s[0] = 1;
        }
        Self { s }
    }

    /// Returns the next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Returns a number in `0..n` (Lemire's multiply-shift; 0 for `n == 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        let wide = u128::from(self.next_u64()) * u128::from(n);
        u64::try_from(wide >> 64).unwrap_or(u64::MAX)
    }

    /// Returns an index in `0..n`.
    pub(crate) fn index(&mut self, n: usize) -> usize {
        // usize fits in u64 on every supported platform, and the result is below n.
        usize::try_from(self.below(n as u64)).unwrap_or(0)
    }

    /// Returns a number in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// Returns a `u32` in `lo..=hi`.
    pub(crate) fn range32(&mut self, lo: u32, hi: u32) -> u32 {
        lo + u32::try_from(self.below(u64::from(hi - lo) + 1)).unwrap_or(0)
    }

    /// Returns true with probability `permille / 1000`.
    pub(crate) fn chance(&mut self, permille: u64) -> bool {
        self.below(1000) < permille
    }

    /// Returns a number in `lo..=hi`, roughly log-uniform: a uniform binary order of magnitude,
    /// then uniform within it.
    pub(crate) fn log_uniform(&mut self, lo: u64, hi: u64) -> u64 {
        let lo = lo.max(1);
        if hi <= lo {
            return lo;
        }
        self.magnitude(lo, hi).clamp(lo, hi)
    }

    /// Returns a number in `lo..=hi` (`1 <= lo <= hi`) drawn as [`Rng::log_uniform`] draws, but
    /// with draws past `hi` drawn again instead of clamped, so that no value takes the share of
    /// the draws beyond it.
    pub(crate) fn log_uniform_exact(&mut self, lo: u64, hi: u64) -> u64 {
        loop {
            let value = self.magnitude(lo, hi);
            if (lo..=hi).contains(&value) {
                return value;
            }
        }
    }

    /// A uniform binary order of magnitude between those of `lo` and `hi` (both at least 1),
    /// then a uniform number within it; may fall outside `lo..=hi` at either end.
    fn magnitude(&mut self, lo: u64, hi: u64) -> u64 {
        let lo_bits = 63 - lo.leading_zeros();
        let hi_bits = 63 - hi.leading_zeros();
        let bits = self.range(u64::from(lo_bits), u64::from(hi_bits));
        let base = 1u64 << bits;
        base + self.below(base)
    }

    /// Fills `out` with random bytes.
    pub(crate) fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }

    /// Picks an index according to integer `weights`.
    pub(crate) fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut pick = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if pick < w {
                return i;
            }
            pick -= w;
        }
        weights.len().saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_in_range() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            let x = a.range(5, 9);
            assert!((5..=9).contains(&x));
            b.range(5, 9);
            let y = a.log_uniform(1000, 5_000_000);
            assert!((1000..=5_000_000).contains(&y));
            b.log_uniform(1000, 5_000_000);
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }
}
