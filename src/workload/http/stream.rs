//! Streamed responses timed event by event: where the events of a response body end, read in the
//! pieces hyper hands over.
//!
//! Input: the response head (which kind of stream it is) and then each data frame of its body, in
//! order. Output: how many events each frame completed, for the caller to timestamp; the caller
//! turns them into a [`Stream`] (time to first event, gaps between events). Two kinds:
//!
//! - `text/event-stream` (server-sent events, as the HTML standard parses them): lines end in
//!   CRLF, LF or CR, and a blank line dispatches an event if one of its lines was a `data` field
//!   (comments such as `: keep-alive` and blocks without data dispatch nothing);
//! - any other response sent with `Transfer-Encoding: chunked`: each non-empty data frame is an
//!   event (hyper hands a chunk over as it is read; chunks that arrived together may come as one);
//! - a gRPC call's response: each length-prefixed message is an event (a server-streaming call's
//!   messages timed as they come).
//!
//! It must not keep the body: it holds the first bytes of the current line and nothing else.

use std::time::Instant;

use hyper::HeaderMap;
use hyper::header::{CONTENT_TYPE, TRANSFER_ENCODING};

use crate::workload::Stream;

/// Gaps kept per response; a longer stream's later events are counted but their gaps not timed,
/// so one endless stream cannot hold unbounded memory.
const MAX_GAPS: usize = 100_000;

/// How a response's body is cut into events, decided from its head.
#[derive(Debug)]
pub(super) enum Events {
    Sse(SseScanner),
    Frames,
    Grpc(GrpcScanner),
}

impl Events {
    /// `None` for a response that is not streamed (a length, or HTTP/2 without event-stream).
    pub(super) fn of(headers: &HeaderMap) -> Option<Events> {
        let has = |name, word: &str| {
            headers.get_all(name).iter().any(|v| {
                v.to_str().is_ok_and(|v| {
                    v.split([',', ';'])
                        .any(|p| p.trim().eq_ignore_ascii_case(word))
                })
            })
        };
        if has(CONTENT_TYPE, "text/event-stream") {
            Some(Events::Sse(SseScanner::default()))
        } else if has(TRANSFER_ENCODING, "chunked") {
            Some(Events::Frames)
        } else {
            None
        }
    }

    /// The events `data` (the body's next frame) completed.
    pub(super) fn feed(&mut self, data: &[u8]) -> u64 {
        match self {
            Events::Sse(s) => s.feed(data),
            Events::Frames => u64::from(!data.is_empty()),
            Events::Grpc(g) => g.feed(data),
        }
    }
}

/// Finds the ends of gRPC messages (a flag byte, a 4-byte big-endian length, the message) across
/// frame boundaries.
#[derive(Debug, Default)]
pub(super) struct GrpcScanner {
    /// Bytes of the current message's 5-byte prefix read so far.
    prefix: [u8; 5],
    have: usize,
    /// Bytes of the current message's body still to come, once its prefix is read.
    left: u64,
}

impl GrpcScanner {
    pub(super) fn feed(&mut self, mut bytes: &[u8]) -> u64 {
        let mut messages = 0;
        while !bytes.is_empty() {
            if self.have < 5 {
                let n = (5 - self.have).min(bytes.len());
                self.prefix[self.have..self.have + n].copy_from_slice(&bytes[..n]);
                self.have += n;
                bytes = &bytes[n..];
                if self.have < 5 {
                    break;
                }
                let [_, a, b, c, d] = self.prefix;
                self.left = u64::from(u32::from_be_bytes([a, b, c, d]));
            }
            let n = self.left.min(bytes.len() as u64);
            self.left -= n;
            // `n` is at most `bytes.len()`.
            bytes = &bytes[usize::try_from(n).unwrap_or(bytes.len())..];
            if self.left == 0 {
                messages += 1;
                self.have = 0;
            }
        }
        messages
    }
}

/// Finds the ends of server-sent events, one byte at a time, across frame boundaries.
#[derive(Debug, Default)]
pub(super) struct SseScanner {
    /// The first bytes of the current line: enough to tell a `data` field.
    head: [u8; 5],
    /// Bytes of the current line so far.
    len: usize,
    /// The event being read has a `data` field.
    data: bool,
    /// The last byte was a CR: an LF right after it ends no second line.
    after_cr: bool,
}

impl SseScanner {
    pub(super) fn feed(&mut self, bytes: &[u8]) -> u64 {
        let mut events = 0;
        for &b in bytes {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\r' | b'\n' => {
                    self.after_cr = b == b'\r';
                    events += u64::from(self.end_line());
                }
                _ => {
                    self.after_cr = false;
                    if self.len < self.head.len() {
                        self.head[self.len] = b;
                    }
                    self.len = self.len.saturating_add(1);
                }
            }
        }
        events
    }

    /// Ends the current line; true when it was the blank line that dispatches an event.
    fn end_line(&mut self) -> bool {
        let line = &self.head[..self.len.min(self.head.len())];
        let blank = self.len == 0;
        if blank {
            let event = self.data;
            self.data = false;
            return event;
        }
        if line == b"data" || line == b"data:" {
            self.data = true;
        }
        self.len = 0;
        false
    }
}

/// A response's events as they arrive: the instant each frame completed some.
#[derive(Debug)]
pub(super) struct Timing {
    start: Instant,
    last: Option<Instant>,
    stream: Stream,
}

