//! The I/O around the workers: one pinned OS thread per worker, each with its own UDP socket on
//! the one media port (an `SO_REUSEPORT` group: the kernel spreads clients over the sockets by
//! address, and a datagram that reaches the wrong worker is handed to its owner), a `mio` poll
//! over that socket and a wake-up, and the rings to the other workers. Signaling's commands come
//! through a bounded channel per worker; TCP media through the same channel, from one tokio
//! task per connection. Each turn: commands, handoffs, a burst of datagrams, due timers, then
//! what the worker produced goes to the kernel in `sendmmsg` batches (each subscriber's packets
//! side by side for UDP GSO) and to the other workers' rings.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use socket2::{Domain, Protocol as SockProtocol, Socket, Type};
use str0m::net::Protocol;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use crate::batch_send::BatchSender;
use crate::edge::{Command, EdgeConfig, EdgeError, EdgeHandle, Inbox};
use crate::handoff::{mesh, Mesh};
use crate::tcp::{self, TcpEvent};
use crate::worker::Worker;

/// Datagrams read in one turn before the worker's output is sent.
const BURST: usize = 64;
/// Datagrams the outbox may hold before it is sent in the middle of a burst (about a frame's
/// copies for 400 subscribers): the first subscribers' copies of a frame do not wait for the
/// last ones' beyond that.
const FLUSH_AT: usize = 2048;
/// Kernel buffers of each media socket: a burst of a thousand subscribers' copies, and a
/// burst of arriving datagrams, must not be cut by the kernel's defaults.
const SOCKET_BUFFER: usize = 8 << 20;
const SOCKET: Token = Token(0);
const WAKE: Token = Token(1);

/// The running media plane: its worker threads. Dropping every [`EdgeHandle`] stops them.
#[derive(Debug)]
pub struct MediaPlane {
    pub threads: Vec<std::thread::JoinHandle<()>>,
    /// Each worker says here when its thread ends (returns or panics).
    ended: tokio::sync::mpsc::UnboundedReceiver<WorkerEnded>,
}

/// A media worker's thread ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerEnded {
    pub worker: usize,
    pub panicked: bool,
}

impl std::fmt::Display for WorkerEnded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = if self.panicked { "panicked" } else { "stopped" };
        write!(f, "media worker {} {how}", self.worker)
    }
}

impl MediaPlane {
    /// Waits until a worker's thread ends. While the server holds its [`EdgeHandle`] none
    /// should: the server stops (and is restarted whole) rather than go on with a worker whose
    /// participants hang.
    pub async fn ended(&mut self) -> WorkerEnded {
        match self.ended.recv().await {
            Some(e) => e,
            None => std::future::pending().await,
        }
    }
}

/// Tells the plane when its thread ends, however it ends (on unwinding too).
struct EndGuard {
    worker: usize,
    tell: tokio::sync::mpsc::UnboundedSender<WorkerEnded>,
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        let _ = self.tell.send(WorkerEnded {
            worker: self.worker,
            panicked: std::thread::panicking(),
        });
    }
}

fn bind_error(addr: SocketAddr) -> impl Fn(std::io::Error) -> EdgeError {
    move |source| EdgeError::Bind { addr, source }
}

/// One member of the port's `SO_REUSEPORT` group.
fn media_socket(addr: SocketAddr) -> Result<std::net::UdpSocket, EdgeError> {
    let err = bind_error(addr);
    let s = Socket::new(
        Domain::for_address(addr),
        Type::DGRAM,
        Some(SockProtocol::UDP),
    )
    .map_err(&err)?;
    s.set_reuse_port(true).map_err(&err)?;
    s.set_nonblocking(true).map_err(&err)?;
    size_buffers(&s);
    s.bind(&addr.into()).map_err(&err)?;
    Ok(s.into())
}

/// Gives a media socket [`SOCKET_BUFFER`] each way. The kernel caps the ordinary option at
/// net.core.[rw]mem_max (208 KiB on many distributions: a 10,000-datagram burst then loses
/// packets in the kernel); a server with CAP_NET_ADMIN (root, or the systemd unit's
/// capability) goes past the cap. Otherwise it says how to raise the cap. Returns the receive
/// buffer the kernel granted, in bytes as it counts them (twice what was asked).
fn size_buffers(s: &Socket) -> usize {
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    #[cfg(target_os = "linux")]
    for (option, got) in [
        (libc::SO_RCVBUFFORCE, s.recv_buffer_size()),
        (libc::SO_SNDBUFFORCE, s.send_buffer_size()),
    ] {
        // The kernel reports twice the size it was given (its bookkeeping overhead).
        if got.unwrap_or(0) < 2 * SOCKET_BUFFER {
            force_buffer(s, option);
        }
    }
    let granted = s.recv_buffer_size().unwrap_or(0);
    if granted < 2 * SOCKET_BUFFER {
        tracing::warn!(
            granted_kib = granted / 2048,
            wanted_kib = SOCKET_BUFFER / 1024,
            "the media socket's receive buffer is small: bursts may be lost in the kernel; \
             raise it with `sysctl -w net.core.rmem_max={0} net.core.wmem_max={0}` or give \
             the server CAP_NET_ADMIN",
            SOCKET_BUFFER
        );
    }
    granted
}

