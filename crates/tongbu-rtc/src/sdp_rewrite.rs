//! What Tongbu changes in the SDP text str0m writes, before a browser sees it.
//!
//! - Every audio section of an answer asks for [`AUDIO_PTIME_MS`] frames.
//! - An answer offers no RTCP feedback its offer did not (str0m answers `ccm fir` to an offer
//!   without it; RFC 8829 lets an answer only narrow the offer's feedback).
//! - Neither offer nor answer advertises trickle ICE: the server is ICE-lite, gathers nothing
//!   and never sends a candidate after its description.
//!
//! Text in, text out; lines are kept byte for byte apart from those removed or added.

/// Audio frames of this many milliseconds are asked of publishers (`a=ptime`, which browsers'
/// opus encoders follow). Each packet costs about 80 bytes of headers on the wire (Ethernet, IP,
/// UDP, RTP with its extensions, the SRTP tag): at 20 ms that is as much again as a 32 kbit/s
/// voice, at 40 ms half of it — 64 → 48 kbit/s a stream, which is what lets a classroom on a
/// 60 kbit/s link keep the teacher's voice, and halves the server's audio packets. It costs
/// 20 ms of delay.
pub const AUDIO_PTIME_MS: u32 = 40;

/// The answer str0m wrote to `offer`, made to conform (see the module's text).
pub fn answer(offer: &str, answer: &str) -> String {
    let offered = feedback_by_section(offer);
    let mut out = String::with_capacity(answer.len() + 64);
    let mut section: Option<usize> = None;
    let mut audio = false;
    let mut has_ptime = false;
    let close = |out: &mut String, audio: bool, has: bool| {
        if audio && !has {
            out.push_str(&format!("a=ptime:{AUDIO_PTIME_MS}\r\n"));
        }
    };
    for line in answer.split_inclusive('\n') {
        let text = line.trim_end();
        if text.starts_with("m=") {
            close(&mut out, audio, has_ptime);
            section = Some(section.map_or(0, |s| s + 1));
            audio = text.starts_with("m=audio");
            has_ptime = false;
        } else if text.starts_with("a=ptime:") {
            has_ptime = true;
        } else if let Some(fb) = text.strip_prefix("a=rtcp-fb:") {
            let allowed = section
                .and_then(|s| offered.get(s))
                .is_some_and(|o| offers_feedback(o, fb));
            if !allowed {
                continue;
            }
        } else if is_trickle(text) {
            continue;
        }
        out.push_str(line);
    }
    close(&mut out, audio, has_ptime);
    out
}

/// A server offer without the trickle ICE option.
pub fn offer(sdp: &str) -> String {
    sdp.split_inclusive('\n')
        .filter(|l| !is_trickle(l.trim_end()))
        .collect()
}

/// `a=ice-options:trickle` (the only option str0m writes).
fn is_trickle(line: &str) -> bool {
    line.strip_prefix("a=ice-options:")
        .is_some_and(|opts| opts.split_whitespace().all(|o| o == "trickle"))
}

/// Each media section's `a=rtcp-fb:` values, in order.
fn feedback_by_section(sdp: &str) -> Vec<Vec<&str>> {
    let mut sections: Vec<Vec<&str>> = Vec::new();
    for line in sdp.lines() {
        let line = line.trim_end();
        if line.starts_with("m=") {
            sections.push(Vec::new());
        } else if let (Some(fb), Some(s)) = (line.strip_prefix("a=rtcp-fb:"), sections.last_mut()) {
            s.push(fb);
        }
    }
    sections
}

/// Whether an answer's `<pt> <type> [<param>]` is among the offer's, for that payload type or
/// for every one (`*`).
fn offers_feedback(offered: &[&str], fb: &str) -> bool {
    let Some((pt, what)) = fb.split_once(' ') else {
        return false;
    };
    offered.iter().any(|o| {
        o.split_once(' ')
            .is_some_and(|(opt, owhat)| (opt == pt || opt == "*") && owhat == what)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_sections_ask_for_longer_frames_and_others_are_untouched() {
        let offer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ptime:20\r\n";
        assert_eq!(
            answer(offer, sdp),
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=ptime:40\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ptime:20\r\n"
        );
    }

    #[test]
    fn an_answer_keeps_only_the_feedback_its_offer_had_and_no_trickle() {
        let offer = "v=0\r\na=ice-options:trickle\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n\
            a=rtcp-fb:* transport-cc\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtcp-fb:96 ccm fir\r\n";
        let str0m = "v=0\r\na=ice-options:trickle\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-options:trickle\r\na=rtcp-fb:96 nack\r\n\
            a=rtcp-fb:96 nack pli\r\na=rtcp-fb:96 ccm fir\r\na=rtcp-fb:96 transport-cc\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 ccm fir\r\n";
        assert_eq!(
            answer(offer, str0m),
            "v=0\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtcp-fb:96 nack\r\n\
            a=rtcp-fb:96 nack pli\r\na=rtcp-fb:96 transport-cc\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtcp-fb:96 ccm fir\r\n"
        );
    }

    #[test]
    fn an_offer_loses_only_the_trickle_option() {
        let sdp = "v=0\r\na=ice-options:trickle\r\na=ice-lite\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-options:trickle renomination\r\n";
        assert_eq!(
            offer(sdp),
            "v=0\r\na=ice-lite\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-options:trickle renomination\r\n"
        );
    }
}
