//! The limits each HTTP connection is served under: how long a client may take to send a
//! request's head, stay idle between requests, or leave a response unread; how many
//! connections are served at once; and how long a shutdown waits for them.
//!
//! hyper times the head from the moment it waits for one, which on a kept-alive connection is
//! right after the previous answer: its one timer would close idle connections as soon as slow
//! heads. Here the connection's timer ([`HeadTimer`]) and its socket ([`TimedIo`]) share when
//! the client last sent bytes, so that the wait is the idle limit until a first byte arrives,
//! and the head limit from that byte on.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How connections are served: each limit, with defaults for tills and dashboards on a store
/// network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a client may take to send a request's head (line and headers) once its first
    /// byte arrived; then the connection is closed. A till sends its head in one packet, so 10
    /// seconds is generous for any real client, and short enough that a client that sends half a
    /// head and stalls (by fault or on purpose) does not hold a connection slot for long.
    pub head_timeout: Duration,
    /// How long a connection may stay idle between requests before it is closed. A till sells
    /// every minute or so in a quiet hour: 75 seconds (beyond the 60 seconds many HTTP clients
    /// keep an idle connection) lets it reuse its connection rather than open one per sale,
    /// while abandoned connections are closed soon.
    pub keep_alive: Duration,
    /// How long writing a response may make no progress (the client reads nothing) before the
    /// connection is closed. It frees what the response holds: a streamed list holds a database
    /// connection while it is sent. 30 seconds, as long as the longest statement by default.
    pub write_timeout: Duration,
    /// How many connections are served at once. Beyond it, new connections wait in the
    /// listener's queue (the kernel's backlog) until one closes, rather than being refused: a
    /// till's sale is delayed, not lost. 1024 is far above a chain's tills and dashboards, and
    /// far below the file descriptors a process has.
    pub max_connections: usize,
    /// How long a shutdown waits for the connections in flight, after which those left are
    /// dropped and the server exits. 30 seconds, as long as the longest statement by default,
    /// lets every request in flight finish; an orchestrator's grace after SIGTERM (Docker's 10
    /// seconds, Kubernetes' 30) should be a little longer, so that it never kills the process
    /// first.
    pub shutdown_timeout: Duration,
    /// How long connections keep being served after the shutdown signal before they are asked to
    /// close, so that requests already sent are read and answered (see [`crate::serve`]).
    pub drain: Duration,
}

/// How long connections keep being served after the shutdown signal by default.
pub const DEFAULT_DRAIN: Duration = Duration::from_millis(500);

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            head_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(75),
            write_timeout: Duration::from_secs(30),
            max_connections: 1024,
            shutdown_timeout: Duration::from_secs(30),
            drain: DEFAULT_DRAIN,
        }
    }
}

/// When a connection's client last sent bytes: what its socket writes and its timer reads.
#[derive(Debug)]
pub(crate) struct LastRead(Mutex<Instant>);

impl LastRead {
    pub(crate) fn new() -> Arc<LastRead> {
        Arc::new(LastRead(Mutex::new(Instant::now())))
    }

    fn at(&self) -> Instant {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now(&self) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Instant::now();
    }
}

/// A connection's socket, noting when its client sends bytes and failing a write that makes no
/// progress for the write timeout (hyper then closes the connection and drops the response).
#[derive(Debug)]
pub(crate) struct TimedIo<T> {
    io: T,
    last_read: Arc<LastRead>,
    write_timeout: Duration,
    /// Running while a write waits for the client to read.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> TimedIo<T> {
    pub(crate) fn new(io: T, last_read: Arc<LastRead>, write_timeout: Duration) -> TimedIo<T> {
        TimedIo {
            io,
            last_read,
            write_timeout,
            stalled: None,
        }
    }

    /// `write`'s outcome, unless it has waited past the write timeout since its last progress.
    fn deadline<R>(
        &mut self,
        cx: &mut Context<'_>,
        write: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if write.is_ready() {
            self.stalled = None;
            return write;
        }
        let timeout = self.write_timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(stalled.as_mut().poll(cx));
        self.stalled = None;
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client read nothing of the response for the write timeout",
        )))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TimedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = ready!(Pin::new(&mut this.io).poll_read(cx, buf));
        if buf.filled().len() > before {
            this.last_read.now();
        }
        Poll::Ready(read)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let write = Pin::new(&mut this.io).poll_write(cx, buf);
        this.deadline(cx, write)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let write = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.deadline(cx, write)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let flush = Pin::new(&mut this.io).poll_flush(cx);
        this.deadline(cx, flush)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// hyper's timer for a connection's head: hyper arms it for the head limit when it starts
/// waiting for a request; it waits the idle limit instead until the client sends a byte.
#[derive(Clone, Debug)]
pub(crate) struct HeadTimer {
    pub(crate) last_read: Arc<LastRead>,
    pub(crate) head: Duration,
    pub(crate) idle: Duration,
}

impl Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        // hyper arms the timer for the head limit from now.
        let armed = deadline.checked_sub(self.head).unwrap_or(deadline);
        let idle_deadline = armed + self.idle;
        Box::pin(HeadSleep {
            last_read: Arc::clone(&self.last_read),
            armed,
            head: self.head,
            first_byte: None,
            deadline: idle_deadline,
            sleep: Box::pin(tokio::time::sleep_until(idle_deadline.into())),
        })
    }
}

/// The wait of a [`HeadTimer`]. hyper polls it after every read that leaves the head
/// incomplete, so it sees the first byte of a head as soon as it arrives.
struct HeadSleep {
    last_read: Arc<LastRead>,
    armed: Instant,
    head: Duration,
    first_byte: Option<Instant>,
    deadline: Instant,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Future for HeadSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.first_byte.is_none() {
            let last_read = this.last_read.at();
            if last_read > this.armed {
                this.first_byte = Some(last_read);
                this.deadline = last_read + this.head;
                this.sleep.as_mut().reset(this.deadline.into());
            }
        }
        this.sleep.as_mut().poll(cx)
    }
}

impl Sleep for HeadSleep {}
