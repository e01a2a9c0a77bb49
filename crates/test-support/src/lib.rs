//! What fluxboard's tests share, written once: a free port ([`free_port`]), waiting for a
//! condition with a deadline ([`poll`]), a server-sent events parser and reader ([`sse`]), and
//! the app serving on port 0 against an emulated cluster, with same-origin requests and a login
//! ([`app`]).
//!
//! Used by the backend's API tests, the end-to-end tests and the bench; a dev-dependency only,
//! so nothing here reaches the `fluxboard` binary.

pub mod app;
pub mod poll;
pub mod sse;

pub use app::{Serving, TestApp, call, login};
pub use poll::{DEADLINE, TimedOut, poll_every, poll_until, wait_for};
pub use sse::{SseClient, SseEvent, SseParser};

/// A TCP port on 127.0.0.1 that was free a moment ago (for a child process that must be told
/// its port; a server in this process binds port 0 instead).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_can_be_bound() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is still free");
    }
}
