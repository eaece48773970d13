//! Batched sends: the datagrams a worker's turn produced leave in as few system calls as
//! possible. On Linux that is `sendmmsg(2)` (up to [`BATCH`] messages per call, any
//! destinations), and within it UDP GSO (`UDP_SEGMENT`, Linux ≥ 4.18): consecutive datagrams to
//! the same destination — one subscriber's packets of a video frame, which the outbox puts side
//! by side — travel as one message that the kernel cuts into the original datagrams, so the
//! per-datagram kernel path (route, socket lookup, skb) is paid once per group. Where the kernel
//! or device refuses GSO, the first refusal switches it off for that sender; it can also be
//! switched off from the start (`TONGBU_MEDIA_GSO`). The system call's arrays are kept between
//! calls: sending allocates nothing.

use std::io;

use crate::outbox::{Datagram, Outbox};

/// Messages per `sendmmsg` call.
pub const BATCH: usize = 64;
/// Datagrams one GSO message may carry (the kernel's `UDP_MAX_SEGMENTS` is 64 or more).
pub const MAX_SEGMENTS: usize = 64;
/// Bytes one GSO message may carry (an IP packet's limit, less headers).
const MAX_GSO_BYTES: usize = 65_000;

/// What one call sent: datagrams, and the messages they travelled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub datagrams: usize,
    pub messages: usize,
}

/// How `batch` splits into messages, into `out`: lengths of runs of datagrams to one
/// destination, all the same size but the last (which may be shorter) — the shape GSO can
/// carry. Without `gso`, every datagram is its own message.
pub fn groups(
    outbox: &Outbox,
    batch: &[Datagram],
    gso: bool,
    max_messages: usize,
    out: &mut Vec<usize>,
) {
    out.clear();
    let mut i = 0;
    while i < batch.len() && out.len() < max_messages {
        let dest = batch[i].destination;
        let seg = outbox.bytes(&batch[i]).len();
        let mut k = 1;
        let mut bytes = seg;
        if gso {
            // Extend while the destination is the same and the previous datagram was full size.
            while i + k < batch.len() && k < MAX_SEGMENTS {
                let next = outbox.bytes(&batch[i + k]).len();
                let prev = outbox.bytes(&batch[i + k - 1]).len();
                if batch[i + k].destination != dest
                    || prev != seg
                    || next > seg
                    || next == 0
                    || bytes + next > MAX_GSO_BYTES
                {
                    break;
                }
                bytes += next;
                k += 1;
            }
        }
        out.push(k);
        i += k;
    }
}

/// The arrays of `sendmmsg`, kept between calls, and whether UDP GSO is used.
pub struct BatchSender {
    gso: bool,
    sizes: Vec<usize>,
    #[cfg(target_os = "linux")]
    iovs: Vec<libc::iovec>,
    #[cfg(target_os = "linux")]
    addrs: Vec<libc::sockaddr_storage>,
    #[cfg(target_os = "linux")]
    ctrl: Vec<[u64; 4]>,
    #[cfg(target_os = "linux")]
    msgs: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers in the kept arrays are only written and read inside `send`, which
// points them at memory it borrows for the call; between calls they are dead values.
unsafe impl Send for BatchSender {}

impl std::fmt::Debug for BatchSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatchSender")
    }
}

impl Default for BatchSender {
    fn default() -> Self {
        Self::new(true)
    }
}

impl BatchSender {
    /// A sender that joins each destination's runs with UDP GSO if `gso`.
    pub fn new(gso: bool) -> Self {
        Self {
            gso,
            sizes: Vec::new(),
            #[cfg(target_os = "linux")]
            iovs: Vec::new(),
            #[cfg(target_os = "linux")]
            addrs: Vec::new(),
            #[cfg(target_os = "linux")]
            ctrl: Vec::new(),
            #[cfg(target_os = "linux")]
            msgs: Vec::new(),
        }
    }

    /// Whether it still uses GSO.
    pub fn gso(&self) -> bool {
        self.gso
    }

    /// Sends datagrams from the front of `batch` (all UDP) on the non-blocking socket `fd`.
    /// Returns how many went (at least one), `WouldBlock` when the socket buffer is full, or
    /// the error of the first message (its datagrams are given up: see [`Sent`] of the error
    /// path in the caller).
    #[cfg(target_os = "linux")]
    pub fn send(
        &mut self,
        fd: std::os::fd::RawFd,
        outbox: &Outbox,
        batch: &[Datagram],
    ) -> Result<Sent, (io::Error, usize)> {
        if batch.is_empty() {
            return Ok(Sent {
                datagrams: 0,
                messages: 0,
            });
        }
        loop {
            let gso = self.gso;
            let mut sizes = std::mem::take(&mut self.sizes);
            groups(outbox, batch, gso, BATCH, &mut sizes);
            let r = self.sendmmsg(fd, outbox, batch, &sizes, gso);
            let first = sizes[0];
            let result = match r {
                Ok(messages) => Ok(Sent {
                    datagrams: sizes[..messages].iter().sum(),
                    messages,
                }),
                // The kernel or device cannot segment: never try again, send plainly.
                Err(e)
                    if gso
                        && first > 1
                        && matches!(e.raw_os_error(), Some(libc::EIO | libc::EINVAL)) =>
                {
                    tracing::info!("UDP GSO refused ({e}); sending each datagram on its own");
                    self.gso = false;
                    self.sizes = sizes;
                    continue;
                }
                Err(e) => Err((e, first)),
            };
            self.sizes = sizes;
            return result;
        }
    }

