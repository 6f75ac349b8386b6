//! Union-find over dense address ids, on caller-provided slices (memory or memory-mapped files).
//!
//! The root of every cluster is its smallest address id, so a cluster's id is stable as it grows
//! (it only changes when the cluster joins one with an older address) and does not depend on the
//! order of merges. `parent` uses path halving during a run; [`ClusterState::canonicalize`] then
//! points every address straight at its root, which makes the slices a pure function of the
//! partition and a lookup a single read. Member lists are circular linked lists (`next`), spliced
//! in O(1) on each merge, so a cluster's members are listed in O(size).

use cointrail_types::AddressId;

/// Result of [`ClusterState::union`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnionOutcome {
    /// Both addresses were already in one cluster.
    Same,
    /// Two clusters became one.
    Merged,
    /// The collapse guard refused the merge.
    Held {
        /// Size of the first cluster.
        size_a: u32,
        /// Size of the second cluster.
        size_b: u32,
    },
}

/// The cluster of every address: parent pointers, root sizes and member lists.
#[derive(Debug)]
pub struct ClusterState<'a> {
    parent: &'a mut [u32],
    size: &'a mut [u32],
    next: &'a mut [u32],
}

impl<'a> ClusterState<'a> {
    /// Wraps three slices of equal length (one entry per address).
    ///
    /// # Panics
    ///
    /// Panics if the slices differ in length.
    pub fn new(parent: &'a mut [u32], size: &'a mut [u32], next: &'a mut [u32]) -> Self {
        assert!(parent.len() == size.len() && size.len() == next.len(), "slices of equal length");
        Self { parent, size, next }
    }

    /// Makes addresses `from..` singletons (for addresses new since the last run).
    pub fn init_singletons(&mut self, from: usize) {
        for index in from..self.parent.len() {
            let id = u32::try_from(index).expect("address ids fit u32");
            self.parent[index] = id;
            self.size[index] = 1;
            self.next[index] = id;
        }
    }

    /// Returns the number of addresses covered.
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// Returns `true` if no address is covered.
    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// Finds the root of an address, halving the path on the way.
    pub fn find(&mut self, address: AddressId) -> u32 {
        let mut current = address.get() as usize;
        loop {
            let parent = self.parent[current] as usize;
            if parent == current {
                return u32::try_from(current).expect("address ids fit u32");
            }
            let grandparent = self.parent[parent];
            self.parent[current] = grandparent;
            current = grandparent as usize;
        }
    }

    /// Merges the clusters of `a` and `b`, unless they would form a cluster of more than
    /// `max_size` addresses from two clusters of at least `min_side` addresses each.
    pub fn union(
        &mut self,
        a: AddressId,
        b: AddressId,
        max_size: u32,
        min_side: u32,
    ) -> UnionOutcome {
        let root_a = self.find(a);
        let root_b = self.find(b);
        if root_a == root_b {
            return UnionOutcome::Same;
        }
        let (size_a, size_b) = (self.size[root_a as usize], self.size[root_b as usize]);
        if size_a.saturating_add(size_b) > max_size && size_a.min(size_b) >= min_side {
            return UnionOutcome::Held { size_a, size_b };
        }
        let (root, child) = if root_a < root_b { (root_a, root_b) } else { (root_b, root_a) };
        self.parent[child as usize] = root;
        self.size[root as usize] = size_a + size_b;
        self.size[child as usize] = 0;
        self.next.swap(root as usize, child as usize);
        UnionOutcome::Merged
    }

    /// Points every address at its root.
    pub fn canonicalize(&mut self) {
        for index in 0..self.parent.len() {
            // Roots are the smallest ids of their clusters, so parents precede children.
            let parent = self.parent[index] as usize;
            self.parent[index] = self.parent[parent];
        }
    }

    /// Returns the size of the cluster rooted at `root`.
    pub fn size_of_root(&self, root: u32) -> u32 {
        self.size[root as usize]
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, reason = "small test sizes")]
mod tests {
    use super::*;

