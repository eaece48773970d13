//! One direction's SRTP and SRTCP crypto: protect what we send, unprotect what the peer sends.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::cipher::{EncryptingKey, EncryptionContext, UnboundCipherKey, AES_128};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;

use super::kdf::{derive, Label};
use super::replay::ReplayWindow;
use super::{MasterKey, SrtpError, SrtpProfile};

const RTP_HEADER: usize = 12;
const RTCP_HEADER: usize = 8;
const GCM_TAG: usize = 16;
const HMAC_TAG: usize = 10;
/// The E flag of the SRTCP trailer: the packet is encrypted.
const E_FLAG: u32 = 0x8000_0000;
/// SSRCs whose SRTCP a context remembers for replay checks (a subscriber sends from one or two).
const REPLAY_SSRCS: usize = 8;

/// The session keys of RTP or RTCP in one direction.
enum Keys {
    /// What browsers negotiate: 36 bytes here (aws-lc keeps the key schedule on its heap).
    Gcm { key: LessSafeKey, salt: [u8; 12] },
    /// Boxed: inline, its 1.7 KB HMAC and AES state made every subscriber's egress 7.5 KB and
    /// spread the few bytes each GCM copy reads over distant cache lines (measured on the
    /// forward path at N = 1000).
    Cm(Box<CmKeys>),
}

/// AES_CM_128_HMAC_SHA1_80's keys.
struct CmKeys {
    key: EncryptingKey,
    auth: hmac::Key,
    salt: [u8; 14],
}

impl Keys {
    fn new(profile: SrtpProfile, key: &[u8], salt: &[u8], auth: &[u8]) -> Result<Self, SrtpError> {
        Ok(match profile {
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => {
                let algorithm = if profile == SrtpProfile::AeadAes128Gcm {
                    &AES_128_GCM
                } else {
                    &AES_256_GCM
                };
                let key = UnboundKey::new(algorithm, key).map_err(|_| SrtpError::Cipher)?;
                let mut s = [0u8; 12];
                s.copy_from_slice(salt);
                Keys::Gcm {
                    key: LessSafeKey::new(key),
                    salt: s,
                }
            }
            SrtpProfile::Aes128CmSha1_80 => {
                let key = UnboundCipherKey::new(&AES_128, key)
                    .and_then(EncryptingKey::ctr)
                    .map_err(|_| SrtpError::Cipher)?;
                let mut s = [0u8; 14];
                s.copy_from_slice(salt);
                Keys::Cm(Box::new(CmKeys {
                    key,
                    auth: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, auth),
                    salt: s,
                }))
            }
        })
    }

    fn derive(master: &MasterKey, rtcp: bool) -> Result<Self, SrtpError> {
        let p = master.profile;
        let (l_key, l_auth, l_salt) = if rtcp {
            (
                Label::RtcpEncryption,
                Label::RtcpAuthentication,
                Label::RtcpSalt,
            )
        } else {
            (
                Label::RtpEncryption,
                Label::RtpAuthentication,
                Label::RtpSalt,
            )
        };
        let mut key = [0u8; 32];
        let mut salt = [0u8; 14];
        let mut auth = [0u8; 20];
        derive(master, l_key, &mut key[..p.key_len()])?;
        derive(master, l_salt, &mut salt[..p.salt_len()])?;
        if p == SrtpProfile::Aes128CmSha1_80 {
            derive(master, l_auth, &mut auth)?;
        }
        Keys::new(p, &key[..p.key_len()], &salt[..p.salt_len()], &auth)
    }
}

/// The keys of one SRTP session in one direction (RTP and RTCP), with the SRTCP index we send
/// with and the replay windows of the SRTCP we receive.
pub struct SrtpContext {
    profile: SrtpProfile,
    rtp: Keys,
    rtcp: Keys,
    next_rtcp_index: u32,
    replay: [(u32, ReplayWindow); REPLAY_SSRCS],
    replay_used: usize,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpContext")
            .field("profile", &self.profile)
            .field("next_rtcp_index", &self.next_rtcp_index)
            .finish_non_exhaustive()
    }
}