/// `setsockopt(SO_RCVBUFFORCE / SO_SNDBUFFORCE)`: past net.core.[rw]mem_max, with
/// CAP_NET_ADMIN; refused (and left as it was) without.
#[cfg(target_os = "linux")]
fn force_buffer(s: &Socket, option: libc::c_int) {
    use std::os::fd::AsRawFd;
    let size = SOCKET_BUFFER as libc::c_int;
    // SAFETY: a valid socket descriptor and a pointer to a c_int of the length given.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Binds the media port (`workers` sockets, 0 = one per core) and starts the workers; TCP on
/// the same port is accepted on the current tokio runtime.
pub async fn start(config: EdgeConfig) -> Result<(EdgeHandle, MediaPlane), EdgeError> {
    let k = if config.workers == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        config.workers
    }
    .min(crate::handoff::MAX_WORKERS);
    let first = media_socket(config.bind)?;
    let local = first.local_addr().map_err(bind_error(config.bind))?;
    let mut sockets = vec![first];
    for _ in 1..k {
        sockets.push(media_socket(local)?);
    }
    let candidate = SocketAddr::new(config.public_ip, local.port());
    let mut polls = Vec::with_capacity(k);
    let mut wakers = Vec::with_capacity(k);
    for _ in 0..k {
        let poll = Poll::new().map_err(bind_error(local))?;
        let waker = Waker::new(poll.registry(), WAKE).map_err(bind_error(local))?;
        polls.push(poll);
        wakers.push(Arc::new(waker));
    }
    // The same port over TCP, for schools whose firewall blocks UDP.
    let tcp_listener = tokio::net::TcpListener::bind(local).await;
    let tcp = tcp_listener.is_ok();
    let meshes = mesh(&wakers);
    let gso = config.gso;
    let mut inboxes = Vec::with_capacity(k);
    let mut threads = Vec::with_capacity(k);
    let (tell, ended) = tokio::sync::mpsc::unbounded_channel();
    for (i, ((socket, poll), mesh)) in sockets.into_iter().zip(polls).zip(meshes).enumerate() {
        let (tx, rx) = mpsc::channel(1024);
        inboxes.push(Inbox {
            commands: tx,
            waker: wakers[i].clone(),
        });
        let mut worker = Worker::new(candidate, Instant::now());
        worker.set_place(i, k);
        worker.set_tcp(tcp);
        let guard = EndGuard {
            worker: i,
            tell: tell.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("tongbu-media-{i}"))
            .spawn(move || {
                let _guard = guard;
                pin_to_cpu(i);
                run(worker, poll, socket, rx, mesh, gso);
            })
            .map_err(bind_error(local))?;
        threads.push(thread);
    }
    let inboxes: Arc<[Inbox]> = inboxes.into();
    match tcp_listener {
        Ok(listener) => {
            tokio::spawn(tcp::accept_forever(listener, inboxes.clone()));
            info!(%local, %candidate, workers = k, "media plane listening (UDP, and TCP for blocked networks)");
        }
        Err(e) => {
            warn!(%local, workers = k, "media over TCP unavailable (cannot listen on the media port over TCP: {e}); UDP only");
        }
    }
    Ok((
        EdgeHandle {
            workers: inboxes,
            local,
        },
        MediaPlane { threads, ended },
    ))
}

/// Pins the calling thread to the `i`-th CPU this process may run on (so that `taskset` still
/// decides where the server runs).
fn pin_to_cpu(i: usize) {
    // SAFETY: plain libc calls on a zeroed cpu_set_t owned here.
    unsafe {
        let mut allowed: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut allowed) != 0 {
            return;
        }
        let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &allowed))
            .collect();
        if cpus.is_empty() {
            return;
        }
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpus[i % cpus.len()], &mut one);
        let _ = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one);
    }
}

/// What a worker thread owns beside its worker.
struct Io {
    socket: mio::net::UdpSocket,
    sender: BatchSender,
    /// Its media TCP connections by their client's address: where their packets go.
    tcp_out: HashMap<SocketAddr, mpsc::Sender<bytes::Bytes>>,
    mesh: Mesh,
}