    fn state(len: usize) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
        (vec![0; len], vec![0; len], vec![0; len])
    }

    fn members(next: &[u32], root: u32) -> Vec<u32> {
        let mut out = vec![root];
        let mut current = next[root as usize];
        while current != root {
            out.push(current);
            current = next[current as usize];
        }
        out.sort_unstable();
        out
    }

    #[test]
    fn merge_order_does_not_change_the_canonical_state() {
        let pairs = [(3u32, 7u32), (7, 9), (1, 4), (9, 2), (5, 6), (4, 6), (8, 8)];
        let mut results = Vec::new();
        for rotation in 0..pairs.len() {
            let (mut parent, mut size, mut next) = state(10);
            let mut clusters = ClusterState::new(&mut parent, &mut size, &mut next);
            clusters.init_singletons(0);
            let mut order: Vec<(u32, u32)> =
                pairs.iter().cycle().skip(rotation).take(pairs.len()).copied().collect();
            if rotation % 2 == 1 {
                order.reverse();
            }
            for (a, b) in order {
                clusters.union(AddressId::new(a), AddressId::new(b), u32::MAX, u32::MAX);
            }
            clusters.canonicalize();
            let groups: Vec<Vec<u32>> =
                [0u32, 1, 2, 5, 8].iter().map(|&r| members(&next, r)).collect();
            results.push((parent.clone(), size.clone(), groups));
        }
        assert!(results.windows(2).all(|pair| pair[0] == pair[1]));
        let (parent, size, groups) = &results[0];
        assert_eq!(parent, &vec![0, 1, 2, 2, 1, 1, 1, 2, 8, 2]);
        assert_eq!(size[1], 4);
        assert_eq!(size[2], 4);
        assert_eq!(groups[1], vec![1, 4, 5, 6]);
        assert_eq!(groups[2], vec![2, 3, 7, 9]);
    }

    /// Property: for random unions applied in random orders (and with swapped arguments), the
    /// canonical state is identical.
    #[test]
    fn random_merge_orders_give_one_canonical_state() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next_random = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _case in 0..200 {
            let len = 2 + (next_random() % 60) as usize;
            let pairs: Vec<(u32, u32)> = (0..next_random() % 80)
                .map(|_| ((next_random() % len as u64) as u32, (next_random() % len as u64) as u32))
                .collect();
            let mut reference = None;
            for _order in 0..4 {
                let mut shuffled = pairs.clone();
                for i in (1..shuffled.len()).rev() {
                    shuffled.swap(i, (next_random() % (i as u64 + 1)) as usize);
                }
                let (mut parent, mut size, mut next) = state(len);
                let mut clusters = ClusterState::new(&mut parent, &mut size, &mut next);
                clusters.init_singletons(0);
                for (a, b) in shuffled {
                    let (a, b) = if next_random() % 2 == 0 { (a, b) } else { (b, a) };
                    clusters.union(AddressId::new(a), AddressId::new(b), u32::MAX, u32::MAX);
                }
                clusters.canonicalize();
                let groups: Vec<Vec<u32>> = (0..len as u32)
                    .filter(|&id| parent[id as usize] == id)
                    .map(|root| members(&next, root))
                    .collect();
                let result = (parent.clone(), size.clone(), groups);
                match &reference {
                    None => reference = Some(result),
                    Some(expected) => assert_eq!(&result, expected),
                }
            }
        }
    }

    #[test]
    fn collapse_guard_holds_merges_of_two_large_clusters() {
        let (mut parent, mut size, mut next) = state(8);
        let mut clusters = ClusterState::new(&mut parent, &mut size, &mut next);
        clusters.init_singletons(0);
        for b in 1..4 {
            clusters.union(AddressId::new(0), AddressId::new(b), 6, 3);
        }
        for b in 5..8 {
            clusters.union(AddressId::new(4), AddressId::new(b), 6, 3);
        }
        let held = clusters.union(AddressId::new(2), AddressId::new(6), 6, 3);
        assert_eq!(held, UnionOutcome::Held { size_a: 4, size_b: 4 });
        // A small cluster may still join a large one past the size limit.
        let (mut parent, mut size, mut next) = state(8);
        let mut clusters = ClusterState::new(&mut parent, &mut size, &mut next);
        clusters.init_singletons(0);
        for b in 1..7 {
            clusters.union(AddressId::new(0), AddressId::new(b), 6, 3);
        }
        assert_eq!(
            clusters.union(AddressId::new(0), AddressId::new(7), 6, 3),
            UnionOutcome::Merged
        );
    }
}