/// Session keys given directly (RFC 7714's test vectors are stated in them).
#[derive(Debug, Clone, Copy)]
pub struct SessionKeys<'a> {
    pub rtp_key: &'a [u8],
    pub rtp_salt: &'a [u8],
    pub rtp_auth: &'a [u8],
    pub rtcp_key: &'a [u8],
    pub rtcp_salt: &'a [u8],
    pub rtcp_auth: &'a [u8],
}

impl SrtpContext {
    /// The context of one direction, its session keys derived from `master`.
    pub fn new(master: &MasterKey) -> Result<Self, SrtpError> {
        Ok(Self::with_keys(
            master.profile,
            Keys::derive(master, false)?,
            Keys::derive(master, true)?,
        ))
    }

    /// A context from session keys (no derivation).
    pub fn from_session_keys(
        profile: SrtpProfile,
        keys: SessionKeys<'_>,
    ) -> Result<Self, SrtpError> {
        Ok(Self::with_keys(
            profile,
            Keys::new(profile, keys.rtp_key, keys.rtp_salt, keys.rtp_auth)?,
            Keys::new(profile, keys.rtcp_key, keys.rtcp_salt, keys.rtcp_auth)?,
        ))
    }

    fn with_keys(profile: SrtpProfile, rtp: Keys, rtcp: Keys) -> Self {
        SrtpContext {
            profile,
            rtp,
            rtcp,
            next_rtcp_index: 0,
            replay: [(0, ReplayWindow::default()); REPLAY_SSRCS],
            replay_used: 0,
        }
    }

    /// The profile.
    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// Sets the SRTCP index the next protected RTCP packet carries (31 bits).
    pub fn set_next_rtcp_index(&mut self, index: u32) {
        self.next_rtcp_index = index & !E_FLAG;
    }

    /// Protects the RTP packet in `buf[..len]` (its header is `buf[..header_len]`, payload the
    /// rest) in place, with rollover counter `roc`, and appends the tag. `buf` must have
    /// [`SrtpProfile::rtp_overhead`] bytes of room after `len`. Returns the datagram's length.
    pub fn protect_rtp(
        &self,
        buf: &mut [u8],
        header_len: usize,
        len: usize,
        roc: u32,
    ) -> Result<usize, SrtpError> {
        if len < RTP_HEADER || header_len < RTP_HEADER || header_len > len {
            return Err(SrtpError::TooShort);
        }
        let end = len + self.profile.rtp_overhead();
        if buf.len() < end {
            return Err(SrtpError::NoRoom);
        }
        let ssrc: [u8; 4] = [buf[8], buf[9], buf[10], buf[11]];
        let seq: [u8; 2] = [buf[2], buf[3]];
        match &self.rtp {
            Keys::Gcm { key, salt } => {
                let nonce = gcm_nonce(salt, ssrc, roc.to_be_bytes(), seq);
                let (header, rest) = buf.split_at_mut(header_len);
                let (payload, trailer) = rest.split_at_mut(len - header_len);
                let tag = key
                    .seal_in_place_separate_tag(nonce, Aad::from(&*header), payload)
                    .map_err(|_| SrtpError::Cipher)?;
                trailer[..GCM_TAG].copy_from_slice(tag.as_ref());
            }
            Keys::Cm(cm) => {
                let CmKeys { key, auth, salt } = &**cm;
                let iv = cm_iv(salt, ssrc, roc, u32::from(u16::from_be_bytes(seq)), false);
                ctr(key, iv, &mut buf[header_len..len])?;
                let tag = cm_tag(auth, &buf[..len], Some(roc));
                buf[len..end].copy_from_slice(&tag.as_ref()[..HMAC_TAG]);
            }
        }
        Ok(end)
    }

