//! Client connections: the accept loop and what bounds each connection.
//!
//! - Headers must arrive within [`HEADER_READ_TIMEOUT`] (hyper's header read timer, which also
//!   closes a keep-alive connection idle between requests), request bodies within
//!   [`BODY_TIMEOUT`] in all (`http::body_deadline`), and a connection that moves no byte either
//!   way for [`IDLE_TIMEOUT`] is closed (streams send keep-alives more often than that).
//! - One client address (an IPv6 client by its /64) holds at most
//!   [`MAX_CONNECTIONS_PER_ADDRESS`] connections (trusted proxies are not counted: every client
//!   behind them shares their address).
//! - Writes fail once the client has accepted nothing for the write timeout.
//!
//! A slow stream client is cut off by the store's bounded broadcast as soon as its stream is
//! polled again, but a client that stops reading altogether leaves the server blocked on the
//! socket, and its stream is never polled. [`WriteTimeout`] turns "no byte written for
//! `limit`" into an I/O error, so hyper closes the connection and the stream, its subscription
//! and its buffers are dropped.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::time::Sleep;

/// Raises this process's soft limit of open files to its hard limit (as Go programs do), so
/// a replica can hold thousands of streams where the soft limit is the common 1024. Returns the
/// limit now in force, when known.
pub fn raise_open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let mut limit = getrlimit(Resource::Nofile);
        // An unlimited hard limit (None) is left alone: the kernel's own cap applies.
        if limit.maximum.is_some() && limit.current < limit.maximum {
            limit.current = limit.maximum;
            if let Err(err) = setrlimit(Resource::Nofile, limit) {
                tracing::warn!(%err, "could not raise the open files limit");
            }
        }
        getrlimit(Resource::Nofile).current
    }
    #[cfg(not(unix))]
    None
}

/// How long a connection may accept no byte before it is closed.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's body, in all.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection may move no byte at all before it is closed. Longer than the longest
/// request's work (reconcile with source waits up to a minute), so it cuts no answer short;
/// idle keep-alive connections go much sooner, by the header read timer.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// The most connections one client address holds at once.
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 256;

/// Connections per client address, for [`MAX_CONNECTIONS_PER_ADDRESS`].
#[derive(Debug, Default)]
pub struct ConnectionCounts(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

/// One counted connection of an address, released when dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    counts: Arc<ConnectionCounts>,
    ip: Option<std::net::IpAddr>,
}

impl ConnectionCounts {
    /// A slot for a connection from `ip`, or None when it holds `max` already. Addresses in
    /// `exempt` (trusted proxies) are not counted; IPv6 ones are counted by their /64.
    pub fn take(self: &Arc<Self>, ip: std::net::IpAddr, max: usize, exempt: bool) -> Option<ConnectionSlot> {
        if exempt {
            return Some(ConnectionSlot { counts: self.clone(), ip: None });
        }
        let ip = counted_as(ip);
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(ip).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot { counts: self.clone(), ip: Some(ip) })
    }
}

/// The address a connection counts under: an IPv6 address's /64 (one host usually holds a
/// whole /64), an IPv4 one (also mapped into IPv6 by a dual-stack listener) as it is.
fn counted_as(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => std::net::IpAddr::V4(v4),
            None => std::net::IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        },
        v4 @ std::net::IpAddr::V4(_) => v4,
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        let mut counts = self.counts.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&ip);
            }
        }
    }
}

