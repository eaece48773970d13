//! The datagrams a worker's turn produced, waiting for the socket: one byte buffer and a list of
//! where each datagram starts, both kept between turns, so that steady-state forwarding writes
//! into memory that is already there. Protected packets are written straight into it; what
//! str0m transmits is copied in.

use std::net::SocketAddr;

use str0m::net::Protocol;

use crate::transport::TransportId;

/// One datagram in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram {
    pub proto: Protocol,
    pub destination: SocketAddr,
    /// The transport it belongs to (datagrams of one transport are sent together, so UDP GSO
    /// can join them).
    pub transport: TransportId,
    start: u32,
    len: u32,
    order: u32,
}

/// Datagrams to send, in the order they were produced.
#[derive(Debug)]
pub struct Outbox {
    bytes: Vec<u8>,
    datagrams: Vec<Datagram>,
}

impl Default for Outbox {
    fn default() -> Self {
        Self::with_capacity(1024)
    }
}

impl Outbox {
    /// Room for `datagrams` full-size datagrams before anything grows.
    pub fn with_capacity(datagrams: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(datagrams * 1300),
            datagrams: Vec::with_capacity(datagrams),
        }
    }

    /// Starts a datagram: write it at the end of the returned buffer, then [`Outbox::commit`]
    /// (or [`Outbox::abort`]) with the returned start.
    #[inline]
    pub fn begin(&mut self) -> (usize, &mut Vec<u8>) {
        (self.bytes.len(), &mut self.bytes)
    }

    /// The datagram written since `start` (of `len` bytes: anything beyond is dropped) goes to
    /// `destination`.
    #[inline]
    pub fn commit(
        &mut self,
        start: usize,
        len: usize,
        proto: Protocol,
        destination: SocketAddr,
        transport: TransportId,
    ) {
        self.bytes.truncate(start + len);
        let order = self.datagrams.len() as u32;
        self.datagrams.push(Datagram {
            proto,
            destination,
            transport,
            start: start as u32,
            len: len as u32,
            order,
        });
    }

    /// Forgets what was written since `start`.
    #[inline]
    pub fn abort(&mut self, start: usize) {
        self.bytes.truncate(start);
    }

    /// A datagram made elsewhere (str0m's), copied in.
    pub fn push(
        &mut self,
        proto: Protocol,
        destination: SocketAddr,
        transport: TransportId,
        data: &[u8],
    ) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(data);
        self.commit(start, data.len(), proto, destination, transport);
    }

    /// The datagrams, in sending order.
    pub fn datagrams(&self) -> &[Datagram] {
        &self.datagrams
    }

    /// The bytes of one datagram.
    pub fn bytes(&self, d: &Datagram) -> &[u8] {
        &self.bytes[d.start as usize..(d.start + d.len) as usize]
    }

    /// Datagrams waiting.
    pub fn len(&self) -> usize {
        self.datagrams.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.datagrams.is_empty()
    }

    /// Puts each transport's datagrams next to each other, keeping their order, so that one
    /// subscriber's packets of a frame leave in one GSO message.
    pub fn group_by_transport(&mut self) {
        self.datagrams
            .sort_unstable_by_key(|d| (d.transport, d.order));
    }

    /// Empties it, keeping its memory.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.datagrams.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_keep_their_bytes_and_group_by_transport_in_order() {
        let mut o = Outbox::with_capacity(4);
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        o.push(Protocol::Udp, a, TransportId(2), b"a1");
        let (start, buf) = o.begin();
        buf.extend_from_slice(b"b1-and-room");
        o.commit(start, 2, Protocol::Udp, b, TransportId(1));
        let (start, buf) = o.begin();
        buf.extend_from_slice(b"dropped");
        o.abort(start);
        o.push(Protocol::Udp, a, TransportId(2), b"a2");
        o.push(Protocol::Tcp, b, TransportId(1), b"b2");
        o.group_by_transport();
        let got: Vec<(&[u8], TransportId)> = o
            .datagrams()
            .iter()
            .map(|d| (o.bytes(d), d.transport))
            .collect();
        assert_eq!(
            got,
            vec![
                (&b"b1"[..], TransportId(1)),
                (&b"b2"[..], TransportId(1)),
                (&b"a1"[..], TransportId(2)),
                (&b"a2"[..], TransportId(2)),
            ]
        );
        o.clear();
        assert!(o.is_empty());
    }
}
