//! The worker's whole forward path allocates nothing per subscriber-packet in steady state,
//! proven with a counting allocator: forwarding a publisher's datagram to 100 subscribers costs
//! exactly the allocations forwarding it to 10 does (those are str0m's, once per inbound packet:
//! the publisher's SRTP unprotect), and reading the subscribers' RTCP (receiver reports,
//! transport-wide feedback, NACKs answered from the cache) allocates nothing at all.
//!
//! Only allocations made by the test's own thread inside a measurement are counted
//! (`allocation-counter` keeps its counts per thread).

use str0m::media::MediaKind;
use tongbu_rtc::lab::Fanout;
use tongbu_rtc::rtcp::is_rtcp;

/// `f`'s result and the heap allocations (reallocations included) this thread made in it.
fn counted<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let mut r = None;
    let info = allocation_counter::measure(|| r = Some(f()));
    (r.expect("measured"), info.count_total as usize)
}

/// Allocations inside the worker while `packets` video and audio datagrams fan out to `n`
/// subscribers (each turn's outbox handed to the subscribers, as the socket would).
fn forward_allocations(n: u64, packets: usize) -> usize {
    let mut f = Fanout::new(n);
    let mut total = 0;
    for i in 0..packets + 50 {
        let (kind, len) = if i % 3 == 0 {
            (MediaKind::Audio, 160)
        } else {
            (MediaKind::Video, 1200)
        };
        let d = f.datagram(kind, len, false);
        let (out, allocs) = counted(|| f.forward(&d));
        assert_eq!(out, n as usize);
        // The first 50 warm the outbox and the caches up.
        if i >= 50 {
            total += allocs;
        }
        f.lab.deliver();
        f.lab.pump(5);
    }
    total
}

#[test]
fn no_allocation_per_subscriber_packet_on_the_forward_path() {
    let packets = 300;
    let ten = forward_allocations(10, packets);
    let hundred = forward_allocations(100, packets);
    eprintln!(
        "{packets} inbound packets: {ten} allocations to 10 subscribers, {hundred} to 100 \
         ({:.2} per inbound packet, all str0m's unprotect)",
        hundred as f64 / packets as f64
    );
    // One allocation per subscriber-packet would add 27,000; str0m's own per inbound packet
    // varies by a few with its timers.
    let per_subscriber_packet = (hundred as f64 - ten as f64) / (90.0 * packets as f64);
    assert!(
        per_subscriber_packet < 0.001,
        "{per_subscriber_packet} allocations per subscriber-packet ({ten} for 10, {hundred} for 100)"
    );
    assert!(
        ten <= packets * 8,
        "{ten} allocations for {packets} inbound packets"
    );
}

#[test]
fn subscribers_rtcp_is_read_without_allocating() {
    let mut f = Fanout::new(20);
    let subs: Vec<usize> = f.subscribers().collect();
    // A lossy subscriber keeps NACKs coming; everyone sends reports and feedback.
    let lossy = subs[0];
    let mut n = 0u32;
    f.lab.filter = Some(Box::new(move |peer, bytes| {
        if peer != lossy || is_rtcp(bytes) {
            return true;
        }
        n += 1;
        !n.is_multiple_of(17)
    }));
    let (mut rtcp, mut allocations) = (0, 0);
    for i in 0..400 {
        let d = f.datagram(MediaKind::Video, 1200, false);
        f.forward(&d);
        let subscribers: Vec<std::net::SocketAddr> =
            subs.iter().map(|&s| f.lab.peers[s].addr).collect();
        f.lab.pump_with(10, |w, src, data, now| {
            // Only the subscribers' RTCP is counted (the publisher's side is str0m's).
            if i >= 100 && subscribers.contains(&src) && is_rtcp(data) {
                let ((), a) = counted(|| w.receive_datagram(src, data, now));
                allocations += a;
                rtcp += 1;
            } else {
                w.receive_datagram(src, data, now);
            }
        });
    }
    let s = f.lab.worker.stats();
    eprintln!(
        "{rtcp} RTCP datagrams from subscribers, {allocations} allocations, {} retransmitted",
        s.retransmitted
    );
    assert!(rtcp > 500, "{rtcp}");
    assert!(s.retransmitted > 5, "NACKs were answered while counting");
    assert_eq!(allocations, 0);
}
