//! # tongbu-record — lessons recorded as they are forwarded
//!
//! Owns turning a published track's RTP packets, as the media workers forward them, into files
//! that browsers play without transcoding: whole frames out of packets ([`FrameAssembler`]), the
//! time of each frame on the recording's one timeline ([`TrackClock`]: a publisher's sender
//! reports keep its audio and video together), one file per track, restarted where the
//! picture's size changes ([`TrackFile`]: VP8 and opus in WebM through libwebm's muxer, H.264 in
//! fragmented MP4 through `mp4-atom`), and the [`Recorder`] that keeps a session's files and
//! says what it wrote.
//!
//! It must not touch sockets or the forwarding path: it takes copies of packets handed over a
//! bounded queue, and whatever it cannot keep up with is a counted gap, never a wait. Who is
//! recorded, and when, is the server's to decide; serving the files is the server's too.
//!
//! Why libwebm (the `webm` crate) and WebM: every major browser plays WebM with VP8 and opus, the
//! codecs Tongbu forwards by default, so a recording is the publishers' own frames with no
//! transcoding; libwebm is the muxer of the WebM project itself, and writes each frame as it is
//! added, with "unknown" sizes patched only when a file is finished, so a file cut short by a
//! crash still reads up to its last frame. H.264 does not go in WebM; it goes in fragmented MP4
//! (`moof` + `mdat` per frame, each whole on its own, so a crash loses at most the frame being
//! written), which every major browser plays too. `mp4-atom` encodes the boxes; H.264's RTP
//! payloads are reassembled here ([`h264_access_unit`]) and its SPS read by `h264-reader`.

pub mod frame_assembler;
pub mod h264_access_unit;
pub mod mp4_file;
pub mod recorder;
pub mod track_clock;
pub mod track_file;
pub mod webm_file;

pub use frame_assembler::{Frame, FrameAssembler};
pub use h264_access_unit::H264Config;
pub use mp4_file::Mp4File;
pub use recorder::{Packet, Recorder, RecorderStats, TrackInfo, TrackSummary, AV_WAIT};
pub use track_clock::TrackClock;
pub use track_file::{RecordError, TrackFile, TrackKind};
pub use webm_file::WebmFile;