/// How each accepted connection is bounded.
#[derive(Debug, Clone)]
pub struct Limits {
    pub write_timeout: Duration,
    pub idle_timeout: Duration,
    pub header_read_timeout: Duration,
    pub per_address: usize,
    /// Counts connections closed because the client stopped reading.
    pub stalled: Arc<AtomicU64>,
    /// Addresses whose connections are not counted (trusted proxies).
    pub exempt: Vec<crate::auth::config::Cidr>,
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and waits for
/// the connections to finish (streams end by themselves on shutdown). Each connection knows its
/// client's address (`ConnectInfo<SocketAddr>`).
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let counts = Arc::new(ConnectionCounts::default());
    let (closing, _) = tokio::sync::watch::channel(false);
    let closing = Arc::new(closing);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let exempt = limits.exempt.iter().any(|c| c.contains(addr.ip()));
        let Some(slot) = counts.take(addr.ip(), limits.per_address, exempt) else {
            tracing::info!(client = %addr.ip(), "too many connections from one address: refused");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = IdleTimeout::new(
            WriteTimeout::new(stream, limits.write_timeout, limits.stalled.clone()),
            limits.idle_timeout,
        );
        // The address goes into each request (a `layer` per connection would rebuild every
        // route's service for it: some 11 KB per connection, 55 MB for 5k streams).
        let service = hyper_util::service::TowerToHyperService::new(tower::ServiceExt::map_request(
            router.clone(),
            move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(axum::extract::ConnectInfo(addr));
                req
            },
        ));
        let mut closed = closing.subscribe();
        let header_read_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .serve_connection(hyper_util::rt::TokioIo::new(io), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(%err, "connection ended");
                    }
                    return;
                }
                _ = closed.changed() => conn.as_mut().graceful_shutdown(),
            }
            if let Err(err) = conn.await {
                tracing::debug!(%err, "connection ended");
            }
        });
    }
    drop(listener);
    closing.send_replace(true);
    // Every connection task holds a receiver until it ends.
    while closing.receiver_count() > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// An I/O stream that fails once neither a read nor a write has made progress for `limit`.
///
/// Progress only notes the time; the timer is moved when it fires early (so thousands of
/// streams writing many events a second do not reset a timer on every write).
#[derive(Debug)]
pub struct IdleTimeout<T> {
    io: T,
    limit: Duration,
    timer: Pin<Box<Sleep>>,
    /// The last read or write that made progress.
    last: tokio::time::Instant,
}

impl<T> IdleTimeout<T> {
    pub fn new(io: T, limit: Duration) -> IdleTimeout<T> {
        IdleTimeout { io, limit, timer: Box::pin(tokio::time::sleep(limit)), last: tokio::time::Instant::now() }
    }

    fn touch(&mut self) {
        self.last = tokio::time::Instant::now();
    }

