//! The I/O around a [`Worker`]: the media UDP socket, the media TCP listener, signaling's
//! commands and time, on one tokio task. It reads a burst of datagrams (up to 64), feeds them to
//! the worker, and hands what the worker produced to the kernel in `sendmmsg` batches, each
//! subscriber's packets side by side for UDP GSO.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

use str0m::net::Protocol;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::batch_send::BatchSender;
use crate::edge::{Command, EdgeConfig, EdgeError, EdgeHandle};
use crate::tcp::{self, TcpEvent};
use crate::worker::Worker;

/// Datagrams read before the worker's output is sent.
const BURST: usize = 64;
/// Datagrams the outbox may hold before it is sent in the middle of a burst: the first
/// subscribers' copies of a frame do not wait for the last ones'.
const FLUSH_AT: usize = 256;

/// Binds the media socket and runs a worker on the current tokio runtime.
pub async fn start(
    config: EdgeConfig,
) -> Result<(EdgeHandle, tokio::task::JoinHandle<()>), EdgeError> {
    let socket = UdpSocket::bind(config.bind)
        .await
        .map_err(|source| EdgeError::Bind {
            addr: config.bind,
            source,
        })?;
    let local = socket.local_addr().map_err(|source| EdgeError::Bind {
        addr: config.bind,
        source,
    })?;
    let candidate = SocketAddr::new(config.public_ip, local.port());
    let (tx, rx) = mpsc::channel(1024);
    let mut worker = Worker::new(candidate, Instant::now());
    // The same port over TCP, for schools whose firewall blocks UDP.
    let (tcp_tx, tcp_rx) = mpsc::channel(1024);
    match tokio::net::TcpListener::bind(local).await {
        Ok(listener) => {
            worker.set_tcp(true);
            tokio::spawn(tcp::accept_forever(listener, tcp_tx));
            info!(%local, %candidate, "media edge listening (UDP, and TCP for blocked networks)");
        }
        Err(e) => {
            warn!(%local, "media over TCP unavailable (cannot listen on the media port over TCP: {e}); UDP only");
        }
    }
    let task = tokio::spawn(run(worker, Arc::new(socket), rx, tcp_rx));
    Ok((
        EdgeHandle {
            commands: tx,
            local,
        },
        task,
    ))
}

struct Io {
    socket: Arc<UdpSocket>,
    sender: BatchSender,
    /// Media TCP connections by their client's address: where their packets go.
    tcp_out: HashMap<SocketAddr, mpsc::Sender<bytes::Bytes>>,
}

async fn run(
    mut worker: Worker,
    socket: Arc<UdpSocket>,
    mut commands: mpsc::Receiver<Command>,
    mut tcp_events: mpsc::Receiver<TcpEvent>,
) {
    let mut buf = vec![0u8; 2048];
    let mut io = Io {
        socket,
        sender: BatchSender::default(),
        tcp_out: HashMap::new(),
    };
    loop {
        let deadline = worker.poll_timeout(Instant::now());
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(c) => on_command(&mut worker, c, Instant::now()),
                None => break,
            },
            Some(ev) = tcp_events.recv() => match ev {
                TcpEvent::Opened { peer, writer } => {
                    io.tcp_out.insert(peer, writer);
                }
                TcpEvent::Closed { peer } => {
                    io.tcp_out.remove(&peer);
                }
                TcpEvent::Packet { peer, data } => {
                    worker.receive_tcp(peer, &data, Instant::now());
                }
            },
            r = io.socket.recv_from(&mut buf) => {
                let now = Instant::now();
                let rtp_before = worker.stats.rtp_in;
                match r {
                    Ok((n, src)) => worker.receive_datagram(src, &buf[..n], now),
                    Err(e) => debug!("media socket receive error: {e}"),
                }
                // Take in what else is queued, sending as the outbox fills.
                for _ in 1..BURST {
                    match io.socket.try_recv_from(&mut buf) {
                        Ok((n, src)) => worker.receive_datagram(src, &buf[..n], now),
                        Err(_) => break,
                    }
                    if worker.outbox().len() >= FLUSH_AT {
                        flush(&mut worker, &mut io).await;
                    }
                }
                flush(&mut worker, &mut io).await;
                let rtp = worker.stats.rtp_in - rtp_before;
                worker.stats.forward_latency.observe(now.elapsed(), rtp);
            }
            _ = tokio::time::sleep_until(deadline.into()) => worker.handle_timeout(Instant::now()),
        }
        flush(&mut worker, &mut io).await;
    }
    info!("media edge stopped");
}

/// Sends what the worker produced: TCP datagrams through their connection's queue, UDP ones in
/// `sendmmsg` batches, a transport's side by side.
async fn flush(worker: &mut Worker, io: &mut Io) {
    if worker.outbox.is_empty() {
        return;
    }
    worker.outbox.group_by_transport();
    let outbox = &worker.outbox;
    let stats = &mut worker.stats;
    let datagrams = outbox.datagrams();
    let mut at = 0;
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
        let udp = &datagrams[at..end];
        let fd = io.socket.as_raw_fd();
        let r = loop {
            if let Err(e) = io.socket.writable().await {
                break Err((e, udp.len()));
            }
            match io.socket.try_io(Interest::WRITABLE, || {
                match io.sender.send(fd, outbox, udp) {
                    Ok(s) => Ok(Ok(s)),
                    Err((e, n)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        let _ = n;
                        Err(e)
                    }
                    Err(other) => Ok(Err(other)),
                }
            }) {
                Ok(r) => break r,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => break Err((e, 1)),
            }
        };
        match r {
            Ok(sent) => {
                at += sent.datagrams.max(1);
                stats.datagrams_out += sent.datagrams as u64;
                stats.send_messages += sent.messages as u64;
                stats.send_batches += 1;
            }
            Err((e, n)) => {
                // One destination refused (unreachable, …): skip it, send the rest.
                debug!(to = %d.destination, "media send failed: {e}");
                stats.send_errors += n as u64;
                at += n.max(1);
            }
        }
    }
    worker.outbox.clear();
}

fn on_command(worker: &mut Worker, cmd: Command, now: Instant) {
    match cmd {
        Command::Join {
            participant,
            session,
            events,
            reply,
        } => {
            let _ = reply.send(worker.handle_join(participant, session, events, now));
        }
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
        Command::StopPublishing { participant } => worker.stop_publishing(participant, now),
    }
}