    /// Verifies and decrypts the SRTP packet `buf` (header of `header_len` bytes) in place.
    /// Returns the length of the plain RTP packet at the front of `buf`.
    pub fn unprotect_rtp(
        &self,
        buf: &mut [u8],
        header_len: usize,
        roc: u32,
    ) -> Result<usize, SrtpError> {
        let overhead = self.profile.rtp_overhead();
        if header_len < RTP_HEADER || buf.len() < header_len + overhead {
            return Err(SrtpError::TooShort);
        }
        let ssrc: [u8; 4] = [buf[8], buf[9], buf[10], buf[11]];
        let seq: [u8; 2] = [buf[2], buf[3]];
        match &self.rtp {
            Keys::Gcm { key, salt } => {
                let nonce = gcm_nonce(salt, ssrc, roc.to_be_bytes(), seq);
                let (header, rest) = buf.split_at_mut(header_len);
                let plain = key
                    .open_in_place(nonce, Aad::from(&*header), rest)
                    .map_err(|_| SrtpError::Authentication)?;
                Ok(header_len + plain.len())
            }
            Keys::Cm(cm) => {
                let CmKeys { key, auth, salt } = &**cm;
                let len = buf.len() - overhead;
                let tag = cm_tag(auth, &buf[..len], Some(roc));
                verify_slices_are_equal(&tag.as_ref()[..HMAC_TAG], &buf[len..])
                    .map_err(|_| SrtpError::Authentication)?;
                let iv = cm_iv(salt, ssrc, roc, u32::from(u16::from_be_bytes(seq)), false);
                ctr(key, iv, &mut buf[header_len..len])?;
                Ok(len)
            }
        }
    }

    /// Protects the RTCP compound packet in `buf[..len]` in place and appends the SRTCP trailer
    /// (RFC 3711 §3.4, RFC 7714 §9): `buf` must have [`SrtpProfile::rtcp_overhead`] bytes of
    /// room after `len`. Returns the datagram's length.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        if len < RTCP_HEADER {
            return Err(SrtpError::TooShort);
        }
        let end = len + self.profile.rtcp_overhead();
        if buf.len() < end {
            return Err(SrtpError::NoRoom);
        }
        let index = self.next_rtcp_index;
        self.next_rtcp_index = (index + 1) & !E_FLAG;
        let trailer = (E_FLAG | index).to_be_bytes();
        let ssrc: [u8; 4] = [buf[4], buf[5], buf[6], buf[7]];
        match &self.rtcp {
            Keys::Gcm { key, salt } => {
                let nonce = gcm_rtcp_nonce(salt, ssrc, index);
                let mut aad = [0u8; RTCP_HEADER + 4];
                aad[..RTCP_HEADER].copy_from_slice(&buf[..RTCP_HEADER]);
                aad[RTCP_HEADER..].copy_from_slice(&trailer);
                let tag = key
                    .seal_in_place_separate_tag(
                        nonce,
                        Aad::from(&aad[..]),
                        &mut buf[RTCP_HEADER..len],
                    )
                    .map_err(|_| SrtpError::Cipher)?;
                buf[len..len + GCM_TAG].copy_from_slice(tag.as_ref());
                buf[len + GCM_TAG..end].copy_from_slice(&trailer);
            }
            Keys::Cm(cm) => {
                let CmKeys { key, auth, salt } = &**cm;
                let iv = cm_iv(salt, ssrc, 0, index, true);
                ctr(key, iv, &mut buf[RTCP_HEADER..len])?;
                buf[len..len + 4].copy_from_slice(&trailer);
                let tag = cm_tag(auth, &buf[..len + 4], None);
                buf[len + 4..end].copy_from_slice(&tag.as_ref()[..HMAC_TAG]);
            }
        }
        Ok(end)
    }

    /// Verifies and decrypts the SRTCP packet `buf` in place, refusing replays. Returns the
    /// length of the plain RTCP compound packet at the front of `buf`.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        let total = buf.len();
        if total < RTCP_HEADER + self.profile.rtcp_overhead() {
            return Err(SrtpError::TooShort);
        }
        let ssrc: [u8; 4] = [buf[4], buf[5], buf[6], buf[7]];
        // Where the E flag and index sit: last for GCM, before the tag for AES-CM.
        let trailer_at = match self.rtcp {
            Keys::Gcm { .. } => total - 4,
            Keys::Cm(_) => total - HMAC_TAG - 4,
        };
        let mut trailer = [0u8; 4];
        trailer.copy_from_slice(&buf[trailer_at..trailer_at + 4]);
        let word = u32::from_be_bytes(trailer);
        let (encrypted, index) = (word & E_FLAG != 0, word & !E_FLAG);
        if !self.window(u32::from_be_bytes(ssrc)).is_new(index) {
            return Err(SrtpError::Replayed);
        }
        let len = match &self.rtcp {
            Keys::Gcm { key, salt } => {
                let nonce = gcm_rtcp_nonce(salt, ssrc, index);
                let body_end = trailer_at - GCM_TAG;
                if encrypted {
                    let mut aad = [0u8; RTCP_HEADER + 4];
                    aad[..RTCP_HEADER].copy_from_slice(&buf[..RTCP_HEADER]);
                    aad[RTCP_HEADER..].copy_from_slice(&trailer);
                    key.open_in_place(
                        nonce,
                        Aad::from(&aad[..]),
                        &mut buf[RTCP_HEADER..trailer_at],
                    )
                    .map_err(|_| SrtpError::Authentication)?;
                } else {
                    // Authenticated only: the packet and the trailer are the associated data.
                    let mut tag = [0u8; GCM_TAG];
                    tag.copy_from_slice(&buf[body_end..trailer_at]);
                    buf[body_end..body_end + 4].copy_from_slice(&trailer);
                    key.open_in_place(nonce, Aad::from(&buf[..body_end + 4]), &mut tag)
                        .map_err(|_| SrtpError::Authentication)?;
                }
                body_end
            }
            Keys::Cm(cm) => {
                let CmKeys { key, auth, salt } = &**cm;
                let tag = cm_tag(auth, &buf[..trailer_at + 4], None);
                verify_slices_are_equal(&tag.as_ref()[..HMAC_TAG], &buf[trailer_at + 4..])
                    .map_err(|_| SrtpError::Authentication)?;
                if encrypted {
                    let iv = cm_iv(salt, ssrc, 0, index, true);
                    ctr(key, iv, &mut buf[RTCP_HEADER..trailer_at])?;
                }
                trailer_at
            }
        };
        self.window(u32::from_be_bytes(ssrc)).accept(index);
        Ok(len)
    }

    fn window(&mut self, ssrc: u32) -> &mut ReplayWindow {
        let used = self.replay_used;
        let at = self.replay[..used].iter().position(|(s, _)| *s == ssrc);
        let i = match at {
            Some(i) => i,
            None if used < REPLAY_SSRCS => {
                self.replay[used] = (ssrc, ReplayWindow::default());
                self.replay_used += 1;
                used
            }
            // More senders than a subscriber has: forget the oldest.
            None => {
                self.replay.rotate_left(1);
                self.replay[REPLAY_SSRCS - 1] = (ssrc, ReplayWindow::default());
                REPLAY_SSRCS - 1
            }
        };
        &mut self.replay[i].1
    }
}