fn run(
    mut worker: Worker,
    mut poll: Poll,
    socket: std::net::UdpSocket,
    mut commands: mpsc::Receiver<Command>,
    mesh: Mesh,
    gso: bool,
) {
    let mut io = Io {
        socket: mio::net::UdpSocket::from_std(socket),
        sender: BatchSender::new(gso),
        tcp_out: HashMap::new(),
        mesh,
    };
    if let Err(e) = poll
        .registry()
        .register(&mut io.socket, SOCKET, Interest::READABLE)
    {
        error!("media worker {} cannot poll its socket: {e}", io.mesh.index);
        return;
    }
    let mut events = Events::with_capacity(64);
    let mut buf = vec![0u8; 2048];
    // More datagrams wait than one turn took: poll without sleeping.
    let mut more = false;
    loop {
        let now = Instant::now();
        let deadline = worker.poll_timeout(now);
        // A held frame's copies go when its last packet comes, or at the hold's end.
        let wake_at = worker.frame_hold().map_or(deadline, |h| h.min(deadline));
        let wait = if more {
            Duration::ZERO
        } else {
            wake_at.saturating_duration_since(now)
        };
        if let Err(e) = poll.poll(&mut events, Some(wait)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                error!("media worker {} poll failed: {e}", io.mesh.index);
                return;
            }
        }
        let now = Instant::now();
        // Packets this turn forwards: the publishers' own, and those other workers handed over.
        let packets_before = worker.stats.rtp_in + worker.stats.handoffs_in;
        loop {
            match commands.try_recv() {
                Ok(c) => on_command(&mut worker, &mut io, c, now),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    info!("media worker {} stopped", io.mesh.index);
                    return;
                }
            }
        }
        for (from, ring) in io.mesh.from.iter_mut().enumerate() {
            if let Some(ring) = ring {
                while let Ok(h) = ring.pop() {
                    worker.handle_handoff(from, h, now);
                }
            }
        }
        more = false;
        for i in 0..BURST {
            match io.socket.recv_from(&mut buf) {
                Ok((n, src)) => worker.receive_datagram(src, &buf[..n], now),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    debug!("media socket receive error: {e}");
                    break;
                }
            }
            more = i + 1 == BURST;
            if worker.outbox().len() >= FLUSH_AT {
                flush(&mut worker, &mut io);
            }
        }
        if now >= deadline {
            worker.handle_timeout(now);
        }
        let hold = worker
            .frame_hold()
            .is_some_and(|h| h > Instant::now() && worker.outbox().len() < FLUSH_AT);
        if !hold {
            worker.frame_hold = None;
            flush(&mut worker, &mut io);
        }
        let packets = worker.stats.rtp_in + worker.stats.handoffs_in - packets_before;
        worker.stats.forward_latency.observe(now.elapsed(), packets);
        hand_off(&mut worker, &mut io);
    }
}

/// Moves the worker's handoffs into the rings and wakes each worker that got some, once.
fn hand_off(worker: &mut Worker, io: &mut Io) {
    let mut wake = 0u64;
    let mut dropped = 0;
    for (w, item) in worker.outgoing().drain(..) {
        let pushed = io
            .mesh
            .to
            .get_mut(w)
            .and_then(Option::as_mut)
            .is_some_and(|ring| ring.push(item).is_ok());
        if pushed {
            wake |= 1 << w;
        } else {
            dropped += 1;
        }
    }
    worker.stats.handoffs_dropped += dropped;
    for (w, waker) in io.mesh.wakers.iter().enumerate() {
        if wake & (1 << w) != 0 {
            let _ = waker.wake();
        }
    }
}

/// Sends what the worker produced: TCP datagrams through their connection's queue, UDP ones in
/// `sendmmsg` batches, a transport's side by side.
fn flush(worker: &mut Worker, io: &mut Io) {
    if worker.outbox.is_empty() {
        return;
    }
    worker.outbox.group_by_transport();
    let outbox = &worker.outbox;
    let stats = &mut worker.stats;
    let datagrams = outbox.datagrams();
    let fd = io.socket.as_raw_fd();
    let mut at = 0;
    let mut full = 0;
    while at < datagrams.len() {
        let d = datagrams[at];
        if d.proto == Protocol::Tcp {
            let sent = io
                .tcp_out
                .get(&d.destination)
                .zip(tcp::frame(outbox.bytes(&d)))
                .is_some_and(|(w, f)| w.try_send(f).is_ok());
            if sent {
                stats.datagrams_out += 1;
            } else {
                stats.send_errors += 1;
            }
            at += 1;
            continue;
        }
        let end = datagrams[at..]
            .iter()
            .position(|d| d.proto == Protocol::Tcp)
            .map_or(datagrams.len(), |p| at + p);
        match io.sender.send(fd, outbox, &datagrams[at..end]) {
            Ok(sent) => {
                at += sent.datagrams.max(1);
                stats.datagrams_out += sent.datagrams as u64;
                stats.send_messages += sent.messages as u64;
                stats.send_batches += 1;
                full = 0;
            }
            Err((e, _)) if e.kind() == std::io::ErrorKind::WouldBlock && full < 20 => {
                // The socket's buffer is full: wait (briefly) for room.
                full += 1;
                wait_writable(fd, Duration::from_millis(5));
            }
            Err((e, n)) => {
                // One destination refused (unreachable, …), or no room for long: skip it.
                debug!(to = %d.destination, "media send failed: {e}");
                stats.send_errors += n as u64;
                at += n.max(1);
            }
        }
    }
    worker.outbox.clear();
}

