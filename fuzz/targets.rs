//! What each fuzz target does with its input: the parsers that meet the network or a file.
//! Shared by the libFuzzer binaries (`fuzz_targets/`, run with `cargo +nightly fuzz run NAME`)
//! and by `tests/fuzz_corpus.rs`, which replays the committed corpus on stable in every test run.
//! Each must return, never panic, whatever the bytes.

#![allow(dead_code)]

/// A signaling message as a client could send it.
pub fn signaling(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tongbu_signal::parse_client_message(text);
    }
}

/// A datagram on the media port: the STUN check that routes it, then, read as a decrypted
/// compound RTCP packet, every packet and everything inside it (report blocks, NACKs, FIR
/// entries, transport-wide feedback).
pub fn media_datagram(data: &[u8]) {
    use tongbu_rtc::rtcp::{Rtcp, RtcpPackets};
    let _ = tongbu_rtc::demux::is_stun(data);
    let _ = tongbu_rtc::demux::stun_worker(data);
    thread_local! {
        // Made once: its send history is large, and the fuzzer calls this millions of times.
        static TWCC: tongbu_rtc::twcc::TwccSender = tongbu_rtc::twcc::TwccSender::default();
    }
    for packet in RtcpPackets::new(data) {
        match packet {
            Ok(Rtcp::Report { blocks, .. }) => blocks.for_each(drop),
            Ok(Rtcp::Nack { lost, .. }) => lost.for_each(drop),
            Ok(Rtcp::Fir { entries }) => Rtcp::fir_ssrcs(entries).for_each(drop),
            Ok(Rtcp::TransportFeedback { fci }) => {
                let _ = TWCC.with(|twcc| twcc.on_feedback(fci, drop));
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
}

/// A term's timetable file, as CSV and as JSON.
pub fn timetable(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tongbu_schedule::import::Timetable::from_csv(text);
        let _ = tongbu_schedule::import::Timetable::from_json(text);
    }
}

/// An SDP offer and str0m's answer (split at the first NUL), through Tongbu's rewrite.
pub fn sdp(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (offer, answer) = text.split_once('\0').unwrap_or((&text, ""));
    let _ = tongbu_rtc::sdp_rewrite::answer(offer, answer);
    let _ = tongbu_rtc::sdp_rewrite::offer(offer);
}

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target by name, for the corpus replay.
pub const ALL: &[(&str, Target)] = &[
    ("signaling", signaling),
    ("media_datagram", media_datagram),
    ("timetable", timetable),
    ("sdp", sdp),
];
