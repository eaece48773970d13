//! Batched egress: the datagrams one turn of the edge produced go out in as few system calls as
//! possible. On Linux that is `sendmmsg(2)` (up to [`BATCH`] messages per call, any
//! destinations), and within it UDP GSO (`UDP_SEGMENT`, Linux ≥ 4.18): consecutive datagrams to
//! the same destination — one subscriber's packets of a video frame, which a turn releases
//! together — travel as one message that the kernel cuts into the original datagrams, so the
//! per-datagram kernel path (route, socket lookup, skb) is paid once per group. Where the kernel
//! or device refuses GSO, the first refusal switches it off for the process. Elsewhere, one
//! `sendto` per datagram.

use std::io;
use std::net::SocketAddr;

use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Messages per `sendmmsg` call.
pub const BATCH: usize = 64;
/// Datagrams one GSO message may carry (the kernel's `UDP_MAX_SEGMENTS` is 64 or more).
pub const MAX_SEGMENTS: usize = 64;
/// Bytes one GSO message may carry (an IP packet's limit, less headers).
const MAX_GSO_BYTES: usize = 65_000;

/// A send that failed, and how many datagrams from the front of the batch it covers (they are
/// given up; the caller goes on with the rest).
#[derive(Debug)]
pub struct SendError {
    pub error: io::Error,
    pub datagrams: usize,
}

/// What one call sent: datagrams, and the messages they travelled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub datagrams: usize,
    pub messages: usize,
}

/// How `batch` splits into messages: lengths of runs of datagrams to one destination, all the
/// same size but the last (which may be shorter) — the shape GSO can carry. Without `gso`, every
/// datagram is its own message.
pub fn groups(batch: &[(SocketAddr, &[u8])], gso: bool, max_messages: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < batch.len() && out.len() < max_messages {
        let (dest, first) = batch[i];
        let seg = first.len();
        let mut k = 1;
        let mut bytes = seg;
        if gso {
            // Extend while the destination is the same and the previous datagram was full size.
            while i + k < batch.len()
                && k < MAX_SEGMENTS
                && batch[i + k].0 == dest
                && batch[i + k - 1].1.len() == seg
                && batch[i + k].1.len() <= seg
                && !batch[i + k].1.is_empty()
                && bytes + batch[i + k].1.len() <= MAX_GSO_BYTES
            {
                bytes += batch[i + k].1.len();
                k += 1;
            }
        }
        out.push(k);
        i += k;
    }
    out
}

/// Sends datagrams from the front of `batch` (destination, bytes), waiting while the socket
/// buffer is full; returns how many went out (at least one), or the error of the first message.
pub async fn send(socket: &UdpSocket, batch: &[(SocketAddr, &[u8])]) -> Result<Sent, SendError> {
    if batch.is_empty() {
        return Ok(Sent {
            datagrams: 0,
            messages: 0,
        });
    }
    send_impl(socket, batch).await
}

#[cfg(target_os = "linux")]
mod linux {
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Whether GSO is still believed to work here.
    pub static GSO: AtomicBool = AtomicBool::new(true);

    pub fn gso() -> bool {
        GSO.load(Ordering::Relaxed)
    }

    pub fn gso_off() {
        GSO.store(false, Ordering::Relaxed);
    }
}

#[cfg(target_os = "linux")]
async fn send_impl(socket: &UdpSocket, batch: &[(SocketAddr, &[u8])]) -> Result<Sent, SendError> {
    loop {
        let gso = linux::gso();
        let sizes = groups(batch, gso, BATCH);
        let r = loop {
            if let Err(error) = socket.writable().await {
                return Err(SendError {
                    error,
                    datagrams: sizes[0],
                });
            }
            match socket.try_io(Interest::WRITABLE, || sendmmsg(socket, batch, &sizes, gso)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => break other,
            }
        };
        match r {
            Ok(messages) => {
                return Ok(Sent {
                    datagrams: sizes[..messages].iter().sum(),
                    messages,
                })
            }
            // The kernel or device cannot segment: never try again, send plainly.
            Err(e)
                if gso
                    && sizes[0] > 1
                    && matches!(e.raw_os_error(), Some(libc::EIO | libc::EINVAL)) =>
            {
                tracing::info!("UDP GSO refused ({e}); sending each datagram on its own");
                linux::gso_off();
            }
            Err(error) => {
                return Err(SendError {
                    error,
                    datagrams: sizes[0],
                })
            }
        }
    }
}

