//! The web app in headless Chromium: how soon the list of every object shows after navigation,
//! how soon a search shows its result, and, while changes arrive, how long the main thread is
//! blocked (PerformanceObserver `longtask` entries: tasks over 50 ms) and whether every change
//! reached the page, and how busy the main thread was (DevTools' TaskDuration: every task, not
//! only the long ones); then the same for the screens that walk the whole fleet (the wall, the
//! graph, the release matrix), under changes that each apply a new revision too.
//!
//! The page is read as a person reads it: the result count (`N of M`), the rows, the search box.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use fantoccini::Client;
use serde_json::{Value, json};

use crate::changes::Changes;
use crate::run::{Results, round, say};

/// How long a script in the page may wait for what it waits on.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// Opens the list of every object and returns its browser (ready for the next measurement).
async fn open_list(url: &str, objects: usize) -> anyhow::Result<(fluxboard_e2e::Browser, f64)> {
    let browser = fluxboard_e2e::Browser::start().await?;
    let c = &browser.client;
    c.update_timeouts(fantoccini::wd::TimeoutConfiguration::new(Some(SCRIPT_TIMEOUT), None, None)).await?;
    c.goto(&format!("{url}/resources")).await?;
    let shown = list_shown(c, objects).await?;
    Ok((browser, shown))
}

/// Milliseconds from the start of navigation until the count says at least `objects` are
/// listed and rows show.
async fn list_shown(c: &Client, objects: usize) -> anyhow::Result<f64> {
    c.execute_async(
        r#"const [want, done] = arguments;
           function check() {
             const count = document.querySelector('[data-testid=result-count]');
             const m = count && count.textContent.match(/^(\d+) of (\d+)$/);
             if (m && +m[1] >= want && document.querySelector('[data-testid=row]')) { done(performance.now()); return; }
             requestAnimationFrame(check);
           }
           check();"#,
        vec![json!(objects)],
    )
    .await?
    .as_f64()
    .context("no time from the page")
}

/// Types `query` into the search box; milliseconds until the result count shows another
/// number of rows than before.
async fn search(c: &Client, query: &str) -> anyhow::Result<f64> {
    c.execute_async(
        r#"const [query, done] = arguments;
           const count = document.querySelector('[data-testid=result-count]');
           const shown = () => count.textContent.split(' ')[0];
           const before = shown();
           const input = document.querySelector('#search');
           const t0 = performance.now();
           input.value = query;
           input.dispatchEvent(new Event('input', { bubbles: true }));
           function check() {
             if (shown() !== before) { done(performance.now() - t0); return; }
             requestAnimationFrame(check);
           }
           check();"#,
        vec![json!(query)],
    )
    .await?
    .as_f64()
    .context("no time from the page")
}

/// The 10k measurement: the list shown after navigation, then the first search.
pub(crate) async fn quiet(url: &str, objects: usize, results: &mut Results) -> anyhow::Result<()> {
    say("opening the list of every object in Chromium");
    let (browser, shown) = open_list(url, objects).await?;
    let search = search(&browser.client, "app-3").await?;
    results.insert("rows_10k_shown_ms".into(), json!(round(shown)));
    results.insert("rows_10k_first_search_ms".into(), json!(round(search)));
    results.insert("rows_10k_interactive_ms".into(), json!(round(shown + search)));
    let _ = browser.client.clone().close().await;
    Ok(())
}

