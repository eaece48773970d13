//! A consumer: one producer delivered to one subscriber, its stream rewritten so the subscriber
//! sees one continuous sequence of numbers and timestamps. Its rewrite rules depend on the
//! producer: the simple ones ([`SimpleRules`]: one source) or a simulcast consumer's
//! ([`SimulcastConsumer`]: one layer at a time, switched on keyframes).

use crate::continuity::Pauses;
use crate::{ConsumerId, Layer, ParticipantId, ProducerId, SimulcastConsumer, StreamRewriter};

/// The rewrite of a producer with one encoding.
#[derive(Debug)]
pub struct SimpleRules {
    pub(crate) rewriter: StreamRewriter,
    /// Video only: nothing is forwarded until a keyframe starts, since the subscriber could not
    /// decode it.
    pub(crate) waiting_for_keyframe: bool,
}

/// How a consumer rewrites what it forwards. The simulcast rules are boxed: they are larger,
/// and the router walks a track's consumers for every packet, so the simple ones (every
/// microphone, every camera without layers) stay close together.
#[derive(Debug)]
pub enum Rules {
    Simple(SimpleRules),
    Simulcast(Box<SimulcastConsumer>),
}

/// The state of one producer forwarded to one subscriber.
#[derive(Debug)]
pub struct Consumer {
    pub(crate) id: ConsumerId,
    pub(crate) subscriber: ParticipantId,
    pub(crate) producer: ProducerId,
    pub(crate) pt: u8,
    pub(crate) rules: Rules,
    /// Video held back on purpose (audio first on the subscriber's weak link). A paused simple
    /// consumer also waits for a keyframe, so its fast path tests one flag; a paused simulcast
    /// consumer has no target layer.
    pub(crate) paused: bool,
    pub(crate) forwarded: u64,
    pub(crate) resent: u64,
    /// Its own pauses: packets of the producer it skipped while waiting for a keyframe.
    pub(crate) pauses: Pauses,
}

impl Consumer {
    /// Its id.
    pub fn id(&self) -> ConsumerId {
        self.id
    }

    /// Who receives it.
    pub fn subscriber(&self) -> ParticipantId {
        self.subscriber
    }

    /// Which producer it carries.
    pub fn producer(&self) -> ProducerId {
        self.producer
    }

    /// Whether it waits for a keyframe before it forwards anything.
    pub fn waiting_for_keyframe(&self) -> bool {
        match &self.rules {
            Rules::Simple(s) => s.waiting_for_keyframe,
            Rules::Simulcast(s) => s.current().is_none(),
        }
    }

    /// Whether its video is held back to keep the subscriber's audio.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// The layer it forwards now (`None` while it waits for a keyframe or is paused).
    pub fn layer(&self) -> Option<Layer> {
        match &self.rules {
            Rules::Simple(s) => (!s.waiting_for_keyframe).then_some(Layer::BASE),
            Rules::Simulcast(s) => s.current(),
        }
    }

    /// The layer it is to forward (the allocator's choice; the simple rules have one).
    pub fn target_layer(&self) -> Option<Layer> {
        match &self.rules {
            Rules::Simple(_) => (!self.paused).then_some(Layer::BASE),
            Rules::Simulcast(s) => s.target(),
        }
    }

    /// Its rules: simple or simulcast.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Its own pauses (video freezes while it waited for a keyframe), beyond the publisher's.
    pub fn pauses(&self) -> &Pauses {
        &self.pauses
    }

    /// Packets forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.forwarded
    }

    /// Packets sent again on its NACKs.
    pub fn resent(&self) -> u64 {
        self.resent
    }

    /// Its rewrite (sequence numbers and timestamps).
    pub fn rewriter(&self) -> &StreamRewriter {
        match &self.rules {
            Rules::Simple(s) => &s.rewriter,
            Rules::Simulcast(s) => s.rewriter(),
        }
    }
}
