//! ICE over TCP (RFC 6544, passive) for schools whose firewall blocks UDP: the server listens on
//! TCP at the media port, every transport offers a passive TCP host candidate beside the UDP one,
//! and the browser connects to it when UDP fails. Packets travel framed as RFC 4571 says (a
//! two-byte length, then the packet). This module is I/O only: one task per connection reads
//! frames and hands them to the worker whose transport the connection reaches (its first frame
//! is a STUN request naming the worker in its ufrag); the worker's sends go back through a
//! queue per connection. Workers handle TCP packets exactly as UDP datagrams.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tracing::debug;

use crate::demux::stun_worker;
use crate::edge::{Command, Inbox};

/// Packets a connection may have queued for sending before new ones are dropped (a stalled
/// connection must not hold the edge up; RTP copes with loss, TCP would only add delay).
const QUEUE: usize = 512;

/// What the connections tell their worker.
#[derive(Debug)]
pub enum TcpEvent {
    /// A client connected from `peer`; its packets go to `writer`, already framed.
    Opened {
        peer: SocketAddr,
        writer: mpsc::Sender<Bytes>,
    },
    /// One packet (the frame's contents).
    Packet {
        peer: SocketAddr,
        data: Vec<u8>,
    },
    Closed {
        peer: SocketAddr,
    },
}

/// One packet framed for the stream (RFC 4571), or `None` if it is too large for the two-byte
/// length.
pub fn frame(packet: &[u8]) -> Option<Bytes> {
    let len = u16::try_from(packet.len()).ok()?;
    let mut b = BytesMut::with_capacity(packet.len() + 2);
    b.put_u16(len);
    b.put_slice(packet);
    Some(b.freeze())
}

/// Media TCP connections open at once; past it a newcomer is closed at once (each holds a
/// file and a task; a classroom needs two).
pub const MAX_CONNECTIONS: usize = 4096;
/// How long a new connection may take to send its first frame (the STUN request).
const FIRST_FRAME: Duration = Duration::from_secs(10);
/// How long a connection may send nothing (ICE consent checks come every few seconds).
const IDLE: Duration = Duration::from_secs(30);