/// One `sendmmsg` call for the messages `sizes` describes; returns how many messages went.
#[cfg(target_os = "linux")]
fn sendmmsg(
    socket: &UdpSocket,
    batch: &[(SocketAddr, &[u8])],
    sizes: &[usize],
    gso: bool,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;

    // SAFETY (for the zeroed values below): all-zero is valid for these plain C structs.
    let zero_addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let zero_msg: libc::mmsghdr = unsafe { std::mem::zeroed() };
    let mut iovs: Vec<libc::iovec> = batch[..sizes.iter().sum::<usize>()]
        .iter()
        .map(|(_, b)| libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect();
    let mut addrs = vec![zero_addr; sizes.len()];
    // One cmsg with a u16 per message; u64 words keep it aligned.
    const CTRL_WORDS: usize = 4;
    let mut ctrl = vec![[0u64; CTRL_WORDS]; sizes.len()];
    let mut msgs = vec![zero_msg; sizes.len()];
    let mut at = 0;
    for (m, &k) in sizes.iter().enumerate() {
        let (dest, first) = batch[at];
        let addr_len = write_sockaddr(&mut addrs[m], dest);
        let h = &mut msgs[m].msg_hdr;
        h.msg_name = (&mut addrs[m] as *mut libc::sockaddr_storage).cast();
        h.msg_namelen = addr_len;
        h.msg_iov = &mut iovs[at];
        h.msg_iovlen = k as _;
        if gso && k > 1 {
            h.msg_control = ctrl[m].as_mut_ptr().cast();
            // SAFETY: the buffer holds CMSG_SPACE(2) bytes (≤ 32); the header we write into
            // is the first one of a buffer we own.
            unsafe {
                h.msg_controllen = libc::CMSG_SPACE(2) as _;
                let c = libc::CMSG_FIRSTHDR(h);
                (*c).cmsg_level = libc::SOL_UDP;
                (*c).cmsg_type = libc::UDP_SEGMENT;
                (*c).cmsg_len = libc::CMSG_LEN(2) as _;
                std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), first.len() as u16);
            }
        }
        at += k;
    }
    // SAFETY: every header points into `iovs`, `addrs` and `ctrl`, which outlive the call, and
    // the iovecs point into `batch`.
    let n = unsafe {
        libc::sendmmsg(
            socket.as_raw_fd(),
            msgs.as_mut_ptr(),
            msgs.len() as u32,
            libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

#[cfg(target_os = "linux")]
fn write_sockaddr(out: &mut libc::sockaddr_storage, a: SocketAddr) -> libc::socklen_t {
    match a {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr.
            unsafe { std::ptr::write((out as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: as above.
            unsafe { std::ptr::write((out as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

#[cfg(not(target_os = "linux"))]
async fn send_impl(socket: &UdpSocket, batch: &[(SocketAddr, &[u8])]) -> Result<Sent, SendError> {
    let (addr, bytes) = batch[0];
    match socket.send_to(bytes, addr).await {
        Ok(_) => Ok(Sent {
            datagrams: 1,
            messages: 1,
        }),
        Err(error) => Err(SendError {
            error,
            datagrams: 1,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn runs_to_one_destination_of_one_size_form_groups() {
        let full = [7u8; 1200];
        let short = [7u8; 300];
        let (a, b) = (addr(1), addr(2));
        let batch: Vec<(SocketAddr, &[u8])> = vec![
            (a, &full),
            (a, &full),
            (a, &short), // a frame's last packet closes the group
            (a, &full),  // so a new one starts
            (b, &full),
            (b, &short),
            (b, &short), // after a short one nothing more joins
            (a, &full),
        ];
        assert_eq!(groups(&batch, true, 64), vec![3, 1, 2, 1, 1]);
        assert_eq!(groups(&batch, false, 64), vec![1; 8]);
        assert_eq!(groups(&batch, true, 2), vec![3, 1], "at most max_messages");
        let many: Vec<(SocketAddr, &[u8])> = vec![(a, &full[..]); 100];
        assert_eq!(
            groups(&many, true, 64),
            vec![54, 46],
            "65,000 bytes at most"
        );
    }

    #[tokio::test]
    async fn a_batch_reaches_every_destination_in_order() {
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let rx: Vec<_> = (0..3)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        // Runs of equal sizes to one destination (GSO groups), and mixed sizes.
        let payloads: Vec<Vec<u8>> = (0..120u8)
            .map(|i| {
                let len = if i < 60 { 1000 } else { 100 + i as usize };
                vec![i; len]
            })
            .collect();
        let dest = |i: usize| if i < 60 { i / 20 } else { i % 3 };
        let batch: Vec<(SocketAddr, &[u8])> = payloads
            .iter()
            .enumerate()
            .map(|(i, p)| (rx[dest(i)].local_addr().unwrap(), p.as_slice()))
            .collect();
        let mut sent = 0;
        let mut messages = 0;
        while sent < batch.len() {
            let s = send(&tx, &batch[sent..]).await.unwrap();
            sent += s.datagrams;
            messages += s.messages;
        }
        assert_eq!(sent, 120);
        #[cfg(target_os = "linux")]
        if linux::gso() {
            assert!(messages < 120, "runs were coalesced: {messages} messages");
        }
        for (r, sock) in rx.iter().enumerate() {
            sock.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                .unwrap();
            let mut buf = [0u8; 2048];
            for i in (0..120).filter(|&i| dest(i) == r) {
                let n = sock.recv(&mut buf).unwrap();
                assert_eq!(&buf[..n], payloads[i].as_slice(), "datagram {i}");
            }
        }
    }
}
