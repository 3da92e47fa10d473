//! A bound on concurrent cache misses. A hit costs a lookup; a miss computes its view from
//! the database, so a client asking for many distinct uncached views at once could load the
//! database at will. [`MissGate`] lets at most [`MissLimits::per_client`] misses of one
//! client address compute at once (more: 429 `too_many_requests`, at once), and at most
//! [`MissLimits::per_process`] in the process (more wait up to [`MissLimits::queue_wait`]
//! for a slot, then 503 `server_busy`). Concurrent misses of one key compute once and take
//! one slot. Behind a reverse proxy every client has the proxy's address.

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
    /// How long a miss waits for a process slot before 503 `server_busy`.
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
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// A client's share of the gate, given back when dropped.
#[derive(Debug)]
struct ClientSlot {
    ip: IpAddr,
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = clients.get_mut(&self.ip) {
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
    _client: Option<ClientSlot>,
    _slot: OwnedSemaphorePermit,
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
                let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
                let n = clients.entry(ip).or_insert(0);
                if *n >= self.limits.per_client.max(1) {
                    return Err(ApiError::TooManyMisses);
                }
                *n += 1;
                Some(ClientSlot {
                    ip,
                    clients: Arc::clone(&self.clients),
                })
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
            _client: client,
            _slot: slot,
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
            queue_wait: Duration::from_secs(5),
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
    async fn past_the_process_bound_a_miss_waits_then_is_refused() {
        let gate = MissGate::new(MissLimits {
            per_process: 1,
            per_client: 4,
            queue_wait: Duration::from_millis(50),
        });
        let held = gate.admit(ip(1)).await.unwrap();
        assert!(matches!(gate.admit(ip(2)).await, Err(ApiError::Busy)));
        assert!(matches!(gate.admit(None).await, Err(ApiError::Busy)));
        assert_eq!(
            gate.clients
                .lock()
                .unwrap()
                .get(&IpAddr::from([192, 0, 2, 2])),
            None,
            "a refused miss gives its client slot back"
        );
        drop(held);
        assert!(gate.admit(ip(2)).await.is_ok());
    }
}
