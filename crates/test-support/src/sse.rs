//! Server-sent events as a browser's `EventSource` reads them: [`SseParser`] turns bytes into
//! events (pure, so it is tested here), [`SseClient`] reads them from a response with a deadline
//! on every wait.

use futures::StreamExt as _;
use serde_json::Value;

use crate::poll::DEADLINE;

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field (`message` when there is none).
    pub event: String,
    /// The `id:` field (empty when there is none).
    pub id: String,
    /// The `data:` lines, joined by newlines.
    pub data: String,
}

impl SseEvent {
    /// The data as JSON; a test fails when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }
}

/// Splits a byte stream into events. Frames end with a blank line; frames with neither an
/// `event:` nor a `data:` line (keep-alive comments, a lone `retry:`) are skipped.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: String,
}

impl SseParser {
    /// Adds what arrived.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buffer.push_str(&String::from_utf8_lossy(chunk));
    }

    /// The next whole event received, if any.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        while let Some(end) = self.buffer.find("\n\n") {
            let frame: String = self.buffer.drain(..end + 2).collect();
            if let Some(event) = parse_frame(&frame) {
                return Some(event);
            }
        }
        None
    }
}

/// One frame's event; None for a frame without `event:` or `data:`.
fn parse_frame(frame: &str) -> Option<SseEvent> {
    let mut event = SseEvent { event: "message".into(), id: String::new(), data: String::new() };
    let mut has_content = false;
    for line in frame.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            event.event = value.trim().to_owned();
            has_content = true;
        } else if let Some(value) = line.strip_prefix("id:") {
            event.id = value.trim().to_owned();
        } else if let Some(value) = line.strip_prefix("data:") {
            if !event.data.is_empty() {
                event.data.push('\n');
            }
            event.data.push_str(value.strip_prefix(' ').unwrap_or(value));
            has_content = true;
        }
    }
    has_content.then_some(event)
}

type Body = std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// Reads server-sent events from a response body.
pub struct SseClient {
    body: Body,
    parser: SseParser,
}

impl std::fmt::Debug for SseClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseClient").field("parser", &self.parser).finish_non_exhaustive()
    }
}

impl SseClient {
    /// Reads the events of a stream response, which must be a 200 event stream.
    pub fn of(res: reqwest::Response) -> SseClient {
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        SseClient { body: Box::pin(res.bytes_stream()), parser: SseParser::default() }
    }

    /// The next event, or None when the stream ended; a test fails after [`DEADLINE`].
    pub async fn next(&mut self) -> Option<SseEvent> {
        tokio::time::timeout(DEADLINE, self.next_event()).await.expect("timed out waiting for a stream event")
    }

    async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(event) = self.parser.next_event() {
                return Some(event);
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.parser.push(&chunk),
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Reads until the stream ends (true), or false after [`DEADLINE`].
    pub async fn until_end(&mut self) -> bool {
        tokio::time::timeout(DEADLINE, async { while self.next_event().await.is_some() {} }).await.is_ok()
    }

    /// Reads events until one satisfies `want`, returning it and everything read before it; a
    /// test fails when the stream ends first or after [`DEADLINE`].
    pub async fn until(&mut self, what: &str, want: impl Fn(&SseEvent) -> bool) -> (SseEvent, Vec<SseEvent>) {
        let mut before = Vec::new();
        let found = tokio::time::timeout(DEADLINE, async {
            loop {
                let Some(event) = self.next_event().await else { panic!("the stream ended while waiting for {what}") };
                if want(&event) {
                    return event;
                }
                before.push(event);
            }
        })
        .await;
        match found {
            Ok(event) => (event, before),
            Err(_) => panic!("timed out waiting for {what}; saw {before:#?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(parser: &mut SseParser) -> Vec<SseEvent> {
        std::iter::from_fn(|| parser.next_event()).collect()
    }

    #[test]
    fn frames_split_across_chunks_become_events_once_whole() {
        let mut parser = SseParser::default();
        parser.push(b"retry: 1000\n\nevent: upsert\nid: 7");
        assert!(parser.next_event().is_none(), "a lone retry is no event, and the upsert is not whole yet");
        parser.push(b"\ndata: {\"a\":1}\n\n: keep-alive\n\ndata: two\ndata:  lines\n\n");
        let got = events(&mut parser);
        assert_eq!(
            got,
            vec![
                SseEvent { event: "upsert".into(), id: "7".into(), data: "{\"a\":1}".into() },
                SseEvent { event: "message".into(), id: String::new(), data: "two\n lines".into() },
            ]
        );
        assert_eq!(got[0].json()["a"], 1);
    }

    #[test]
    fn a_frame_with_only_comments_or_an_id_is_skipped() {
        let mut parser = SseParser::default();
        parser.push(b": comment\n\nid: 3\n\nevent: resync\ndata:\n\n");
        assert_eq!(
            events(&mut parser),
            vec![SseEvent { event: "resync".into(), id: String::new(), data: String::new() }]
        );
    }
}
