//! Which transport a datagram belongs to, without asking every transport.
//!
//! A STUN binding request names the server's ICE ufrag in its USERNAME (`server:client`); that
//! ufrag identifies the transport, and the datagram's source address is remembered for it. Every
//! other datagram (DTLS, SRTP, SRTCP) is found by its source address. Both are hash lookups, so
//! the cost does not grow with the number of peers.

use std::collections::HashMap;
use std::net::SocketAddr;

use str0m::ice::StunMessage;

use crate::transport::TransportId;

/// The demultiplexing tables.
#[derive(Debug, Default)]
pub struct Demux {
    by_ufrag: HashMap<String, TransportId>,
    by_addr: HashMap<SocketAddr, TransportId>,
}

/// Whether a datagram looks like STUN (RFC 7983: first byte 0..=3, magic cookie).
pub fn is_stun(datagram: &[u8]) -> bool {
    datagram.len() >= 20 && datagram[0] < 4 && datagram[4..8] == [0x21, 0x12, 0xA4, 0x42]
}

/// The worker a STUN request's transport lives on: its local ufrag begins with the worker's
/// index in two hex digits (see [`crate::transport::Transport::new`]).
pub fn stun_worker(datagram: &[u8]) -> Option<usize> {
    if !is_stun(datagram) {
        return None;
    }
    let msg = StunMessage::parse(datagram).ok()?;
    let (local, _remote) = msg.split_username()?;
    usize::from_str_radix(local.get(..2)?, 16).ok()
}

impl Demux {
    /// A transport with this local ICE ufrag exists.
    pub fn add(&mut self, ufrag: String, peer: TransportId) {
        self.by_ufrag.insert(ufrag, peer);
    }

    /// A transport is gone: forget its ufrag, and those of its addresses still bound to it (an
    /// address may have moved on to another transport since).
    pub fn remove(&mut self, ufrag: &str, addrs: &[SocketAddr], peer: TransportId) {
        if self.by_ufrag.get(ufrag) == Some(&peer) {
            self.by_ufrag.remove(ufrag);
        }
        for a in addrs {
            if self.by_addr.get(a) == Some(&peer) {
                self.by_addr.remove(a);
            }
        }
    }

    /// The transport a datagram from `source` belongs to. For a STUN request naming a known
    /// ufrag, `source` is (re)bound to that transport and returned in `learned` so the caller
    /// can remember it for cleanup.
    pub fn lookup(
        &mut self,
        source: SocketAddr,
        datagram: &[u8],
        learned: &mut Option<SocketAddr>,
    ) -> Option<TransportId> {
        *learned = None;
        if is_stun(datagram) {
            if let Some(peer) = self.peer_for_stun(datagram) {
                if self.by_addr.insert(source, peer) != Some(peer) {
                    *learned = Some(source);
                }
                return Some(peer);
            }
        }
        self.by_addr.get(&source).copied()
    }

    fn peer_for_stun(&self, datagram: &[u8]) -> Option<TransportId> {
        let msg = StunMessage::parse(datagram).ok()?;
        let (local, _remote) = msg.split_username()?;
        self.by_ufrag.get(local).copied()
    }

    /// Number of known addresses (for stats).
    pub fn addresses(&self) -> usize {
        self.by_addr.len()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use str0m::ice::{StunMessageBuilder, TransId};

    /// A STUN binding request with this USERNAME (`server ufrag:client ufrag`).
    pub(crate) fn binding_request(username: &str) -> Vec<u8> {
        let msg = StunMessageBuilder::new()
            .binding()
            .request()
            .username(username)
            .ice_controlling(1)
            .prio(1)
            .build(TransId::new());
        let mut buf = vec![0u8; 1500];
        let n = msg
            .to_bytes(Some(b"pass"), &mut buf, |_, _| [0u8; 20])
            .expect("serialize STUN");
        buf.truncate(n);
        buf
    }

    #[test]
    fn stun_binds_the_address_then_other_datagrams_follow_it() {
        let mut d = Demux::default();
        d.add("srvA".into(), TransportId(1));
        d.add("srvB".into(), TransportId(2));
        let a: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:5001".parse().unwrap();
        let mut learned = None;
        // DTLS from an unknown address: nobody.
        assert_eq!(d.lookup(a, &[22, 254, 253, 0], &mut learned), None);
        assert_eq!(
            d.lookup(a, &binding_request("srvA:cli1"), &mut learned),
            Some(TransportId(1))
        );
        assert_eq!(learned, Some(a));
        assert_eq!(
            d.lookup(b, &binding_request("srvB:cli2"), &mut learned),
            Some(TransportId(2))
        );
        assert_eq!(
            d.lookup(a, &[22, 254, 253, 0], &mut learned),
            Some(TransportId(1))
        );
        assert_eq!(learned, None);
        assert_eq!(
            d.lookup(b, &[0x80, 96, 0, 1], &mut learned),
            Some(TransportId(2))
        );
        d.remove("srvA", &[a], TransportId(1));
        assert_eq!(
            d.lookup(a, &binding_request("srvA:cli1"), &mut learned),
            None
        );
        assert_eq!(d.addresses(), 1);
        // An address that moved on to another transport survives the old one's removal.
        d.add("srvC".into(), TransportId(3));
        let moved = d.lookup(b, &binding_request("srvC:cli3"), &mut learned);
        assert_eq!(moved, Some(TransportId(3)));
        d.remove("srvB", &[b], TransportId(2));
        let dtls = d.lookup(b, &[22, 254, 253, 0], &mut learned);
        assert_eq!(dtls, Some(TransportId(3)));
    }

    #[test]
    fn garbage_and_unknown_ufrags_go_nowhere() {
        let mut d = Demux::default();
        d.add("srvA".into(), TransportId(1));
        let a: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mut learned = None;
        assert_eq!(
            d.lookup(a, &binding_request("other:cli"), &mut learned),
            None
        );
        let mut bogus = binding_request("srvA:cli");
        bogus.truncate(24);
        assert_eq!(d.lookup(a, &bogus, &mut learned), None);
        assert_eq!(d.lookup(a, &[], &mut learned), None);
    }
}