/// Accepts connections until the workers stop.
pub(crate) async fn accept_forever(listener: TcpListener, workers: Arc<[Inbox]>) {
    let places = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let Ok(place) = places.clone().try_acquire_owned() else {
                    debug!(%peer, "media TCP connection over the cap; closed");
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let workers = workers.clone();
                tokio::spawn(async move {
                    connection(stream, peer, workers).await;
                    drop(place);
                });
            }
            Err(e) => {
                debug!("media TCP accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        if workers.iter().all(|w| w.commands.is_closed()) {
            break;
        }
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, workers: Arc<[Inbox]>) {
    let (mut rd, mut wr) = stream.into_split();
    let (writer, mut queue) = mpsc::channel::<Bytes>(QUEUE);
    let mut writer = Some(writer);
    let mut owner: Option<&Inbox> = None;
    let send = tokio::spawn(async move {
        while let Some(b) = queue.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
    });
    loop {
        let wait = if owner.is_some() { IDLE } else { FIRST_FRAME };
        let Ok(Some(data)) = tokio::time::timeout(wait, read_frame(&mut rd)).await else {
            break;
        };
        if data.is_empty() {
            continue;
        }
        let inbox = match owner {
            Some(i) => i,
            None => {
                // ICE over TCP begins with a STUN request: it names the transport's worker.
                let Some(w) = stun_worker(&data).and_then(|w| workers.get(w)) else {
                    debug!(%peer, "media TCP connection that does not begin with STUN; closed");
                    break;
                };
                let Some(writer) = writer.take() else {
                    break;
                };
                if w.send(Command::Tcp(TcpEvent::Opened { peer, writer }))
                    .await
                    .is_err()
                {
                    break;
                }
                owner = Some(w);
                w
            }
        };
        if inbox
            .send(Command::Tcp(TcpEvent::Packet { peer, data }))
            .await
            .is_err()
        {
            break;
        }
    }
    send.abort();
    if let Some(w) = owner {
        let _ = w.send(Command::Tcp(TcpEvent::Closed { peer })).await;
    }
    debug!(%peer, "media TCP connection closed");
}

/// The next frame's packet; None at the end of the stream. The buffer grows as the bytes
/// arrive, not to the length a frame declares before sending it.
async fn read_frame(rd: &mut (impl AsyncRead + Unpin)) -> Option<Vec<u8>> {
    let len = rd.read_u16().await.ok()?;
    let mut data = Vec::new();
    rd.take(u64::from(len)).read_to_end(&mut data).await.ok()?;
    (data.len() == usize::from(len)).then_some(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demux::tests::binding_request;

    #[test]
    fn frames_carry_a_two_byte_length() {
        let f = frame(b"stun").unwrap();
        assert_eq!(&f[..], &[0, 4, b's', b't', b'u', b'n']);
        assert_eq!(frame(&vec![0u8; 65_535]).unwrap().len(), 65_537);
        assert!(
            frame(&vec![0u8; 65_536]).is_none(),
            "too large for RFC 4571"
        );
    }

    /// Two workers' inboxes, and what reaches each.
    fn inboxes() -> (Arc<[Inbox]>, Vec<mpsc::Receiver<Command>>, mio::Poll) {
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(1)).unwrap());
        let (mut ins, mut outs) = (Vec::new(), Vec::new());
        for _ in 0..2 {
            let (tx, rx) = mpsc::channel(16);
            ins.push(Inbox {
                commands: tx,
                waker: waker.clone(),
            });
            outs.push(rx);
        }
        (ins.into(), outs, poll)
    }

    #[tokio::test]
    async fn a_connection_goes_to_the_worker_its_stun_names_and_gets_framed_packets_back() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (workers, mut rx, _poll) = inboxes();
        tokio::spawn(accept_forever(listener, workers));
        let mut client = TcpStream::connect(addr).await.unwrap();
        // A STUN request for worker 1's transport, then two packets in one write, a third split
        // across writes.
        let stun = binding_request("01srv:cli");
        let mut bytes = frame(&stun).unwrap().to_vec();
        bytes.extend_from_slice(&frame(b"two").unwrap());
        bytes.extend_from_slice(&[0, 5, b't', b'h']);
        client.write_all(&bytes).await.unwrap();
        client.write_all(b"ree").await.unwrap();
        let Some(Command::Tcp(TcpEvent::Opened { peer, writer })) = rx[1].recv().await else {
            panic!("opened on worker 1");
        };
        assert_eq!(peer, client.local_addr().unwrap());
        for want in [&stun[..], b"two", b"three"] {
            match rx[1].recv().await {
                Some(Command::Tcp(TcpEvent::Packet { data, .. })) => assert_eq!(data, want),
                other => panic!("expected a packet, got {other:?}"),
            }
        }
        assert!(rx[0].try_recv().is_err(), "nothing for worker 0");
        writer.send(frame(b"back").unwrap()).await.unwrap();
        let mut got = [0u8; 6];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, &[0, 4, b'b', b'a', b'c', b'k']);
        drop(client);
        assert!(matches!(
            rx[1].recv().await,
            Some(Command::Tcp(TcpEvent::Closed { .. }))
        ));

        // A connection that does not start with STUN is closed, nobody told.
        let mut junk = TcpStream::connect(addr).await.unwrap();
        junk.write_all(&frame(b"junk").unwrap()).await.unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(junk.read(&mut byte).await.unwrap(), 0, "closed");
        assert!(rx[0].try_recv().is_err() && rx[1].try_recv().is_err());
    }

    #[tokio::test]
    async fn a_frame_cut_short_is_the_end_of_the_stream() {
        assert_eq!(
            read_frame(&mut &[0, 3, 1, 2, 3][..]).await,
            Some(vec![1, 2, 3])
        );
        // Declares 64 KiB, sends three bytes, ends.
        assert_eq!(read_frame(&mut &[0xff, 0xff, 1, 2, 3][..]).await, None);
        assert_eq!(read_frame(&mut &[0][..]).await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_nothing_is_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (workers, _rx, _poll) = inboxes();
        tokio::spawn(accept_forever(listener, workers));
        let mut idle = TcpStream::connect(addr).await.unwrap();
        let t0 = tokio::time::Instant::now();
        let mut byte = [0u8; 1];
        assert_eq!(idle.read(&mut byte).await.unwrap(), 0, "closed");
        assert!(t0.elapsed() >= FIRST_FRAME, "{:?}", t0.elapsed());
    }
}
