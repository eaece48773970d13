//! ICE over TCP (RFC 6544, passive) for schools whose firewall blocks UDP: the server listens on
//! TCP at the media port, every transport offers a passive TCP host candidate beside the UDP one,
//! and the browser connects to it when UDP fails. Packets travel framed as RFC 4571 says (a
//! two-byte length, then the packet). This module is I/O only: one task per connection reads
//! frames and hands them to the edge's task; the edge's sends go back through a queue per
//! connection. The edge handles TCP packets exactly as UDP datagrams.

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::debug;

/// Packets a connection may have queued for sending before new ones are dropped (a stalled
/// connection must not hold the edge up; RTP copes with loss, TCP would only add delay).
const QUEUE: usize = 512;

/// What the connections tell the edge's task.
#[derive(Debug)]
pub(crate) enum TcpEvent {
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

/// Accepts connections until the edge stops listening.
pub(crate) async fn accept_forever(listener: TcpListener, events: mpsc::Sender<TcpEvent>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, peer, events.clone()));
            }
            Err(e) => {
                debug!("media TCP accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        if events.is_closed() {
            break;
        }
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, events: mpsc::Sender<TcpEvent>) {
    let (mut rd, mut wr) = stream.into_split();
    let (writer, mut queue) = mpsc::channel::<Bytes>(QUEUE);
    if events
        .send(TcpEvent::Opened { peer, writer })
        .await
        .is_err()
    {
        return;
    }
    let send = tokio::spawn(async move {
        while let Some(b) = queue.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
    });
    while let Ok(n) = rd.read_u16().await {
        let len = usize::from(n);
        let mut data = vec![0u8; len];
        if rd.read_exact(&mut data).await.is_err() {
            break;
        }
        if len == 0 {
            continue;
        }
        if events.send(TcpEvent::Packet { peer, data }).await.is_err() {
            break;
        }
    }
    send.abort();
    let _ = events.send(TcpEvent::Closed { peer }).await;
    debug!(%peer, "media TCP connection closed");
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[tokio::test]
    async fn a_connection_delivers_packets_and_sends_framed_ones_back() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = mpsc::channel(16);
        tokio::spawn(accept_forever(listener, tx));
        let mut client = TcpStream::connect(addr).await.unwrap();
        let Some(TcpEvent::Opened { peer, writer }) = rx.recv().await else {
            panic!("opened");
        };
        assert_eq!(peer, client.local_addr().unwrap());
        // Two packets in one write, a third split across writes.
        let mut bytes = frame(b"one").unwrap().to_vec();
        bytes.extend_from_slice(&frame(b"two").unwrap());
        bytes.extend_from_slice(&[0, 5, b't', b'h']);
        client.write_all(&bytes).await.unwrap();
        client.write_all(b"ree").await.unwrap();
        for want in [&b"one"[..], b"two", b"three"] {
            match rx.recv().await {
                Some(TcpEvent::Packet { data, .. }) => assert_eq!(data, want),
                other => panic!("expected a packet, got {other:?}"),
            }
        }
        writer.send(frame(b"back").unwrap()).await.unwrap();
        let mut got = [0u8; 6];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, &[0, 4, b'b', b'a', b'c', b'k']);
        drop(client);
        assert!(matches!(rx.recv().await, Some(TcpEvent::Closed { .. })));
    }
}
