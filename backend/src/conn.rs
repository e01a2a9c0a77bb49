//! Client connections: a listener whose connections fail their writes once the client has
//! accepted nothing for a while.
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
use tokio::net::{TcpListener, TcpStream};
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

/// A TCP listener whose connections are [`WriteTimeout`]s.
#[derive(Debug)]
pub struct TimeoutListener {
    pub listener: TcpListener,
    pub limit: Duration,
    /// Counts connections closed because the client stopped reading.
    pub stalled: Arc<AtomicU64>,
}

impl axum::serve::Listener for TimeoutListener {
    type Io = WriteTimeout<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.listener).await;
        (WriteTimeout::new(io, self.limit, self.stalled.clone()), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
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