impl Timing {
    pub(super) fn new(start: Instant) -> Timing {
        Timing {
            start,
            last: None,
            stream: Stream::default(),
        }
    }

    /// `events` were completed at `now`: the first of a response counts from its start, each one
    /// after from the one before (events that came in one frame are 0 apart).
    pub(super) fn events(&mut self, events: u64, now: Instant) {
        for _ in 0..events {
            match self.last {
                None => self.stream.first_event = Some(now - self.start),
                Some(last) if self.stream.gaps.len() < MAX_GAPS => {
                    self.stream.gaps.push(now.saturating_duration_since(last))
                }
                Some(_) => {}
            }
            self.last = Some(now);
            self.stream.events += 1;
        }
    }

    pub(super) fn finish(self) -> Stream {
        self.stream
    }

    #[cfg(test)]
    fn gaps(&self) -> &[std::time::Duration] {
        &self.stream.gaps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn server_sent_events_end_at_a_blank_line_after_data() {
        let table: &[(&[&str], &[u64])] = &[
            (&["data: 1\n\n"], &[1]),
            (&["data: 1\n\ndata: 2\n\n"], &[2]),
            (&["data: 1\r\n\r\n"], &[1]),
            (&["data: 1\r\r"], &[1]),
            (&["data\n\n"], &[1]),
            // Split anywhere, even between CR and LF.
            (&["da", "ta: 1\r", "\n", "\r\n"], &[0, 0, 0, 1]),
            (&["data: 1\n", "\n"], &[0, 1]),
            // Comments, other fields alone, and extra blank lines dispatch nothing.
            (&[": keep-alive\n\n"], &[0]),
            (&["event: x\nid: 3\n\n"], &[0]),
            (&["\n\n\n"], &[0]),
            (&["datum: 1\n\n"], &[0]),
            (&["data2: 1\n\n"], &[0]),
            (&["event: x\ndata: {\"a\":1}\nretry: 5\n\n"], &[1]),
            // An event not yet ended is not counted.
            (&["data: 1\n"], &[0]),
        ];
        for &(frames, want) in table {
            let mut s = SseScanner::default();
            let got: Vec<u64> = frames.iter().map(|f| s.feed(f.as_bytes())).collect();
            assert_eq!(got, want, "{frames:?}");
        }
    }

    #[test]
    fn the_kind_of_stream_comes_from_the_head() {
        type Pairs = &'static [(&'static str, &'static str)];
        let table: &[(Pairs, Option<&str>)] = &[
            (&[("content-type", "text/event-stream")], Some("sse")),
            (
                &[("content-type", "text/event-stream; charset=utf-8")],
                Some("sse"),
            ),
            (
                &[
                    ("content-type", "Text/Event-Stream"),
                    ("transfer-encoding", "chunked"),
                ],
                Some("sse"),
            ),
            (&[("transfer-encoding", "gzip, chunked")], Some("frames")),
            (&[("content-type", "application/json")], None),
            (&[("content-length", "5")], None),
            (&[], None),
        ];
        for &(headers, want) in table {
            let mut map = HeaderMap::new();
            for &(k, v) in headers {
                map.append(
                    hyper::header::HeaderName::from_static(k),
                    hyper::header::HeaderValue::from_static(v),
                );
            }
            let got = Events::of(&map).map(|e| match e {
                Events::Sse(_) => "sse",
                Events::Frames => "frames",
                Events::Grpc(_) => "grpc",
            });
            assert_eq!(got, want, "{headers:?}");
        }
    }

    #[test]
    fn grpc_messages_end_where_their_length_says() {
        let table: &[(&[&[u8]], &[u64])] = &[
            (&[&[0, 0, 0, 0, 2, 8, 1]], &[1]),
            (&[&[0, 0, 0, 0, 0]], &[1]),
            (&[&[0, 0, 0, 0, 1, 9, 0, 0, 0, 0, 0, 0, 0]], &[2]),
            (&[&[0, 0, 0], &[0, 2, 8], &[1]], &[0, 0, 1]),
            (&[&[0, 0, 0, 0, 3, 1, 2]], &[0]),
        ];
        for &(frames, want) in table {
            let mut g = GrpcScanner::default();
            let got: Vec<u64> = frames.iter().map(|f| g.feed(f)).collect();
            assert_eq!(got, want, "{frames:?}");
        }
    }

    #[test]
    fn frames_of_a_chunked_body_are_events() {
        let mut e = Events::Frames;
        assert_eq!(
            [e.feed(b"abc"), e.feed(b""), e.feed(b"d")],
            [1, 0, 1],
            "an empty frame is no event"
        );
    }

    #[test]
    fn first_event_from_the_start_then_gaps_between_events() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let mut t = Timing::new(start);
        t.events(0, start + ms(100));
        t.events(1, start + ms(300));
        t.events(2, start + ms(350));
        t.events(1, start + ms(420));
        assert_eq!(t.gaps(), [ms(50), ms(0), ms(70)]);
        let s = t.finish();
        assert_eq!(s.first_event, Some(ms(300)));
        assert_eq!(s.events, 4);
    }

    #[test]
    fn a_stream_without_events_has_no_first_event() {
        let s = Timing::new(Instant::now()).finish();
        assert_eq!((s.first_event, s.events, s.gaps.len()), (None, 0, 0));
    }
}