/// RFC 7714 §8.1: `00 00 | SSRC | ROC | SEQ`, XOR the salt.
fn gcm_nonce(salt: &[u8; 12], ssrc: [u8; 4], roc: [u8; 4], seq: [u8; 2]) -> Nonce {
    let mut iv = [0u8; NONCE_LEN];
    iv[2..6].copy_from_slice(&ssrc);
    iv[6..10].copy_from_slice(&roc);
    iv[10..12].copy_from_slice(&seq);
    for (b, s) in iv.iter_mut().zip(salt) {
        *b ^= s;
    }
    Nonce::assume_unique_for_key(iv)
}

/// RFC 7714 §9.1: `00 00 | SSRC | 00 00 | 0 | SRTCP index`, XOR the salt.
fn gcm_rtcp_nonce(salt: &[u8; 12], ssrc: [u8; 4], index: u32) -> Nonce {
    let mut iv = [0u8; NONCE_LEN];
    iv[2..6].copy_from_slice(&ssrc);
    iv[8..12].copy_from_slice(&index.to_be_bytes());
    for (b, s) in iv.iter_mut().zip(salt) {
        *b ^= s;
    }
    Nonce::assume_unique_for_key(iv)
}

/// RFC 3711 §4.1.1: `salt·2^16 XOR SSRC·2^64 XOR index·2^16`, where the index is `ROC·2^16 +
/// SEQ` for SRTP and the 31-bit SRTCP index for SRTCP.
fn cm_iv(salt: &[u8; 14], ssrc: [u8; 4], roc: u32, low: u32, rtcp: bool) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(salt);
    for (b, s) in iv[4..8].iter_mut().zip(ssrc) {
        *b ^= s;
    }
    let mut index = [0u8; 6];
    if rtcp {
        index[2..].copy_from_slice(&low.to_be_bytes());
    } else {
        index[..4].copy_from_slice(&roc.to_be_bytes());
        index[4..].copy_from_slice(&(low as u16).to_be_bytes());
    }
    for (b, s) in iv[8..14].iter_mut().zip(index) {
        *b ^= s;
    }
    iv
}

