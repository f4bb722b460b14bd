//! The byte level of a session: any stream (TCP, TLS over TCP, an in-memory duplex in tests),
//! its unparsed input and the bounded reply parser. Writes go out whole; reads return one
//! complete reply or say why there is none. No transcript and no SMTP logic here.

use std::fmt;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::reply::{Parsed, ReplyParser};
use crate::facts::StepOutcome;

/// Read size; also the most unparsed bytes held beyond the parser's own caps.
pub(crate) const READ_CHUNK: usize = 4096;

/// Anything a session can talk over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A stream with its unparsed input.
pub(crate) struct Wire {
    io: Box<dyn Io>,
    buf: Vec<u8>,
    parser: ReplyParser,
}

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wire")
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl Wire {
    pub(crate) fn new(io: Box<dyn Io>) -> Self {
        Self {
            io,
            buf: Vec::with_capacity(READ_CHUNK),
            parser: ReplyParser::default(),
        }
    }

    /// Bytes received and not yet parsed (after a `220` to STARTTLS this must be empty).
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// The stream, for the TLS handshake (only when nothing is buffered).
    pub(crate) fn into_io(self) -> Box<dyn Io> {
        self.io
    }

    /// Writes all of `bytes` and flushes, within `budget`.
    pub(crate) async fn write(
        &mut self,
        bytes: &[u8],
        budget: Duration,
    ) -> Result<(), StepOutcome> {
        let result = tokio::time::timeout(budget, async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        })
        .await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if is_closed(&e) => Err(StepOutcome::Closed),
            Ok(Err(e)) => Err(StepOutcome::Broken {
                detail: format!("write failed: {e}"),
            }),
            Err(_) => Err(StepOutcome::TimedOut),
        }
    }

    /// Reads until one complete reply is parsed, the stream ends, breaks the protocol, or
    /// `until` passes. Bytes of later (pipelined) replies stay buffered.
    pub(crate) async fn read_reply(&mut self, until: Instant) -> StepOutcome {
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            match self.parser.feed(&mut self.buf) {
                Parsed::Reply(reply) => return StepOutcome::Replied { reply },
                Parsed::Broken(detail) => return StepOutcome::Broken { detail },
                Parsed::Incomplete => {}
            }
            match tokio::time::timeout_at(until, self.io.read(&mut chunk)).await {
                Ok(Ok(0)) => return StepOutcome::Closed,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) if is_closed(&e) => return StepOutcome::Closed,
                Ok(Err(e)) => {
                    return StepOutcome::Broken {
                        detail: format!("read failed: {e}"),
                    };
                }
                Err(_) => return StepOutcome::TimedOut,
            }
        }
    }

    /// Without waiting: whether the idle stream is still open and quiet. A server that closed
    /// it, or sent something unasked (a `421` idle timeout), makes it unusable.
    pub(crate) fn poll_quiet(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut byte = [0u8; 1];
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut read_buf = tokio::io::ReadBuf::new(&mut byte);
        matches!(
            std::pin::Pin::new(&mut self.io).poll_read(&mut cx, &mut read_buf),
            std::task::Poll::Pending
        )
    }

    /// Closes the write side, briefly.
    pub(crate) async fn shutdown(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.io.shutdown()).await;
    }
}

pub(crate) fn is_closed(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof
    )
}
