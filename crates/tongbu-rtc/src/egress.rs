//! Batched egress: the datagrams one turn of the edge produced go out in as few system calls as
//! possible — `sendmmsg(2)` on Linux (up to [`BATCH`] datagrams per call, any destinations),
//! one `sendto` each elsewhere.

use std::io;
use std::net::SocketAddr;

use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Datagrams per `sendmmsg` call.
pub const BATCH: usize = 64;

/// Sends datagrams from the front of `batch` (destination, bytes), waiting while the socket
/// buffer is full; returns how many went out (at least one, or the error of the first).
pub async fn send(socket: &UdpSocket, batch: &[(SocketAddr, &[u8])]) -> io::Result<usize> {
    let batch = &batch[..batch.len().min(BATCH)];
    if batch.is_empty() {
        return Ok(0);
    }
    send_impl(socket, batch).await
}

#[cfg(target_os = "linux")]
async fn send_impl(socket: &UdpSocket, batch: &[(SocketAddr, &[u8])]) -> io::Result<usize> {
    use nix::sys::socket::{sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
    use std::io::IoSlice;
    use std::os::fd::AsRawFd;

    let slices: Vec<[IoSlice<'_>; 1]> = batch.iter().map(|(_, b)| [IoSlice::new(b)]).collect();
    let addrs: Vec<Option<SockaddrStorage>> = batch
        .iter()
        .map(|(a, _)| Some(SockaddrStorage::from(*a)))
        .collect();
    loop {
        socket.writable().await?;
        let r = socket.try_io(Interest::WRITABLE, || {
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(batch.len(), None);
            sendmmsg(
                socket.as_raw_fd(),
                &mut headers,
                &slices,
                &addrs,
                [],
                MsgFlags::MSG_DONTWAIT,
            )
            .map(|sent| sent.count())
            .map_err(io::Error::from)
        });
        match r {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

#[cfg(not(target_os = "linux"))]
async fn send_impl(socket: &UdpSocket, batch: &[(SocketAddr, &[u8])]) -> io::Result<usize> {
    let (addr, bytes) = batch[0];
    socket.send_to(bytes, addr).await.map(|_| 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_reaches_every_destination_in_order() {
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let rx: Vec<_> = (0..3)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let payloads: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 100 + i as usize]).collect();
        let batch: Vec<(SocketAddr, &[u8])> = payloads
            .iter()
            .enumerate()
            .map(|(i, p)| (rx[i % 3].local_addr().unwrap(), p.as_slice()))
            .collect();
        let mut sent = 0;
        while sent < batch.len() {
            sent += send(&tx, &batch[sent..]).await.unwrap();
        }
        for (r, sock) in rx.iter().enumerate() {
            sock.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                .unwrap();
            let mut buf = [0u8; 512];
            for i in (r..100).step_by(3) {
                let n = sock.recv(&mut buf).unwrap();
                assert_eq!(&buf[..n], payloads[i].as_slice(), "datagram {i}");
            }
        }
    }
}
