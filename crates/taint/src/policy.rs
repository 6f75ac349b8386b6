//! How one transaction passes value between its inputs and its outputs under each policy.
//!
//! A transaction's **parts** are its output values in output order followed by its fee. Every
//! function here conserves exactly: the amounts it hands out sum to the amount it was given.

use std::fmt;
use std::str::FromStr;

/// A taint policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Policy {
    /// Any output of a transaction with a tainted input is fully tainted (amounts are the outputs'
    /// full values; totals do not conserve).
    Poison,
    /// Each part carries the transaction's tainted share of its value.
    Haircut,
    /// Value flows from inputs to parts in order: first in, first out (Clayton's rule).
    Fifo,
    /// Value flows from the last input first.
    Lifo,
}

impl Policy {
    /// Every policy.
    pub const ALL: [Self; 4] = [Self::Poison, Self::Haircut, Self::Fifo, Self::Lifo];

    /// Returns the lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Poison => "poison",
            Self::Haircut => "haircut",
            Self::Fifo => "fifo",
            Self::Lifo => "lifo",
        }
    }

    /// Returns `true` if amounts conserve under this policy (all but poison).
    pub fn conserves(self) -> bool {
        self != Self::Poison
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A policy name that is not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsePolicyError {
    /// The text given.
    pub text: String,
}

impl fmt::Display for ParsePolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown policy `{}`: expected poison, haircut, fifo or lifo", self.text)
    }
}

impl std::error::Error for ParsePolicyError {}

impl FromStr for Policy {
    type Err = ParsePolicyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|policy| policy.name() == text)
            .ok_or_else(|| ParsePolicyError { text: text.to_owned() })
    }
}

/// Haircut: part `j` gets `floor(taint * parts[j] / total)`; the remainder goes one satoshi each to
/// the first parts (in order) whose share is still below their value.
pub(crate) fn haircut(taint: u64, total: u64, parts: &[u64], out: &mut [u64]) {
    let mut given = 0u64;
    for (share, &value) in out.iter_mut().zip(parts) {
        *share = if total == 0 {
            0
        } else {
            u64::try_from(u128::from(taint) * u128::from(value) / u128::from(total))
                .unwrap_or(value)
        };
        given += *share;
    }
    let mut rest = taint.saturating_sub(given);
    for (share, &value) in out.iter_mut().zip(parts) {
        if rest == 0 {
            break;
        }
        if *share < value {
            *share += 1;
            rest -= 1;
        }
    }
}

/// FIFO (`reverse == false`) or LIFO (`reverse == true`): the inputs `(value, tainted)`, in order
/// (or reverse order), form a queue of segments, each input contributing its tainted satoshis then
/// its clean ones; the parts take satoshis from the queue in order.
pub(crate) fn queue(inputs: &[(u64, u64)], reverse: bool, parts: &[u64], out: &mut [u64]) {
    let segments = inputs.len() * 2;
    let segment = |index: usize| -> (u64, bool) {
        let input = if reverse { inputs.len() - 1 - index / 2 } else { index / 2 };
        let (value, taint) = inputs[input];
        if index.is_multiple_of(2) { (taint, true) } else { (value - taint, false) }
    };
    let (mut index, mut left, mut tainted) = (0usize, 0u64, false);
    for (share, &value) in out.iter_mut().zip(parts) {
        let mut need = value;
        *share = 0;
        while need > 0 {
            if left == 0 {
                if index >= segments {
                    break;
                }
                (left, tainted) = segment(index);
                index += 1;
                continue;
            }
            let take = need.min(left);
            if tainted {
                *share += take;
            }
            need -= take;
            left -= take;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haircut_conserves_and_rounds_down_first() {
        let parts = [3u64, 3, 3, 1];
        let mut out = [0u64; 4];
        haircut(5, 10, &parts, &mut out);
        assert_eq!(out, [2, 2, 1, 0]);
        haircut(10, 10, &parts, &mut out);
        assert_eq!(out, parts);
    }

    #[test]
    fn fifo_and_lifo_take_segments_in_order() {
        let inputs = [(5u64, 5u64), (5, 0)];
        let parts = [4u64, 4, 2];
        let mut out = [0u64; 3];
        queue(&inputs, false, &parts, &mut out);
        assert_eq!(out, [4, 1, 0]);
        queue(&inputs, true, &parts, &mut out);
        assert_eq!(out, [0, 3, 2]);
        queue(&[(10, 3)], false, &[2, 8], &mut out[..2]);
        assert_eq!(out[..2], [2, 1]);
    }
}