/// The large fleet's measurement: the list shown after navigation; then `count` changes at
/// `rate` per second, with long tasks recorded meanwhile and a search typed once a third of
/// them were sent; then a search for the stage's markers, which must find every changed object.
pub(crate) async fn under_changes(
    url: &str,
    objects: usize,
    changes: &mut Changes,
    (count, rate): (usize, f64),
    results: &mut Results,
) -> anyhow::Result<()> {
    say(&format!("opening the list of {objects} objects in Chromium"));
    let (browser, shown) = open_list(url, objects).await?;
    let c = &browser.client;
    results.insert("browser_list_shown_ms_50k".into(), json!(round(shown)));
    observe_long_tasks(c).await?;
    let busy_from = main_thread_seconds(c).await?;
    say(&format!("{count} changes at {rate} per second while Chromium shows the list"));
    let sent = Arc::new(AtomicUsize::new(0));
    let typed = async {
        wait_for_count(&sent, count / 3).await?;
        search(c, "app-3").await
    };
    let (achieved, search_ms) = tokio::join!(changes.stage_counted("browser", count, rate, &sent), typed);
    let (achieved, search_ms) = (achieved?, search_ms?);
    let busy = busy_ms_per_s(busy_from, main_thread_seconds(c).await?);
    let (ms_per_s, tasks) = long_tasks(&observed_long_tasks(c).await?)?;
    results.insert("browser_busy_ms_per_s_50k".into(), json!(round(busy)));
    results.insert("browser_changes_per_s_50k".into(), json!(round(achieved)));
    results.insert("browser_search_ms_50k".into(), json!(round(search_ms)));
    results.insert("browser_longtask_ms_per_s_50k".into(), json!(round(ms_per_s)));
    results.insert("browser_longtasks_50k".into(), json!(tasks));
    // Every change of the stage, and the end markers, are in the messages the page holds.
    let expected = count + changes.clusters();
    let found = marked_rows(c, "bench:browser-", expected).await?;
    results.insert("missing_browser_50k".into(), json!(expected.saturating_sub(found)));
    say(&format!(
        "Chromium: list shown after {shown:.0} ms, search {search_ms:.0} ms, long tasks {ms_per_s:.0} ms/s, main thread busy {busy:.0} ms/s, {found} of {expected} changes shown"
    ));
    // Each of these changes also applies a new revision: the wall's tiles and the matrix redraw
    // only for such changes (and for health changes), never for a new message alone.
    changes.new_revisions = true;
    for &(name, path, ready) in SCREENS {
        screen(c, url, (name, path, ready, objects), changes, (count / 2, rate), results).await?;
    }
    changes.new_revisions = false;
    let _ = browser.client.clone().close().await;
    Ok(())
}

/// A screen of the large fleet under changes: `path` opened, milliseconds until the page's
/// `ready` (a script's expression, given `want`) holds, then long tasks and main-thread busy time
/// while `count` changes arrive at `rate` per second. Keys `browser_<name>_*_50k`.
async fn screen(
    c: &Client,
    url: &str,
    (name, path, ready, want): (&str, &str, &str, usize),
    changes: &mut Changes,
    (count, rate): (usize, f64),
    results: &mut Results,
) -> anyhow::Result<()> {
    c.goto(&format!("{url}{path}")).await?;
    let script = format!(
        r#"const [want, done] = arguments;
           function check() {{
             if ({ready}) {{ done(performance.now()); return; }}
             requestAnimationFrame(check);
           }}
           check();"#
    );
    let shown = c.execute_async(&script, vec![json!(want)]).await?.as_f64().context("no time from the page")?;
    observe_long_tasks(c).await?;
    let busy_from = main_thread_seconds(c).await?;
    say(&format!("{count} changes at {rate} per second while Chromium shows {path}"));
    changes.stage(name, count, rate).await?;
    let busy = busy_ms_per_s(busy_from, main_thread_seconds(c).await?);
    let (ms_per_s, tasks) = long_tasks(&observed_long_tasks(c).await?)?;
    results.insert(format!("browser_{name}_shown_ms_50k"), json!(round(shown)));
    results.insert(format!("browser_{name}_busy_ms_per_s_50k"), json!(round(busy)));
    results.insert(format!("browser_{name}_longtask_ms_per_s_50k"), json!(round(ms_per_s)));
    results.insert(format!("browser_{name}_longtasks_50k"), json!(tasks));
    say(&format!(
        "Chromium: {path} shown after {shown:.0} ms, long tasks {ms_per_s:.0} ms/s, main thread busy {busy:.0} ms/s"
    ));
    Ok(())
}

/// The screens that walk the whole fleet, after the list: the wall (the stakeholders' screen;
/// shown once its tiles count every object), the fleet graph (shown once it draws or asks to
/// narrow what it draws) and the release matrix (shown with its first rows).
const SCREENS: &[(&str, &str, &str)] = &[
    (
        "wall",
        "/wall",
        "[...document.querySelectorAll('[data-testid=wall-tile] .wall-total')]\
           .map(t => parseInt(t.textContent, 10) || 0).reduce((a, b) => a + b, 0) >= want",
    ),
    ("graph", "/graph", "document.querySelector('[data-testid=graph-too-many], [data-testid=graph-node]')"),
    ("matrix", "/matrix", "document.querySelector('[data-testid=matrix-row]')"),
];

/// A Chromium DevTools command sent through ChromeDriver (`goog/cdp/execute`).
#[derive(Debug)]
struct Cdp(&'static str);

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "cmd": self.0, "params": {} }).to_string()))
    }
}

