//! Waiting for a condition: poll it until it holds or a deadline passes. No test sleeps for a
//! fixed time and hopes; each waits on what it needs, and fails saying what it waited for.

use std::future::Future;
use std::time::Duration;

/// How long any awaited condition may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How often a condition is checked again.
const INTERVAL: Duration = Duration::from_millis(25);

/// A condition did not hold in time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timed out after {within:?} waiting for {what}")]
pub struct TimedOut {
    /// What was waited for.
    pub what: String,
    /// How long.
    pub within: Duration,
}

/// Checks `check` until it returns `Some` (its value is returned), every 25 ms, for at most
/// `within`.
pub async fn poll_until<T, F, Fut>(what: &str, within: Duration, check: F) -> Result<T, TimedOut>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    poll_every(what, within, INTERVAL, check).await
}

/// [`poll_until`] checking every `every` (a check that costs a round trip to a browser).
pub async fn poll_every<T, F, Fut>(what: &str, within: Duration, every: Duration, mut check: F) -> Result<T, TimedOut>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return Ok(found);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(TimedOut { what: what.to_owned(), within });
        }
        tokio::time::sleep(every).await;
    }
}

/// [`poll_until`] with [`DEADLINE`], failing the test (a panic naming `what`) when it passes.
pub async fn wait_for<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match poll_until(what, DEADLINE, check).await {
        Ok(found) => found,
        Err(timed_out) => panic!("{timed_out}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_condition_that_comes_true_is_returned() {
        let mut calls = 0;
        let found = poll_until("the third call", DEADLINE, || {
            calls += 1;
            let n = calls;
            async move { (n == 3).then_some(n) }
        })
        .await;
        assert_eq!(found, Ok(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_condition_that_never_holds_times_out_naming_what_was_awaited() {
        let started = tokio::time::Instant::now();
        let err = poll_until("nothing", Duration::from_secs(2), || async { None::<()> }).await.unwrap_err();
        assert_eq!(err.to_string(), "timed out after 2s waiting for nothing");
        assert!(started.elapsed() >= Duration::from_secs(2));
    }
}
