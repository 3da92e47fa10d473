//! Services a fault test owns and breaks: a `redis-server` of its own that it kills and
//! restarts empty, and a TCP proxy it can cut in front of a shared service (PostgreSQL),
//! either refusing connections or swallowing traffic like a network partition.
//!
//! Guarantees: an [`OwnRedis`] keeps nothing on disk and is killed when dropped; a
//! [`Proxy`] stops accepting when dropped.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// A free loopback port (bound and released).
pub async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Whether `redis-server` can be run here.
pub fn redis_server_available() -> bool {
    std::process::Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A `redis-server` this test started on its own port; killed when dropped.
#[derive(Debug)]
pub struct OwnRedis {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    pub async fn start() -> Self {
        let port = free_port().await;
        let mut redis = Self { port, child: None };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and waits until it answers.
    pub async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--port", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no shutdown, no save.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill redis-server");
        }
    }

    /// Keys stored in it right now.
    pub async fn dbsize(&self) -> u64 {
        let client = redis::Client::open(self.url()).expect("client");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        redis::cmd("DBSIZE")
            .query_async(&mut conn)
            .await
            .expect("dbsize")
    }
}

/// How a cut [`Proxy`] treats traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Forwarding.
    Open,
    /// Existing connections are closed; new ones are accepted and closed at once.
    Refuse,
    /// Nothing is forwarded or closed: bytes vanish (a network partition).
    BlackHole,
}

/// A TCP proxy on a free loopback port in front of `upstream`, which the test can cut.
#[derive(Debug)]
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    mode: watch::Sender<Cut>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let (mode, rx) = watch::channel(Cut::Open);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let mut rx = rx.clone();
                tokio::spawn(async move {
                    let now = *rx.borrow_and_update();
                    match now {
                        Cut::Refuse => return,
                        Cut::BlackHole => {
                            let _held = client;
                            let _ = rx.wait_for(|m| *m == Cut::Open).await;
                            return;
                        }
                        Cut::Open => {}
                    }
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    pipe(client, server, rx).await;
                });
            }
        });
        Self { addr, mode, task }
    }

    /// Opens or cuts the proxy.
    pub fn set(&self, cut: Cut) {
        self.mode.send_replace(cut);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies both ways until either side closes or the proxy is cut (then the connection is
/// closed, or held silent until the proxy opens again and then closed).
async fn pipe(client: TcpStream, server: TcpStream, mut mode: watch::Receiver<Cut>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let copy = async {
        tokio::select! {
            _ = tokio::io::copy(&mut cr, &mut sw) => {}
            _ = tokio::io::copy(&mut sr, &mut cw) => {}
        }
    };
    let cut = tokio::select! {
        () = copy => None,
        cut = mode.wait_for(|m| *m != Cut::Open) => cut.ok().map(|m| *m),
    };
    if cut == Some(Cut::BlackHole) {
        let _ = mode.wait_for(|m| *m == Cut::Open).await;
    }
    let _ = cw.shutdown().await;
    let _ = sw.shutdown().await;
}
