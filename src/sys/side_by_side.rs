//! Work that mostly waits, done for many items at once. Giving a packet socket its ring and
//! closing one each wait for an RCU grace period (`synchronize_net`): a thousand such waits
//! one after another take seconds, side by side about one.

/// Drops every item, each on a thread of its own: a thousand packet sockets closed side by
/// side wait about one grace period, where one after another they take seconds.
pub fn drop_all<T: Send>(items: Vec<T>) {
    std::thread::scope(|scope| {
        for item in items {
            scope.spawn(move || drop(item));
        }
    });
}

/// `work` for every item, each on a thread of its own; the results in the order of `items`.
pub fn map<I: Sync, T: Send>(items: &[I], work: impl Fn(&I) -> T + Sync) -> Vec<T> {
    std::thread::scope(|scope| {
        let threads: Vec<_> = items.iter().map(|i| scope.spawn(|| work(i))).collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// `work` for every item on at most `threads` threads, each taking a run of the items in
/// turn; the results in the order of `items`. For work that queues for one lock in the
/// kernel, where a thread per item would only wait longer.
pub fn map_on<I: Sync, T: Send>(
    items: &[I],
    threads: usize,
    work: impl Fn(&I) -> T + Sync,
) -> Vec<T> {
    let run = items.len().div_ceil(threads.max(1)).max(1);
    let runs: Vec<&[I]> = items.chunks(run).collect();
    map(&runs, |run| run.iter().map(&work).collect::<Vec<T>>())
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_come_back_in_the_order_of_the_items() {
        let items: Vec<u64> = (0..64).collect();
        let doubled = super::map(&items, |&i| {
            // Later items finish first, so arrival order cannot pass for item order.
            std::thread::sleep(std::time::Duration::from_micros(64 - i));
            i * 2
        });
        assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_bounded_map_uses_no_more_threads_than_asked_and_keeps_the_order() {
        use std::collections::HashSet;
        use std::sync::Mutex;
        let items: Vec<u64> = (0..50).collect();
        let seen = Mutex::new(HashSet::new());
        let doubled = super::map_on(&items, 8, |&i| {
            seen.lock().unwrap().insert(std::thread::current().id());
            std::thread::sleep(std::time::Duration::from_micros(50 - i));
            i * 2
        });
        assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(seen.lock().unwrap().len() <= 8);
        assert!(super::map_on(&[] as &[u64], 8, |&i| i).is_empty());
    }
}