fn ctr(key: &EncryptingKey, iv: [u8; 16], data: &mut [u8]) -> Result<(), SrtpError> {
    if data.is_empty() {
        return Ok(());
    }
    key.less_safe_encrypt(data, EncryptionContext::Iv128(FixedLength::from(iv)))
        .map(|_| ())
        .map_err(|_| SrtpError::Cipher)
}

/// HMAC-SHA1 over the authenticated portion, and for SRTP the rollover counter after it.
fn cm_tag(key: &hmac::Key, data: &[u8], roc: Option<u32>) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(data);
    if let Some(roc) = roc {
        ctx.update(&roc.to_be_bytes());
    }
    ctx.sign()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srtp::{hex, MasterKey};

    #[test]
    fn a_context_is_small_whatever_its_profile() {
        // Each subscriber's egress holds two: inline CM keys made each 3.7 KB (see `Keys`).
        assert!(std::mem::size_of::<SrtpContext>() <= 512);
    }

    // RFC 7714 §16–17: keys and salt are session keys (no derivation).
    const KEY_128: &str = "000102030405060708090a0b0c0d0e0f";
    const KEY_256: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const SALT: &str = "517569642070726f2071756f";
    /// §16: SSRC 0x5501a0b2, sequence number 0xf17b, ROC 0, "Gallia est omnis divisa…".
    const RTP: &str = "8040f17b8041f8d35501a0b2\
        47616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573";
    const SRTP_128: &str = "8040f17b8041f8d35501a0b2\
        f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833\
        899d7f27beb16a9152cf765ee4390cce";
    const SRTP_256: &str = "8040f17b8041f8d35501a0b2\
        32b1de78a822fe12ef9f78fa332e33aab18012389a58e2f3b50b2a0276ffae0f1ba63799b87b\
        7aa3db36dfffd6b0f9bb7878d7a76c13";
    /// §17: an SR from SSRC "Mars", SRTCP index 0x5d4.
    const RTCP: &str = "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61\
        deadbeefdeadbeefdeadbeefdeadbeefdeadbeef";
    const SRTCP_128: &str = "81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32d\
        c676a5f1730d6fda4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf87245d9eade800005d4";
    const SRTCP_256: &str = "81c8000d4d617273d50ae4d1f5ce5d304ba297e47d470c282c3ece5dbffe0a50\
        a2eaa5c1110555be8415f658c61de0476f1b6fad1d1eb30c4446839f57ff6f6cb26ac3be800005d4";
    /// §17.3: authenticated, not encrypted (E = 0).
    const SRTCP_128_AUTH_ONLY: &str = "81c8000d4d6172734e5450314e545032525450200000042a0000e930\
        4c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef841dd9683dd78ec92ae58790125f62b3\
        000005d4";

    fn rfc_7714(profile: SrtpProfile, key: &str) -> SrtpContext {
        let (key, salt) = (hex(key), hex(SALT));
        SrtpContext::from_session_keys(
            profile,
            SessionKeys {
                rtp_key: &key,
                rtp_salt: &salt,
                rtp_auth: &[],
                rtcp_key: &key,
                rtcp_salt: &salt,
                rtcp_auth: &[],
            },
        )
        .unwrap()
    }

    fn protect(ctx: &SrtpContext, plain: &[u8], header_len: usize, roc: u32) -> Vec<u8> {
        let mut buf = plain.to_vec();
        buf.resize(plain.len() + ctx.profile().rtp_overhead(), 0);
        let n = ctx
            .protect_rtp(&mut buf, header_len, plain.len(), roc)
            .unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn rfc_7714_srtp_vectors() {
        for (profile, key, want) in [
            (SrtpProfile::AeadAes128Gcm, KEY_128, SRTP_128),
            (SrtpProfile::AeadAes256Gcm, KEY_256, SRTP_256),
        ] {
            let ctx = rfc_7714(profile, key);
            assert_eq!(protect(&ctx, &hex(RTP), 12, 0), hex(want), "{profile:?}");
            let mut buf = hex(want);
            let n = ctx.unprotect_rtp(&mut buf, 12, 0).unwrap();
            assert_eq!(&buf[..n], &hex(RTP)[..], "{profile:?}");
            // One bit changed anywhere, or another ROC: refused.
            let mut bad = hex(want);
            bad[20] ^= 1;
            assert_eq!(
                ctx.unprotect_rtp(&mut bad, 12, 0),
                Err(SrtpError::Authentication)
            );
            let mut other_roc = hex(want);
            assert_eq!(
                ctx.unprotect_rtp(&mut other_roc, 12, 1),
                Err(SrtpError::Authentication)
            );
        }
    }

    #[test]
    fn rfc_7714_srtcp_vectors() {
        for (profile, key, want) in [
            (SrtpProfile::AeadAes128Gcm, KEY_128, SRTCP_128),
            (SrtpProfile::AeadAes256Gcm, KEY_256, SRTCP_256),
        ] {
            let mut ctx = rfc_7714(profile, key);
            ctx.set_next_rtcp_index(0x5d4);
            let plain = hex(RTCP);
            let mut buf = plain.clone();
            buf.resize(plain.len() + profile.rtcp_overhead(), 0);
            let n = ctx.protect_rtcp(&mut buf, plain.len()).unwrap();
            assert_eq!(&buf[..n], &hex(want)[..], "{profile:?}");

            let mut rx = rfc_7714(profile, key);
            let mut buf = hex(want);
            let n = rx.unprotect_rtcp(&mut buf).unwrap();
            assert_eq!(&buf[..n], &plain[..], "{profile:?}");
            let mut again = hex(want);
            assert_eq!(rx.unprotect_rtcp(&mut again), Err(SrtpError::Replayed));
        }
        let mut rx = rfc_7714(SrtpProfile::AeadAes128Gcm, KEY_128);
        let mut buf = hex(SRTCP_128_AUTH_ONLY);
        let n = rx.unprotect_rtcp(&mut buf).unwrap();
        assert_eq!(&buf[..n], &hex(RTCP)[..], "E = 0: authenticated only");
    }

    fn master(profile: SrtpProfile, seed: u8) -> MasterKey {
        let key: Vec<u8> = (0..profile.key_len() as u8).map(|b| b ^ seed).collect();
        let salt: Vec<u8> = (0..profile.salt_len() as u8)
            .map(|b| b.wrapping_mul(7) ^ seed)
            .collect();
        MasterKey::new(profile, &key, &salt).unwrap()
    }

    const ALL: [SrtpProfile; 3] = [
        SrtpProfile::Aes128CmSha1_80,
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm,
    ];

    #[test]
    fn every_profile_round_trips_rtp_and_rtcp_with_an_extension_header() {
        for profile in ALL {
            let m = master(profile, 0x33);
            let tx = SrtpContext::new(&m).unwrap();
            let rx = SrtpContext::new(&m).unwrap();
            // Header with a one-byte extension block (X bit, 8 more bytes).
            let mut plain = hex("9060abcd0001e2400badcafe bede0001 31007700");
            plain.extend_from_slice(&[0x5a; 300]);
            let sealed = protect(&tx, &plain, 20, 3);
            assert_eq!(sealed.len(), plain.len() + profile.rtp_overhead());
            assert_eq!(&sealed[..20], &plain[..20], "the header stays clear");
            assert_ne!(&sealed[20..320], &plain[20..], "the payload is encrypted");
            let mut buf = sealed.clone();
            let n = rx.unprotect_rtp(&mut buf, 20, 3).unwrap();
            assert_eq!(&buf[..n], &plain[..], "{profile:?}");
            let mut wrong = sealed.clone();
            assert!(
                rx.unprotect_rtp(&mut wrong, 20, 2).is_err(),
                "{profile:?} ROC"
            );

            let mut rtcp_tx = SrtpContext::new(&m).unwrap();
            let mut rtcp_rx = SrtpContext::new(&m).unwrap();
            let rr = hex("81c90007 0badcafe 12345678 01000005 0000ffff 00000010 00000000 00000000");
            for i in 0..3 {
                let mut buf = rr.clone();
                buf.resize(rr.len() + profile.rtcp_overhead(), 0);
                let n = rtcp_tx.protect_rtcp(&mut buf, rr.len()).unwrap();
                buf.truncate(n);
                let trailer = u32::from_be_bytes(
                    buf[n
                        - 4
                        - if profile == SrtpProfile::Aes128CmSha1_80 {
                            10
                        } else {
                            0
                        }..][..4]
                        .try_into()
                        .unwrap(),
                );
                assert_eq!(trailer, 0x8000_0000 | i, "E flag and index {i}");
                let mut copy = buf.clone();
                let m = rtcp_rx.unprotect_rtcp(&mut buf).unwrap();
                assert_eq!(&buf[..m], &rr[..], "{profile:?}");
                assert_eq!(rtcp_rx.unprotect_rtcp(&mut copy), Err(SrtpError::Replayed));
            }
            let mut short = vec![0x81, 0xc9, 0, 1];
            assert_eq!(rtcp_rx.unprotect_rtcp(&mut short), Err(SrtpError::TooShort));
        }
    }

    #[test]
    fn no_room_and_short_packets_are_errors_not_panics() {
        let tx = SrtpContext::new(&master(SrtpProfile::AeadAes128Gcm, 1)).unwrap();
        let mut buf = vec![0x80u8; 40];
        assert_eq!(tx.protect_rtp(&mut buf, 12, 40, 0), Err(SrtpError::NoRoom));
        assert_eq!(tx.protect_rtp(&mut buf, 12, 8, 0), Err(SrtpError::TooShort));
        let mut tiny = vec![0x80u8; 20];
        assert_eq!(tx.unprotect_rtp(&mut tiny, 12, 0), Err(SrtpError::TooShort));
    }

    /// webrtc-rs's SRTP (an independent implementation) reads what we protect, and we read
    /// what it protects, for every profile, from the same master key.
    #[test]
    fn webrtc_rs_srtp_agrees_in_both_directions() {
        use rtc_srtp::context::Context;
        use rtc_srtp::protection_profile::ProtectionProfile;
        let crypto = rtc_crypto::providers::AwsLcRsCrypto;
        for (profile, theirs) in [
            (
                SrtpProfile::Aes128CmSha1_80,
                ProtectionProfile::Aes128CmHmacSha1_80,
            ),
            (SrtpProfile::AeadAes128Gcm, ProtectionProfile::AeadAes128Gcm),
            (SrtpProfile::AeadAes256Gcm, ProtectionProfile::AeadAes256Gcm),
        ] {
            let m = master(profile, 0x5c);
            let mut them = Context::new(m.key(), m.salt(), theirs, None, None, &crypto).unwrap();
            let ours = SrtpContext::new(&m).unwrap();
            // Across a sequence rollover: our ROC is the caller's, theirs is tracked.
            for (roc, seq) in [(0u32, 65_534u16), (0, 65_535), (1, 0), (1, 1)] {
                let mut plain = vec![0x80, 0x60];
                plain.extend_from_slice(&seq.to_be_bytes());
                plain.extend_from_slice(&hex("0001e240 0badcafe"));
                plain.extend_from_slice(&[seq as u8; 200]);
                let sealed = protect(&ours, &plain, 12, roc);
                let opened = them.decrypt_rtp(&sealed).unwrap();
                assert_eq!(&opened[..], &plain[..], "{profile:?} seq {seq}");
                let theirs_sealed = them.encrypt_rtp(&plain).unwrap();
                assert_eq!(&theirs_sealed[..], &sealed[..], "{profile:?}: same bytes");
            }
            let mut ours_rtcp = SrtpContext::new(&m).unwrap();
            let rr = hex("81c90007 0badcafe 12345678 01000005 0000ffff 00000010 00000000 00000000");
            let sealed = them.encrypt_rtcp(&rr).unwrap();
            let mut buf = sealed.to_vec();
            let n = ours_rtcp.unprotect_rtcp(&mut buf).unwrap();
            assert_eq!(&buf[..n], &rr[..], "{profile:?}: their SRTCP");
            let mut mine = rr.clone();
            mine.resize(rr.len() + profile.rtcp_overhead(), 0);
            let n = ours_rtcp.protect_rtcp(&mut mine, rr.len()).unwrap();
            let opened = them.decrypt_rtcp(&mine[..n]).unwrap();
            assert_eq!(&opened[..], &rr[..], "{profile:?}: our SRTCP");
        }
    }
}
