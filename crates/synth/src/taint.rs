//! The reference taint tracer's arithmetic: how one transaction passes taint from its inputs to
//! its outputs and fee under the haircut, FIFO and LIFO policies (poison needs no arithmetic).
//!
//! `parts` are the transaction's output values in output order followed by its fee; every function
//! writes the tainted satoshis of each part into `out` (same length) and conserves exactly: the
//! sum of `out` is the sum of the inputs' taint.

/// Number of planted thefts traced (each with its own taint).
pub(crate) const THEFTS: usize = 3;
/// Amount policies per theft: haircut, FIFO, LIFO.
pub(crate) const AMOUNT_POLICIES: usize = 3;
/// Tainted amounts of one output: `[theft * 3 + policy]`, policy 0 haircut, 1 FIFO, 2 LIFO.
pub(crate) type Amounts = [u64; THEFTS * AMOUNT_POLICIES];

/// Haircut: part `j` gets `floor(T * parts[j] / V)`; the remainder `R = T - sum(floors)` goes one
/// satoshi each to the first `R` parts (in order) whose floor is below their value.
pub(crate) fn haircut(taint: u64, in_value: u64, parts: &[u64], out: &mut [u64]) {
    let mut given = 0u64;
    for (share, &value) in out.iter_mut().zip(parts) {
        *share = if in_value == 0 {
            0
        } else {
            u64::try_from(u128::from(taint) * u128::from(value) / u128::from(in_value))
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

/// FIFO (`reverse == false`) or LIFO (`reverse == true`): the inputs, in order (or reverse order),
/// form a queue of segments, each input contributing its tainted satoshis then its clean ones;
/// the parts take satoshis from the queue in order.
pub(crate) fn queue(inputs: &[(u64, u64)], reverse: bool, parts: &[u64], out: &mut [u64]) {
    let segments = inputs.len() * 2;
    // Position in the segment sequence and satoshis left in the current segment.
    let mut index = 0usize;
    let mut left = 0u64;
    let mut tainted = false;
    let segment = |i: usize| -> (u64, bool) {
        let input = if reverse { inputs.len() - 1 - i / 2 } else { i / 2 };
        let (value, taint) = inputs[input];
        if i.is_multiple_of(2) { (taint, true) } else { (value - taint, false) }
    };
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
        assert_eq!(out.iter().sum::<u64>(), 5);
        haircut(10, 10, &parts, &mut out);
        assert_eq!(out, parts);
    }

    #[test]
    fn fifo_and_lifo_take_segments_in_order() {
        // Input 0: 5 sats, 5 tainted; input 1: 5 sats clean.
        let inputs = [(5u64, 5u64), (5, 0)];
        let parts = [4u64, 4, 2];
        let mut out = [0u64; 3];
        queue(&inputs, false, &parts, &mut out);
        assert_eq!(out, [4, 1, 0]);
        queue(&inputs, true, &parts, &mut out);
        assert_eq!(out, [0, 3, 2]);
        // A partly tainted input: tainted part first.
        queue(&[(10, 3)], false, &[2, 8], &mut out[..2]);
        assert_eq!(out[..2], [2, 1]);
    }
}
