//! A bound on concurrent cache misses. A hit costs a lookup; a miss computes its view from
//! the database, so a client asking for many distinct uncached views at once could load the
//! database at will. [`MissGate`] lets at most [`MissLimits::per_client`] misses of one
//! client address compute at once and at most [`MissLimits::per_process`] in the process;
//! a miss past either bound waits for a slot, up to [`MissLimits::queue_wait`] for each,
//! then is refused: 429 `too_many_requests` for the client's bound, 503 `server_busy` for
//! the process'. So a burst of misses is smoothed, not refused, while a client that keeps
//! more misses waiting than its slots can serve is. Concurrent misses of one key compute
//! once and take one slot. Behind a reverse proxy every client has the proxy's address.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// How many cache misses may compute at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissLimits {
    /// In the whole process.
    pub per_process: usize,
    /// For one client address.
    pub per_client: usize,
    /// How long a miss waits for a client slot (then 429) and for a process slot (then 503).
    pub queue_wait: Duration,
}

impl Default for MissLimits {
    fn default() -> Self {
        Self {
            per_process: 32,
            per_client: 4,
            queue_wait: Duration::from_secs(2),
        }
    }
}

/// Admits cache misses within [`MissLimits`].
#[derive(Debug)]
pub(crate) struct MissGate {
    limits: MissLimits,
    slots: Arc<Semaphore>,
    /// Per client address: its slots, and how many misses hold or wait for one.
    clients: Arc<Mutex<Clients>>,
}

type Clients = HashMap<IpAddr, (Arc<Semaphore>, usize)>;

/// A client's claim on the gate (holding or waiting for a slot); the entry of a client with
/// no claim left is removed when the last one is dropped.
#[derive(Debug)]
struct ClientClaim {
    ip: IpAddr,
    clients: Arc<Mutex<Clients>>,
}

impl Drop for ClientClaim {
    fn drop(&mut self) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, n)) = clients.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                clients.remove(&self.ip);
            }
        }
    }
}

/// The right to compute one miss; hold it while computing.
#[derive(Debug)]
pub(crate) struct MissPermit {
    _slot: OwnedSemaphorePermit,
    _client: Option<(OwnedSemaphorePermit, ClientClaim)>,
}

impl MissGate {
    pub(crate) fn new(limits: MissLimits) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limits.per_process.max(1))),
            clients: Arc::new(Mutex::new(HashMap::new())),
            limits,
        }
    }

    /// A permit for one miss of `client` (unknown addresses share only the process bound).
    pub(crate) async fn admit(&self, client: Option<IpAddr>) -> Result<MissPermit, ApiError> {
        let client = match client {
            Some(ip) => {
                let (slots, claim) = {
                    let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
                    let (slots, n) = clients.entry(ip).or_insert_with(|| {
                        (Arc::new(Semaphore::new(self.limits.per_client.max(1))), 0)
                    });
                    *n += 1;
                    let claim = ClientClaim {
                        ip,
                        clients: Arc::clone(&self.clients),
                    };
                    (Arc::clone(slots), claim)
                };
                let slot = tokio::time::timeout(self.limits.queue_wait, slots.acquire_owned())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .ok_or(ApiError::TooManyMisses)?;
                Some((slot, claim))
            }
            None => None,
        };
        let slot = tokio::time::timeout(
            self.limits.queue_wait,
            Arc::clone(&self.slots).acquire_owned(),
        )
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or(ApiError::Busy)?;
        Ok(MissPermit {
            _slot: slot,
            _client: client,
        })
    }
}

/// The address of the client a request came from, when the server knows it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub(crate) Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, last]))
    }

    #[tokio::test]
    async fn one_client_gets_its_share_and_others_are_not_held_up() {
        let gate = MissGate::new(MissLimits {
            per_process: 8,
            per_client: 2,
            queue_wait: Duration::from_millis(50),
        });
        let first = gate.admit(ip(1)).await.unwrap();
        let _second = gate.admit(ip(1)).await.unwrap();
        assert!(matches!(
            gate.admit(ip(1)).await,
            Err(ApiError::TooManyMisses)
        ));
        let _other = gate.admit(ip(2)).await.unwrap();
        drop(first);
        assert!(
            gate.admit(ip(1)).await.is_ok(),
            "a finished miss frees its slot"
        );
    }

    #[tokio::test]
    async fn a_burst_waits_for_the_clients_slots_instead_of_being_refused() {
        let gate = Arc::new(MissGate::new(MissLimits {
            per_process: 8,
            per_client: 1,
            queue_wait: Duration::from_secs(30),
        }));
        let held = gate.admit(ip(1)).await.unwrap();
        let waiting = tokio::spawn({
            let gate = Arc::clone(&gate);
            async move { gate.admit(ip(1)).await.map(drop) }
        });
        tokio::task::yield_now().await;
        drop(held);
        assert!(waiting.await.unwrap().is_ok(), "served once the slot freed");
        assert!(
            gate.clients.lock().unwrap().is_empty(),
            "a client with no miss left is forgotten"
        );
    }

    #[tokio::test]
    async fn past_the_process_bound_a_miss_waits_then_is_refused() {
        let gate = MissGate::new(MissLimits {
            per_process: 1,
            per_client: 4,
            queue_wait: Duration::from_millis(50),
        });
        let held = gate.admit(ip(1)).await.unwrap();
        assert!(matches!(gate.admit(ip(2)).await, Err(ApiError::Busy)));
        assert!(matches!(gate.admit(None).await, Err(ApiError::Busy)));
        assert!(
            !gate
                .clients
                .lock()
                .unwrap()
                .contains_key(&IpAddr::from([192, 0, 2, 2])),
            "a refused miss gives its client claim back"
        );
        drop(held);
        assert!(gate.admit(ip(2)).await.is_ok());
    }
}
