//! Sorting and matching helpers that keep the browser's bundle small: every sort goes through
//! one instantiation of the standard sort (indices compared through a `dyn Fn`), and text is
//! matched ignoring ASCII case only (the Unicode case tables that `to_lowercase` and
//! `to_uppercase` pull in cost about 14 KB of the gzipped bundle). Kubernetes names, kinds and
//! the dashboard's own words are ASCII; a non-ASCII letter in a message matches its own case.

use std::cmp::Ordering;

/// Sorts indices by `cmp` (unstable: give `cmp` a tie-break when the order of equals matters).
pub fn sort_indices(v: &mut [usize], cmp: &dyn Fn(usize, usize) -> Ordering) {
    v.sort_unstable_by(|&a, &b| cmp(a, b));
}

/// A stable sort of `list` by `cmp`, like `slice::sort_by`, through [`sort_indices`] (each
/// `sort_by` with its own closure is another copy of the sort in the bundle).
pub fn sort_by<T>(list: &mut [T], cmp: &dyn Fn(&T, &T) -> Ordering) {
    let mut order: Vec<usize> = (0..list.len()).collect();
    sort_indices(&mut order, &|a, b| cmp(&list[a], &list[b]).then(a.cmp(&b)));
    permute(list, &order);
}

/// Rearranges `list` so that position `i` holds what was at `order[i]` (`order` is a
/// permutation of the positions), in place.
fn permute<T>(list: &mut [T], order: &[usize]) {
    for i in 0..list.len() {
        // Positions before `i` are final; what was at `order[i]` has moved along the swaps made
        // there, so follow them until it is found at or after `i`.
        let mut from = order[i];
        while from < i {
            from = order[from];
        }
        list.swap(i, from);
    }
}

/// Whether `haystack` contains `needle`, ignoring ASCII case (without allocating).
pub fn contains_ignoring_ascii_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// `text` with its first letter in upper case (ASCII), for sentences built from words.
pub fn capitalize(text: &str) -> String {
    let mut out = text.to_owned();
    if let Some(first) = out.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every permutation of `0..n`.
    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![Vec::new()];
        }
        let mut out = Vec::new();
        for p in permutations(n - 1) {
            for at in 0..=p.len() {
                let mut q = p.clone();
                q.insert(at, n - 1);
                out.push(q);
            }
        }
        out
    }

    #[test]
    fn permute_applies_every_permutation() {
        for n in 0..=6 {
            for order in permutations(n) {
                let mut list: Vec<usize> = (0..n).map(|i| i * 10).collect();
                permute(&mut list, &order);
                let want: Vec<usize> = order.iter().map(|&i| i * 10).collect();
                assert_eq!(list, want, "{order:?}");
            }
        }
    }

    #[test]
    fn sort_by_is_stable_and_agrees_with_the_standard_sort() {
        // Pairs sorted by their first member only: equals keep their order.
        for n in 0..=6 {
            for order in permutations(n) {
                let list: Vec<(usize, usize)> = order.iter().enumerate().map(|(i, &v)| (v % 3, i)).collect();
                let (mut ours, mut std) = (list.clone(), list.clone());
                sort_by(&mut ours, &|a, b| a.0.cmp(&b.0));
                std.sort_by_key(|p| p.0);
                assert_eq!(ours, std, "{list:?}");
            }
        }
    }

    #[test]
    fn matching_ignores_ascii_case() {
        assert!(contains_ignoring_ascii_case("GitRepository team-b/App", "repository TEAM"));
        assert!(contains_ignoring_ascii_case("anything", ""));
        assert!(!contains_ignoring_ascii_case("short", "longer text"));
        assert!(!contains_ignoring_ascii_case("Kustomization", "helm"));
        // Only ASCII letters fold: a non-ASCII letter matches its own case.
        assert!(contains_ignoring_ascii_case("déjà vu", "DéJà"));
        assert!(!contains_ignoring_ascii_case("déjà vu", "DÉJÀ"));
    }

    #[test]
    fn capitalizes_the_first_ascii_letter() {
        assert_eq!(capitalize("reconcile apps"), "Reconcile apps");
        assert_eq!(capitalize(""), "");
        assert_eq!(capitalize("é"), "é");
    }
}
