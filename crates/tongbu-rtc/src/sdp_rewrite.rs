//! What Tongbu changes in the SDP text str0m writes, before a browser sees it.
//!
//! - Every audio section of an answer asks for [`AUDIO_PTIME_MS`] frames, and for DTX in
//!   opus's format parameters (str0m 0.25 links RED to opus only through its own opus
//!   configuration, which has no DTX).
//! - An audio section that answers redundant audio (RED, RFC 2198) lists it first, so that the
//!   offerer sends it: a browser sends with the first codec of the answer, and sends RED only
//!   when it is that codec.
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
    let audio_pts = audio_pts_by_section(answer);
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
        let pts = section.and_then(|s| audio_pts.get(s)).copied().flatten();
        if text.starts_with("m=") {
            close(&mut out, audio, has_ptime);
            let s = section.map_or(0, |s| s + 1);
            section = Some(s);
            audio = text.starts_with("m=audio");
            has_ptime = false;
            if let Some(AudioPts { red: Some(red), .. }) = audio_pts.get(s).copied().flatten() {
                out.push_str(&red_first(text, red));
                out.push_str("\r\n");
                continue;
            }
        } else if let Some(fmtp) = pts.and_then(|p| opus_fmtp(text, p.opus)) {
            if !fmtp.split(';').any(|f| f.trim().starts_with("usedtx=")) {
                out.push_str(text);
                out.push_str(";usedtx=1\r\n");
                continue;
            }
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

/// The payload types of opus and RED in an audio section.
#[derive(Debug, Clone, Copy)]
struct AudioPts<'a> {
    opus: Option<&'a str>,
    red: Option<&'a str>,
}

/// Each media section's opus and RED payload types (`None` for a section that is not audio).
fn audio_pts_by_section(sdp: &str) -> Vec<Option<AudioPts<'_>>> {
    let mut sections: Vec<Option<AudioPts<'_>>> = Vec::new();
    for line in sdp.lines() {
        let line = line.trim_end();
        if line.starts_with("m=") {
            sections.push(line.starts_with("m=audio").then_some(AudioPts {
                opus: None,
                red: None,
            }));
        } else if let (Some(map), Some(Some(s))) =
            (line.strip_prefix("a=rtpmap:"), sections.last_mut())
        {
            let Some((pt, codec)) = map.split_once(' ') else {
                continue;
            };
            let name = codec.split('/').next().unwrap_or_default();
            if name.eq_ignore_ascii_case("opus") {
                s.opus = Some(pt);
            } else if name.eq_ignore_ascii_case("red") {
                s.red = Some(pt);
            }
        }
    }
    sections
}

/// An `m=` line with payload type `red` moved to the front of its formats.
fn red_first(m_line: &str, red: &str) -> String {
    let mut words: Vec<&str> = m_line.split(' ').collect();
    if words.len() > 3 {
        let formats = &mut words[3..];
        if let Some(i) = formats.iter().position(|&f| f == red) {
            formats[..=i].rotate_right(1);
        }
    }
    words.join(" ")
}

/// The format parameters of an `a=fmtp:` line for payload type `opus`.
fn opus_fmtp<'a>(line: &'a str, opus: Option<&str>) -> Option<&'a str> {
    let (pt, params) = line.strip_prefix("a=fmtp:")?.split_once(' ')?;
    (Some(pt) == opus).then_some(params)
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
    fn redundant_audio_is_answered_first_and_opus_asks_for_dtx() {
        let offer =
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n";
        let str0m = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n\
            a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
            a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=fmtp:96 x=1\r\n";
        assert_eq!(
            answer(offer, str0m),
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\n\
            a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1;usedtx=1\r\n\
            a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\na=ptime:40\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=fmtp:96 x=1\r\n"
        );
        // Without RED, opus stays first; a DTX already asked for is not asked again.
        let str0m = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
            a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;usedtx=0\r\n";
        assert_eq!(
            answer(offer, str0m),
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
            a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;usedtx=0\r\na=ptime:40\r\n"
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