fn wait_writable(fd: std::os::fd::RawFd, within: Duration) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one pollfd we own, for the duration of the call.
    unsafe {
        libc::poll(&mut p, 1, within.as_millis() as libc::c_int);
    }
}

fn on_command(worker: &mut Worker, io: &mut Io, cmd: Command, now: Instant) {
    match cmd {
        Command::Join {
            participant,
            session,
            role,
            receiving,
            events,
            reply,
        } => {
            let joined = worker.handle_join_as(participant, session, role, receiving, events, now);
            let _ = reply.send(joined);
        }
        Command::Spotlight {
            session,
            participant,
        } => worker.set_spotlight(session, participant, now),
        Command::Offer {
            participant,
            sdp,
            screen,
            reply,
        } => {
            let _ = reply.send(worker.handle_offer(participant, &sdp, screen.as_deref(), now));
        }
        Command::Answer {
            participant,
            sdp,
            reply,
        } => {
            let _ = reply.send(worker.handle_answer(participant, &sdp, now));
        }
        Command::Watch {
            participant,
            sdp,
            reply,
        } => {
            let _ = reply.send(worker.handle_watch(participant, &sdp, now));
        }
        Command::Leave { participant } => worker.handle_leave(participant, now),
        Command::Stats { reply } => {
            let _ = reply.send(worker.stats());
        }
        Command::Links { reply } => {
            let _ = reply.send(worker.links(now));
        }
        Command::PauseVideo {
            participant,
            paused,
        } => worker.pause_video(participant, paused, now),
        Command::SetMaxLayer {
            participant,
            max_layer,
        } => worker.set_max_layer(participant, max_layer, now),
        Command::StopPublishing { participant } => worker.stop_publishing(participant, now),
        Command::Mute { participant, muted } => worker.set_muted(participant, muted),
        Command::Record { session, tap } => worker.set_recording(session, tap, now),
        Command::Tcp(TcpEvent::Opened { peer, writer }) => {
            io.tcp_out.insert(peer, writer);
        }
        Command::Tcp(TcpEvent::Closed { peer }) => {
            io.tcp_out.remove(&peer);
        }
        Command::Tcp(TcpEvent::Packet { peer, data }) => worker.receive_tcp(peer, &data, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_media_socket_gets_its_buffers_past_the_kernels_default_cap_when_it_may() {
        let s = Socket::from(media_socket("127.0.0.1:0".parse().unwrap()).unwrap());
        let (rcv, snd) = (s.recv_buffer_size().unwrap(), s.send_buffer_size().unwrap());
        let cap = |name: &str| {
            std::fs::read_to_string(format!("/proc/sys/net/core/{name}"))
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0)
        };
        // SAFETY: geteuid has no preconditions.
        let may_force = unsafe { libc::geteuid() } == 0;
        let want = |cap: usize| {
            2 * if may_force {
                SOCKET_BUFFER
            } else {
                cap.min(SOCKET_BUFFER)
            }
        };
        assert!(rcv >= want(cap("rmem_max")), "receive buffer {rcv}");
        assert!(snd >= want(cap("wmem_max")), "send buffer {snd}");
    }

    #[tokio::test]
    async fn a_worker_thread_that_ends_or_panics_is_reported() {
        let (tell, ended) = tokio::sync::mpsc::unbounded_channel();
        let mut plane = MediaPlane {
            threads: Vec::new(),
            ended,
        };
        for (worker, fails) in [(1, true), (0, false)] {
            let guard = EndGuard {
                worker,
                tell: tell.clone(),
            };
            let t = std::thread::spawn(move || {
                let _guard = guard;
                assert!(!fails, "a bug in worker {worker}");
            });
            let _ = t.join();
            let e = plane.ended().await;
            assert_eq!((e.worker, e.panicked), (worker, fails));
        }
        assert_eq!(
            WorkerEnded {
                worker: 1,
                panicked: true
            }
            .to_string(),
            "media worker 1 panicked"
        );
    }

    #[tokio::test]
    async fn a_running_plane_reports_nothing() {
        let (edge, mut plane) = start(EdgeConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            public_ip: "127.0.0.1".parse().unwrap(),
            workers: 2,
            gso: false,
        })
        .await
        .unwrap();
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(200), plane.ended()).await;
        assert!(waited.is_err(), "its workers run");
        drop(edge);
    }
}