    fn idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            ready!(self.timer.as_mut().poll(cx));
            let deadline = self.last + self.limit;
            if deadline <= tokio::time::Instant::now() {
                return Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "the connection was idle for too long"));
            }
            // There was progress since the timer was set: wait for the rest of the limit.
            self.timer.as_mut().reset(deadline);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Pending => self.idle(cx).map(Err),
            done @ Poll::Ready(_) => {
                self.touch();
                done
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        if poll.is_ready() {
            self.touch();
        }
        poll
    }

    // Vectored writes pass through: hyper then queues body chunks as they are instead of
    // copying them into one buffer per connection (which kept a 2 MB snapshot's worth of
    // buffer for the life of every stream connection that had fetched the snapshot first).
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if poll.is_ready() {
            self.touch();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// An I/O stream whose writes fail with `TimedOut` after `limit` without progress.
#[derive(Debug)]
pub struct WriteTimeout<T> {
    io: T,
    limit: Duration,
    /// Running while a write or flush is pending.
    waiting: Option<Pin<Box<Sleep>>>,
    stalled: Arc<AtomicU64>,
}

impl<T> WriteTimeout<T> {
    pub fn new(io: T, limit: Duration, stalled: Arc<AtomicU64>) -> WriteTimeout<T> {
        WriteTimeout { io, limit, waiting: None, stalled }
    }

    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// Called when the inner write is pending: an error once the timer has run out.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let limit = self.limit;
        let timer = self.waiting.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(timer.as_mut().poll(cx));
        self.waiting = None;
        self.stalled.fetch_add(1, Ordering::Relaxed);
        tracing::info!(seconds = limit.as_secs_f64(), "client accepted nothing for too long: disconnected");
        Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading"))
    }

    fn progress<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match poll {
            Poll::Pending => self.check(cx).map(Err),
            done @ Poll::Ready(_) => {
                self.waiting = None;
                done
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteTimeout<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        self.progress(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.progress(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_flush(cx);
        self.progress(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[test]
    fn the_open_files_limit_is_raised_to_the_hard_limit() {
        let now = raise_open_files_limit();
        #[cfg(unix)]
        if let Some(max) = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum {
            assert_eq!(now, Some(max));
        }
        let _ = now;
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_stops_reading_fails_the_write_after_the_limit() {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let stalled = Arc::new(AtomicU64::new(0));
        let mut io = WriteTimeout::new(ours, Duration::from_secs(30), stalled.clone());
        // While the peer reads, writes go on however long they take in total.
        io.write_all(&[1; 1024]).await.unwrap();
        let mut buf = vec![0; 1024];
        theirs.read_exact(&mut buf).await.unwrap();
        io.write_all(&[2; 1024]).await.unwrap();
        // Now the peer reads nothing: the pipe is full and the next write waits, then fails.
        let err = io.write_all(&[3; 10]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(stalled.load(Ordering::Relaxed), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_moves_nothing_is_closed_and_traffic_keeps_it() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut io = IdleTimeout::new(ours, Duration::from_secs(60));
        // Traffic in either direction keeps it open, however long in total.
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_secs(40)).await;
            io.write_all(b"x").await.unwrap();
            let mut one = [0; 1];
            theirs.read_exact(&mut one).await.unwrap();
        }
        // Then nothing for longer than the limit: the read fails.
        let mut buf = [0; 1];
        let err = io.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn the_wrapped_socket_keeps_vectored_writes() {
        // hyper copies every body chunk into a per-connection buffer unless the I/O says it
        // writes vectored.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let stalled = Arc::new(AtomicU64::new(0));
        let io = IdleTimeout::new(WriteTimeout::new(client, Duration::from_secs(30), stalled), IDLE_TIMEOUT);
        assert!(io.is_write_vectored());
    }

    #[test]
    fn one_address_holds_a_bounded_number_of_connections() {
        let counts = Arc::new(ConnectionCounts::default());
        let ip: std::net::IpAddr = "203.0.113.5".parse().unwrap();
        let slots: Vec<_> = (0..3).map(|_| counts.take(ip, 3, false).unwrap()).collect();
        assert!(counts.take(ip, 3, false).is_none());
        assert!(counts.take("203.0.113.6".parse().unwrap(), 3, false).is_some());
        assert!(counts.take(ip, 3, true).is_some(), "a trusted proxy is not counted");
        drop(slots);
        let again = counts.take(ip, 3, false);
        assert!(again.is_some());
        assert_eq!(counts.0.lock().unwrap().get(&ip), Some(&1));
        drop(again);
        assert!(counts.0.lock().unwrap().is_empty(), "released addresses are forgotten");
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_64() {
        // A host usually holds a whole /64 (the login limits count it so too): one count per
        // address would let it open connections until the process runs out of files.
        let counts = Arc::new(ConnectionCounts::default());
        let ip = |text: &str| -> std::net::IpAddr { text.parse().unwrap() };
        let _slots: Vec<_> =
            (1..=3).map(|i| counts.take(ip(&format!("2001:db8:1:2::{i}")), 3, false).unwrap()).collect();
        assert!(counts.take(ip("2001:db8:1:2:ffff::9"), 3, false).is_none(), "the same /64");
        assert!(counts.take(ip("2001:db8:1:3::1"), 3, false).is_some(), "another /64");
        // IPv4 clients of a dual-stack listener (::ffff:a.b.c.d) are each their own address.
        let _v4: Vec<_> = (1..=3).map(|i| counts.take(ip(&format!("::ffff:198.51.100.{i}")), 3, false)).collect();
        assert!(counts.take(ip("::ffff:198.51.100.9"), 3, false).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_but_reading_peer_is_not_cut_off() {
        let (ours, mut theirs) = tokio::io::duplex(16);
        let stalled = Arc::new(AtomicU64::new(0));
        let mut io = WriteTimeout::new(ours, Duration::from_secs(30), stalled.clone());
        let reader = tokio::spawn(async move {
            let mut total = 0;
            let mut buf = [0; 16];
            while total < 160 {
                // 20 s between reads: each under the limit, together far over it.
                tokio::time::sleep(Duration::from_secs(20)).await;
                total += theirs.read(&mut buf).await.unwrap();
            }
        });
        io.write_all(&[7; 160]).await.unwrap();
        reader.await.unwrap();
        assert_eq!(stalled.load(Ordering::Relaxed), 0);
    }
}