    #[cfg(target_os = "linux")]
    fn sendmmsg(
        &mut self,
        fd: std::os::fd::RawFd,
        outbox: &Outbox,
        batch: &[Datagram],
        sizes: &[usize],
        gso: bool,
    ) -> io::Result<usize> {
        // SAFETY (for the zeroed values below): all-zero is valid for these plain C structs.
        let zero_addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let zero_msg: libc::mmsghdr = unsafe { std::mem::zeroed() };
        let n: usize = sizes.iter().sum();
        self.iovs.clear();
        self.iovs.extend(batch[..n].iter().map(|d| {
            let b = outbox.bytes(d);
            libc::iovec {
                iov_base: b.as_ptr() as *mut libc::c_void,
                iov_len: b.len(),
            }
        }));
        self.addrs.clear();
        self.addrs.resize(sizes.len(), zero_addr);
        self.ctrl.clear();
        self.ctrl.resize(sizes.len(), [0u64; 4]);
        self.msgs.clear();
        self.msgs.resize(sizes.len(), zero_msg);
        let mut at = 0;
        for (m, &k) in sizes.iter().enumerate() {
            let first = &batch[at];
            let addr_len = write_sockaddr(&mut self.addrs[m], first.destination);
            let h = &mut self.msgs[m].msg_hdr;
            h.msg_name = (&mut self.addrs[m] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = addr_len;
            h.msg_iov = &mut self.iovs[at];
            h.msg_iovlen = k as _;
            if gso && k > 1 {
                h.msg_control = self.ctrl[m].as_mut_ptr().cast();
                // SAFETY: the buffer holds CMSG_SPACE(2) bytes (≤ 32); the header we write into
                // is the first one of a buffer we own.
                unsafe {
                    h.msg_controllen = libc::CMSG_SPACE(2) as _;
                    let c = libc::CMSG_FIRSTHDR(h);
                    (*c).cmsg_level = libc::SOL_UDP;
                    (*c).cmsg_type = libc::UDP_SEGMENT;
                    (*c).cmsg_len = libc::CMSG_LEN(2) as _;
                    let seg = outbox.bytes(first).len() as u16;
                    std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), seg);
                }
            }
            at += k;
        }
        // SAFETY: every header points into `iovs`, `addrs` and `ctrl`, which live through the
        // call, and the iovecs point into the outbox, borrowed for it.
        let sent = unsafe {
            libc::sendmmsg(
                fd,
                self.msgs.as_mut_ptr(),
                self.msgs.len() as u32,
                libc::MSG_DONTWAIT,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(sent as usize)
    }
}

#[cfg(target_os = "linux")]
fn write_sockaddr(out: &mut libc::sockaddr_storage, a: std::net::SocketAddr) -> libc::socklen_t {
    use std::net::SocketAddr;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::TransportId;
    use std::net::SocketAddr;
    use str0m::net::Protocol;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn outbox(items: &[(SocketAddr, usize)]) -> Outbox {
        let mut o = Outbox::with_capacity(items.len());
        for (i, &(a, len)) in items.iter().enumerate() {
            o.push(Protocol::Udp, a, TransportId(0), &vec![i as u8; len]);
        }
        o
    }

    #[test]
    fn runs_to_one_destination_of_one_size_form_groups() {
        let (a, b) = (addr(1), addr(2));
        let o = outbox(&[
            (a, 1200),
            (a, 1200),
            (a, 300),  // a frame's last packet closes the group
            (a, 1200), // so a new one starts
            (b, 1200),
            (b, 300),
            (b, 300), // after a short one nothing more joins
            (a, 1200),
        ]);
        let mut g = Vec::new();
        groups(&o, o.datagrams(), true, 64, &mut g);
        assert_eq!(g, vec![3, 1, 2, 1, 1]);
        groups(&o, o.datagrams(), false, 64, &mut g);
        assert_eq!(g, vec![1; 8]);
        groups(&o, o.datagrams(), true, 2, &mut g);
        assert_eq!(g, vec![3, 1], "at most max_messages");
        let many = outbox(&vec![(a, 1200); 100]);
        groups(&many, many.datagrams(), true, 64, &mut g);
        assert_eq!(g, vec![54, 46], "65,000 bytes at most");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_batch_reaches_every_destination_in_order() {
        use std::os::fd::AsRawFd;
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.set_nonblocking(true).unwrap();
        let rx: Vec<_> = (0..3)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        // Runs of equal sizes to one destination (GSO groups), and mixed sizes.
        let dest = |i: usize| if i < 60 { i / 20 } else { i % 3 };
        let len = |i: usize| if i < 60 { 1000 } else { 100 + i };
        let items: Vec<(SocketAddr, usize)> = (0..120)
            .map(|i| (rx[dest(i)].local_addr().unwrap(), len(i)))
            .collect();
        let o = outbox(&items);
        let mut sender = BatchSender::default();
        let (mut sent, mut messages) = (0, 0);
        while sent < o.len() {
            let s = sender
                .send(tx.as_raw_fd(), &o, &o.datagrams()[sent..])
                .map_err(|(e, _)| e)
                .unwrap();
            sent += s.datagrams;
            messages += s.messages;
        }
        assert_eq!(sent, 120);
        if sender.gso() {
            assert!(messages < 120, "runs were coalesced: {messages} messages");
        }
        for (r, sock) in rx.iter().enumerate() {
            sock.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                .unwrap();
            let mut buf = [0u8; 2048];
            for i in (0..120).filter(|&i| dest(i) == r) {
                let n = sock.recv(&mut buf).unwrap();
                assert_eq!(n, len(i), "datagram {i}");
                assert!(buf[..n].iter().all(|&b| b == i as u8), "datagram {i}");
            }
        }
    }
}