/// Seconds the page's main thread has spent in tasks so far (DevTools `TaskDuration`), and the
/// page's clock (`Timestamp`, seconds).
async fn main_thread_seconds(c: &Client) -> anyhow::Result<(f64, f64)> {
    c.issue_cmd(Cdp("Performance.enable")).await?;
    let metrics = c.issue_cmd(Cdp("Performance.getMetrics")).await?;
    let metric = |name: &str| {
        metrics["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["name"] == name)
            .and_then(|m| m["value"].as_f64())
    };
    let task = metric("TaskDuration").context("no TaskDuration from Chromium")?;
    let clock = metric("Timestamp").context("no Timestamp from Chromium")?;
    Ok((task, clock))
}

/// Milliseconds per second the main thread was busy between two [`main_thread_seconds`].
fn busy_ms_per_s((task0, clock0): (f64, f64), (task1, clock1): (f64, f64)) -> f64 {
    (task1 - task0) * 1000.0 / (clock1 - clock0).max(1e-9)
}

/// Starts recording the page's long tasks (PerformanceObserver `longtask`: tasks over 50 ms).
async fn observe_long_tasks(c: &Client) -> anyhow::Result<()> {
    c.execute(
        r"window.benchLongTasks = [];
          window.benchObserver = new PerformanceObserver(list => {
            for (const e of list.getEntries()) window.benchLongTasks.push(e.duration);
          });
          window.benchObserver.observe({ type: 'longtask' });
          window.benchStart = performance.now();",
        vec![],
    )
    .await?;
    Ok(())
}

/// Stops recording long tasks; the page's `[window ms, [durations]]` since [`observe_long_tasks`].
async fn observed_long_tasks(c: &Client) -> anyhow::Result<Value> {
    let window = c
        .execute(
            r"window.benchObserver.disconnect();
              return [performance.now() - window.benchStart, window.benchLongTasks];",
            vec![],
        )
        .await?;
    Ok(window)
}

/// Waits until `sent` reaches `want` (checked every 20 ms, for at most ten minutes).
async fn wait_for_count(sent: &AtomicUsize, want: usize) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    while sent.load(Ordering::SeqCst) < want {
        if tokio::time::Instant::now() > deadline {
            bail!("the changes did not start");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Milliseconds of long tasks per second of the window, and how many there were, from the
/// page's `[window ms, [durations]]`.
fn long_tasks(window: &Value) -> anyhow::Result<(f64, usize)> {
    let span = window[0].as_f64().context("no window from the page")?;
    let durations: Vec<f64> =
        window[1].as_array().context("no long tasks from the page")?.iter().filter_map(Value::as_f64).collect();
    // (An empty f64 sum is -0.0.)
    let blocked = durations.iter().fold(0.0, |sum, d| sum + d);
    Ok((blocked / (span / 1000.0).max(1e-9), durations.len()))
}

/// Clears the search (until every object shows), searches for `marker`, and waits (up to a
/// minute) until `expected` rows match; returns how many matched at the end.
async fn marked_rows(c: &Client, marker: &str, expected: usize) -> anyhow::Result<usize> {
    let found = c
        .execute_async(
            r#"const [marker, expected, done] = arguments;
               const count = document.querySelector('[data-testid=result-count]');
               const numbers = () => count.textContent.split(' of ').map(n => +n);
               const input = document.querySelector('#search');
               const type = text => {
                 input.value = text;
                 input.dispatchEvent(new Event('input', { bubbles: true }));
               };
               const t0 = performance.now();
               const late = () => performance.now() - t0 > 60000;
               type('');
               function cleared() {
                 const [shown, total] = numbers();
                 if (shown === total || late()) { type(marker); requestAnimationFrame(searched); return; }
                 requestAnimationFrame(cleared);
               }
               function searched() {
                 const [shown, total] = numbers();
                 if ((shown < total && shown >= expected) || late()) { done(shown); return; }
                 requestAnimationFrame(searched);
               }
               cleared();"#,
            vec![json!(marker), json!(expected)],
        )
        .await?;
    found.as_u64().map(|n| n as usize).context("no count from the page")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_tasks_are_counted_per_second_of_the_window() {
        let (ms_per_s, n) = long_tasks(&json!([2000.0, [60.0, 140.0]])).unwrap();
        assert_eq!(n, 2);
        assert!((ms_per_s - 100.0).abs() < 1e-9);
        assert_eq!(long_tasks(&json!([1000.0, []])).unwrap(), (0.0, 0));
        assert!(long_tasks(&json!(null)).is_err());
    }
}
