//! Identifiers of the things the router forwards between (mediasoup's vocabulary: a producer is
//! a published track, a consumer is one producer delivered to one subscriber).

use std::fmt;

/// One person or classroom connected to a session (one signaling connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub u64);

/// One incoming (published) track: a camera, a microphone, a shared screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProducerId(pub u64);

/// One producer delivered to one subscriber. Chosen by the I/O edge as a small dense index (a
/// slab key of its own consumer table): the router indexes its consumers by it, and every
/// forwarded packet carries it back, so neither side hashes per copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConsumerId(pub u32);

impl ConsumerId {
    /// The index it stands for.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

impl fmt::Display for ProducerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

impl fmt::Display for ConsumerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}
