//! Scheduling independent jobs of very different sizes on few cores.

use std::sync::Mutex;

/// Runs `f` on every item in parallel, the heaviest started first (by
/// `weight`; ties in item order): a big job started last would keep one
/// core busy alone at the end. `f` gets the item's index; results come in
/// item order, so nothing depends on the schedule.
pub fn largest_first<T: Send, R: Send>(
    items: &mut [T],
    weight: impl Fn(&T) -> usize,
    f: impl Fn(usize, &mut T) -> R + Sync,
) -> Vec<R> {
    let mut order: Vec<(usize, &mut T)> = items.iter_mut().enumerate().collect();
    order.sort_by_key(|(i, t)| (std::cmp::Reverse(weight(t)), *i));
    let results: Vec<Mutex<Option<R>>> = (0..order.len()).map(|_| Mutex::new(None)).collect();
    rayon::scope_fifo(|s| {
        for (i, t) in order {
            let (f, results) = (&f, &results);
            s.spawn_fifo(move |_| {
                let r = f(i, t);
                *results[i].lock().expect("one writer per slot") = Some(r);
            });
        }
    });
    results
        .into_iter()
        .map(|m| m.into_inner().expect("no panic").expect("every item ran"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_item_order() {
        let mut items: Vec<usize> = vec![3, 9, 1, 9, 4];
        let out = largest_first(
            &mut items,
            |&w| w,
            |i, w| {
                *w += 1;
                (i, *w)
            },
        );
        assert_eq!(out, [(0, 4), (1, 10), (2, 2), (3, 10), (4, 5)]);
        assert_eq!(items, [4, 10, 2, 10, 5]);
    }
}
