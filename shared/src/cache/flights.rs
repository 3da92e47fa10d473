//! Coalescing of concurrent misses: at most one computation per key at a time in a process.
//!
//! Each key being computed has an async lock in a map. The first caller holds it while it
//! computes and stores; later callers wait on it, then look the key up again. The map entry
//! is removed by the last holder or waiter to leave, including when a future is cancelled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// The keys being computed right now, each with the lock its callers queue on.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    /// A std mutex: held only to find, insert or remove an entry, never across an await.
    in_flight: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
}

impl Flights {
    /// Waits until no other caller is computing `key`, and returns a guard that lets the
    /// next one in when dropped.
    pub(crate) async fn enter(&self, key: &str) -> FlightGuard<'_> {
        let lock = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.to_owned())
            .or_default()
            .clone();
        let mut flight = FlightGuard {
            flights: self,
            key: key.to_owned(),
            lock,
            held: None,
        };
        flight.held = Some(Arc::clone(&flight.lock).lock_owned().await);
        flight
    }

    /// How many keys have a computation in flight or queued.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The right to compute one key; dropping it lets the next waiter in.
#[derive(Debug)]
pub(crate) struct FlightGuard<'a> {
    /// The map to clean up on drop.
    flights: &'a Flights,
    /// The key this guard is for.
    key: String,
    /// This key's lock, kept to know (by its reference count) whether anyone else uses it.
    lock: Arc<AsyncMutex<()>>,
    /// The held lock; `None` while still waiting (a cancelled wait also cleans up).
    held: Option<OwnedMutexGuard<()>>,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        self.held.take();
        let mut in_flight = self
            .flights
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if Arc::strong_count(&self.lock) == 2 {
            in_flight.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn second_caller_waits_for_the_first() {
        let flights = Arc::new(Flights::default());
        let first = flights.enter("media:x").await;
        let waiting = {
            let flights = Arc::clone(&flights);
            tokio::spawn(async move {
                let _second = flights.enter("media:x").await;
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(first);
        waiting.await.expect("second caller gets in");
        assert_eq!(flights.len(), 0);
    }

    #[tokio::test]
    async fn a_cancelled_wait_leaves_no_entry_behind() {
        let flights = Flights::default();
        let first = flights.enter("media:x").await;
        let cancelled =
            tokio::time::timeout(Duration::from_millis(20), flights.enter("media:x")).await;
        assert!(cancelled.is_err());
        drop(first);
        assert_eq!(flights.len(), 0);
    }

    #[tokio::test]
    async fn different_keys_do_not_wait_for_each_other() {
        let flights = Flights::default();
        let _a = flights.enter("media:a").await;
        let b = tokio::time::timeout(Duration::from_millis(100), flights.enter("media:b")).await;
        assert!(b.is_ok());
    }
}
