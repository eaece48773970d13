//! Each transport's DTLS-SRTP keys, taken as its handshake exports them, through str0m's public
//! crypto-provider hook: the provider of every transport Tongbu builds delegates to str0m's
//! default (aws-lc-rs) and wraps its DTLS instances, and each wrapped instance copies the
//! keying material it hands to str0m into the [`KeySlot`] of its transport. str0m still does the
//! handshake, ICE and the publisher's inbound SRTP; Tongbu protects what it sends to
//! subscribers with the copy ([`crate::srtp`]).
//!
//! The slot is tied to the transport being built by a thread-local set around
//! `RtcConfig::build` (str0m creates the DTLS instance inside it): one build per thread at a
//! time, which is how a worker builds transports.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion,
    SrtpProfile as DtlsSrtpProfile,
};
use str0m::crypto::{from_feature_flags, CryptoError, CryptoProvider};
use str0m::{Rtc, RtcConfig};

use crate::srtp::{SrtpError, SrtpProfile, TransportKeys};

/// Where one transport's keys arrive once its DTLS handshake completes. Shared by the transport
/// and its DTLS instance; dropped with both.
#[derive(Debug, Clone, Default)]
pub struct KeySlot(Arc<OnceLock<Result<TransportKeys, SrtpError>>>);

impl KeySlot {
    /// The keys, once the handshake exported them (or why they could not be used).
    pub fn get(&self) -> Option<&Result<TransportKeys, SrtpError>> {
        self.0.get()
    }

    /// How many holders the slot has (the transport, its DTLS instance, and any clone): a test
    /// checks that a closed transport leaves none behind.
    pub fn holders(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

thread_local! {
    static BUILDING: RefCell<Option<KeySlot>> = const { RefCell::new(None) };
}

/// Builds an `Rtc` whose DTLS instance hands its keys to the returned slot.
pub fn build(config: RtcConfig, now: Instant) -> (Rtc, KeySlot) {
    let slot = KeySlot::default();
    BUILDING.with(|b| *b.borrow_mut() = Some(slot.clone()));
    let rtc = config.set_crypto_provider(provider()).build(now);
    BUILDING.with(|b| b.borrow_mut().take());
    (rtc, slot)
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    static DTLS: OnceLock<CapturingDtlsProvider> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            let default = from_feature_flags();
            let dtls = DTLS.get_or_init(|| CapturingDtlsProvider {
                inner: default.dtls_provider,
            });
            Arc::new(CryptoProvider {
                dtls_provider: dtls,
                ..default
            })
        })
        .clone()
}

/// str0m's DTLS provider, with every instance it makes wrapped.
#[derive(Debug)]
struct CapturingDtlsProvider {
    inner: &'static dyn DtlsProvider,
}

impl DtlsProvider for CapturingDtlsProvider {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        self.inner.generate_certificate()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        dtls_version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        let inner = self.inner.new_dtls(cert, now, dtls_version, mtu)?;
        // Built outside `build` (no slot waiting): keys go to a slot nobody reads.
        let slot = BUILDING.with(|b| b.borrow().clone()).unwrap_or_default();
        Ok(Box::new(CapturingDtls { inner, slot }))
    }
}

/// One DTLS instance, copying the keying material as it passes.
#[derive(Debug)]
struct CapturingDtls {
    inner: Box<dyn DtlsInstance>,
    slot: KeySlot,
}

impl DtlsInstance for CapturingDtls {
    fn set_active(&mut self, active: bool) {
        self.inner.set_active(active)
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.inner.handle_packet(packet)
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        let out = self.inner.poll_output(buf);
        if let DtlsOutput::KeyingMaterial(material, profile) = &out {
            let keys = profile_of(*profile).ok_or(SrtpError::Cipher).and_then(|p| {
                TransportKeys::from_keying_material(p, material, self.inner.is_active())
            });
            let _ = self.slot.0.set(keys);
        }
        out
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.inner.handle_timeout(now)
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.inner.send_application_data(data)
    }

    fn is_active(&self) -> bool {
        self.inner.is_active()
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.inner.protocol_version()
    }

    fn is_closing(&self) -> bool {
        self.inner.is_closing()
    }

    fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.inner.close()
    }
}

fn profile_of(p: DtlsSrtpProfile) -> Option<SrtpProfile> {
    match p {
        DtlsSrtpProfile::AES128_CM_SHA1_80 => Some(SrtpProfile::Aes128CmSha1_80),
        DtlsSrtpProfile::AEAD_AES_128_GCM => Some(SrtpProfile::AeadAes128Gcm),
        DtlsSrtpProfile::AEAD_AES_256_GCM => Some(SrtpProfile::AeadAes256Gcm),
        _ => None,
    }
}
