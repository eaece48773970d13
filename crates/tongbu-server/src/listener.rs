//! The HTTP listener: accepts connections for the axum app with the limits a public server
//! needs. Each request's headers must arrive within a deadline (an idle keep-alive connection,
//! or one that trickles its headers, is closed); open connections are capped in all and per
//! source address, and a connection over a cap gets a 503 at once instead of a place in the
//! file table; the open-files limit is raised to its hard limit at start, so that a crowd meets
//! these caps rather than the process's limit. A connection keeps its place until its socket
//! closes, WebSocket included (the count travels with the upgraded stream).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tracing::{debug, warn};

/// How long a request's headers may take to arrive, counted from when the connection is ready
/// for one: the time an idle keep-alive connection is kept, too.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(15);

/// The listener's caps.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections in all.
    pub total: usize,
    /// Open connections from one source address; loopback is exempt (a reverse proxy on the
    /// same machine carries everyone's connections).
    pub per_source: usize,
    pub header_timeout: Duration,
}

/// Raises the soft open-files limit to the hard one (systemd's `LimitNOFILE`, a container's
/// `ulimit -n`); returns the soft limit in force.
pub fn raise_open_files_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid resource and a pointer to an rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}

/// The total cap when none is configured: three quarters of the open files (the rest is for
/// the media port's TCP connections, SQLite, courseware files and the like).
pub fn default_total(open_files: u64) -> usize {
    usize::try_from(open_files / 4 * 3)
        .unwrap_or(usize::MAX)
        .max(64)
}

/// Connections open now, in all and per source.
struct Caps {
    limits: Limits,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

impl Caps {
    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, HashMap<IpAddr, usize>)> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for a connection from `ip`, or None if a cap is reached.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admission> {
        let mut open = self.lock();
        if open.0 >= self.limits.total {
            return None;
        }
        let source = (!ip.is_loopback()).then_some(ip);
        if let Some(ip) = source {
            let n = open.1.entry(ip).or_default();
            if *n >= self.limits.per_source {
                return None;
            }
            *n += 1;
        }
        open.0 += 1;
        Some(Admission {
            caps: self.clone(),
            source,
        })
    }
}

/// A connection's place; given back when the connection's socket closes.
struct Admission {
    caps: Arc<Caps>,
    source: Option<IpAddr>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut open = self.caps.lock();
        open.0 -= 1;
        if let Some(ip) = self.source {
            if let Some(n) = open.1.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    open.1.remove(&ip);
                }
            }
        }
    }
}

/// A TCP stream that holds its connection's place.
struct Counted {
    stream: TcpStream,
    _admission: Admission,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// What a connection over a cap is told (best effort: one non-blocking write, then closed).
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain\r\nContent-Length: 49\r\nConnection: close\r\n\r\ntoo many connections; try again in a few seconds\n";

/// Serves one connection (plain or TLS) until it closes, is upgraded, or the server stops.
async fn connection<I>(
    io: I,
    peer: std::net::SocketAddr,
    app: Router,
    limits: Limits,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        // The peer's address, for the back-off on wrong credentials.
        req.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(req)
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        _ = stopping.changed() => {
            // Finish the request under way, then close.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        debug!(%peer, "HTTP connection ended: {e}");
    }
}

/// Serves `app` on `listener` (HTTPS when `tls` is given) until `stop` resolves; then takes no new connections and lets
/// the requests under way finish (WebSocket connections live on in their own tasks, which the
/// server's stop tells to close).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    stop: impl Future<Output = ()>,
) -> io::Result<()> {
    let caps = Arc::new(Caps {
        limits,
        open: Mutex::default(),
    });
    let stopping = tokio::sync::watch::Sender::new(false);
    let (live, mut finished) = tokio::sync::mpsc::channel::<()>(1);
    let mut stop = std::pin::pin!(stop);
    let mut refused = 0u64;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // wait a moment rather than spin.
                    warn!("cannot accept an HTTP connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let Some(admission) = caps.admit(peer.ip()) else {
            refused += 1;
            if refused.is_power_of_two() {
                warn!(%peer, refused, "HTTP connection over the cap refused with 503");
            }
            let _ = stream.try_write(BUSY);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let stream = Counted {
            stream,
            _admission: admission,
        };
        let (app, tls, stopping, live) =
            (app.clone(), tls.clone(), stopping.subscribe(), live.clone());
        tokio::spawn(async move {
            match tls {
                None => connection(stream, peer, app, limits, stopping).await,
                Some(tls) => {
                    // The handshake, too, gets the header deadline.
                    match tokio::time::timeout(limits.header_timeout, tls.accept(stream)).await {
                        Ok(Ok(stream)) => connection(stream, peer, app, limits, stopping).await,
                        Ok(Err(e)) => debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => debug!(%peer, "TLS handshake took too long"),
                    }
                }
            }
            drop(live);
        });
    }
    drop(listener);
    stopping.send_replace(true);
    drop(live);
    // Every connection task holds a sender: the channel closes when the last has finished.
    let _ = finished.recv().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(total: usize, per_source: usize) -> Arc<Caps> {
        Arc::new(Caps {
            limits: Limits {
                total,
                per_source,
                header_timeout: HEADER_TIMEOUT,
            },
            open: Mutex::default(),
        })
    }

    #[test]
    fn one_source_cannot_take_every_place() {
        let c = caps(10, 3);
        let school: IpAddr = "203.0.113.7".parse().unwrap();
        let other: IpAddr = "198.51.100.9".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| c.admit(school).unwrap()).collect();
        assert!(c.admit(school).is_none(), "a fourth from one source");
        assert!(c.admit(other).is_some(), "another source still gets in");
        drop(held);
        assert!(
            c.admit(school).is_some(),
            "places come back when sockets close"
        );
        assert_eq!(
            c.lock().1.len(),
            0,
            "no count is left for a source that left"
        );
    }

    #[test]
    fn loopback_counts_only_toward_the_total() {
        let c = caps(5, 1);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..5).map(|_| c.admit(lo).unwrap()).collect();
        assert!(c.admit(lo).is_none(), "the total still holds");
        assert!(c.admit("203.0.113.7".parse().unwrap()).is_none());
        drop(held);
        assert_eq!(c.lock().0, 0);
    }

    #[test]
    fn the_open_files_limit_is_raised_to_the_hard_one() {
        let soft = raise_open_files_limit();
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as in `raise_open_files_limit`.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!(soft, lim.rlim_cur);
        assert_eq!(lim.rlim_cur, lim.rlim_max);
        assert!(default_total(soft) >= 64);
    }
}
