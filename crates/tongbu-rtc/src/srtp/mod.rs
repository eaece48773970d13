//! SRTP and SRTCP of our own (RFC 3711, RFC 7714) for the media Tongbu sends to subscribers.
//!
//! str0m keeps its SRTP contexts private and allocates a `Vec` for every datagram it protects;
//! the fan-out of one packet to a thousand subscribers cannot afford either. This module protects
//! in place, in the caller's buffer: the caller writes header and payload, leaves room for the
//! trailer ([`SrtpProfile::rtp_overhead`], [`SrtpProfile::rtcp_overhead`]), and gets the length
//! of the datagram back. Nothing here allocates per packet; the keys are expanded once, when a
//! transport's DTLS handshake hands them over ([`crate::key_capture`]).
//!
//! Profiles: `AEAD_AES_256_GCM` and `AEAD_AES_128_GCM` (RFC 7714; what Chromium, Firefox, str0m
//! and webrtc-rs prefer) and `AES128_CM_HMAC_SHA1_80` (RFC 3711; what every browser may still
//! negotiate). Session keys come from the master key and salt by the RFC 3711 §4.3 key
//! derivation with a key derivation rate of 0, as DTLS-SRTP (RFC 5764) requires ([`kdf`]).

mod context;
pub mod kdf;
mod replay;

pub use context::SrtpContext;

/// The SRTP protection profiles Tongbu protects with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpProfile {
    /// `SRTP_AES128_CM_HMAC_SHA1_80` (RFC 3711, RFC 5764).
    Aes128CmSha1_80,
    /// `SRTP_AEAD_AES_128_GCM` (RFC 7714).
    AeadAes128Gcm,
    /// `SRTP_AEAD_AES_256_GCM` (RFC 7714).
    AeadAes256Gcm,
}

impl SrtpProfile {
    /// Length of the master (and session) encryption key.
    pub fn key_len(self) -> usize {
        match self {
            SrtpProfile::Aes128CmSha1_80 | SrtpProfile::AeadAes128Gcm => 16,
            SrtpProfile::AeadAes256Gcm => 32,
        }
    }

    /// Length of the master (and session) salt.
    pub fn salt_len(self) -> usize {
        match self {
            SrtpProfile::Aes128CmSha1_80 => 14,
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => 12,
        }
    }

    /// Bytes an RTP packet grows by when protected (the authentication tag).
    pub fn rtp_overhead(self) -> usize {
        match self {
            SrtpProfile::Aes128CmSha1_80 => 10,
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => 16,
        }
    }

    /// Bytes an RTCP packet grows by when protected (tag and the E flag with the SRTCP index).
    pub fn rtcp_overhead(self) -> usize {
        self.rtp_overhead() + 4
    }

    /// Length of DTLS-SRTP keying material for this profile (RFC 5764 §4.2: both directions'
    /// keys, then both directions' salts).
    pub fn keying_material_len(self) -> usize {
        2 * (self.key_len() + self.salt_len())
    }
}

/// One direction's master key and salt, as DTLS-SRTP exports them.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    pub profile: SrtpProfile,
    key: [u8; 32],
    salt: [u8; 14],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("MasterKey")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// A master key and salt of `profile`'s lengths.
    pub fn new(profile: SrtpProfile, key: &[u8], salt: &[u8]) -> Result<Self, SrtpError> {
        if key.len() != profile.key_len() || salt.len() != profile.salt_len() {
            return Err(SrtpError::KeyLength {
                profile,
                key: key.len(),
                salt: salt.len(),
            });
        }
        let mut m = MasterKey {
            profile,
            key: [0; 32],
            salt: [0; 14],
        };
        m.key[..key.len()].copy_from_slice(key);
        m.salt[..salt.len()].copy_from_slice(salt);
        Ok(m)
    }

    /// The key bytes.
    pub fn key(&self) -> &[u8] {
        &self.key[..self.profile.key_len()]
    }

    /// The salt bytes.
    pub fn salt(&self) -> &[u8] {
        &self.salt[..self.profile.salt_len()]
    }
}

/// The two directions of one transport's SRTP, from its DTLS-SRTP keying material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportKeys {
    /// What we protect with.
    pub local: MasterKey,
    /// What the peer protects with (we unprotect its RTCP with it).
    pub remote: MasterKey,
}

impl TransportKeys {
    /// Splits RFC 5764 §4.2 keying material — client key | server key | client salt | server
    /// salt — by our DTLS role (`dtls_client`: we were the DTLS client).
    pub fn from_keying_material(
        profile: SrtpProfile,
        material: &[u8],
        dtls_client: bool,
    ) -> Result<Self, SrtpError> {
        if material.len() != profile.keying_material_len() {
            return Err(SrtpError::KeyingMaterial {
                profile,
                len: material.len(),
            });
        }
        let (k, s) = (profile.key_len(), profile.salt_len());
        let client = MasterKey::new(profile, &material[..k], &material[2 * k..2 * k + s])?;
        let server = MasterKey::new(profile, &material[k..2 * k], &material[2 * k + s..])?;
        let (local, remote) = if dtls_client {
            (client, server)
        } else {
            (server, client)
        };
        Ok(TransportKeys { local, remote })
    }
}

/// Why a packet could not be protected or unprotected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    #[error("{profile:?} needs a {}-byte key and a {}-byte salt, got {key} and {salt}", profile.key_len(), profile.salt_len())]
    KeyLength {
        profile: SrtpProfile,
        key: usize,
        salt: usize,
    },
    #[error("DTLS-SRTP keying material for {profile:?} is {} bytes, got {len}", profile.keying_material_len())]
    KeyingMaterial { profile: SrtpProfile, len: usize },
    #[error("the packet is too short for its header and SRTP trailer")]
    TooShort,
    #[error("the buffer has no room for the SRTP trailer")]
    NoRoom,
    #[error("the authentication tag does not match (wrong key, or the packet was altered)")]
    Authentication,
    #[error("the packet was seen before (replayed or duplicated)")]
    Replayed,
    #[error("the cipher refused the operation")]
    Cipher,
}

#[cfg(test)]
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keying_material_splits_by_dtls_role() {
        let p = SrtpProfile::AeadAes128Gcm;
        let material: Vec<u8> = (0..p.keying_material_len() as u8).collect();
        let as_client = TransportKeys::from_keying_material(p, &material, true).unwrap();
        assert_eq!(as_client.local.key(), &material[0..16]);
        assert_eq!(as_client.remote.key(), &material[16..32]);
        assert_eq!(as_client.local.salt(), &material[32..44]);
        assert_eq!(as_client.remote.salt(), &material[44..56]);
        let as_server = TransportKeys::from_keying_material(p, &material, false).unwrap();
        assert_eq!(as_server.local, as_client.remote);
        assert_eq!(as_server.remote, as_client.local);
        assert_eq!(
            TransportKeys::from_keying_material(p, &material[1..], false),
            Err(SrtpError::KeyingMaterial {
                profile: p,
                len: 55
            })
        );
        assert!(!format!("{:?}", as_client.local).contains("0, 1, 2"));
    }
}
