//! The SRTP key derivation (RFC 3711 §4.3) with the AES-CM pseudo-random function, for a key
//! derivation rate of 0 (RFC 5764 §4.1.2): every session key is the AES counter-mode keystream
//! of the master key, started at `(master_salt XOR label·2^48)·2^16`.
//!
//! The 12-byte salts of the AEAD profiles (RFC 7714 §11) are used the same way, extended with
//! zeros to the 14 bytes the derivation works on.

use aws_lc_rs::cipher::{EncryptingKey, EncryptionContext, UnboundCipherKey, AES_128, AES_256};
use aws_lc_rs::iv::FixedLength;

use super::{MasterKey, SrtpError};

/// The labels of RFC 3711 §4.3.1 (SRTP) and §4.3.2 (SRTCP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    RtpEncryption = 0x00,
    RtpAuthentication = 0x01,
    RtpSalt = 0x02,
    RtcpEncryption = 0x03,
    RtcpAuthentication = 0x04,
    RtcpSalt = 0x05,
}

/// Fills `out` with the session key for `label` derived from `master`.
pub fn derive(master: &MasterKey, label: Label, out: &mut [u8]) -> Result<(), SrtpError> {
    let mut iv = [0u8; 16];
    iv[..master.salt().len()].copy_from_slice(master.salt());
    iv[7] ^= label as u8;
    let algorithm = match master.key().len() {
        16 => &AES_128,
        _ => &AES_256,
    };
    let key = UnboundCipherKey::new(algorithm, master.key())
        .and_then(EncryptingKey::ctr)
        .map_err(|_| SrtpError::Cipher)?;
    out.fill(0);
    key.less_safe_encrypt(out, EncryptionContext::Iv128(FixedLength::from(iv)))
        .map_err(|_| SrtpError::Cipher)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srtp::{hex, SrtpProfile};

    /// RFC 3711 Appendix B.3.
    #[test]
    fn rfc_3711_b3_session_keys() {
        let master = MasterKey::new(
            SrtpProfile::Aes128CmSha1_80,
            &hex("E1F97A0D3E018BE0D64FA32C06DE4139"),
            &hex("0EC675AD498AFEEBB6960B3AABE6"),
        )
        .unwrap();
        let mut key = [0u8; 16];
        derive(&master, Label::RtpEncryption, &mut key).unwrap();
        assert_eq!(key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut salt = [0u8; 14];
        derive(&master, Label::RtpSalt, &mut salt).unwrap();
        assert_eq!(salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        let mut auth = [0u8; 20];
        derive(&master, Label::RtpAuthentication, &mut auth).unwrap();
        assert_eq!(
            auth.to_vec(),
            hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
        );
        // Each label gives another key.
        let mut rtcp = [0u8; 16];
        derive(&master, Label::RtcpEncryption, &mut rtcp).unwrap();
        assert_ne!(rtcp, key);
    }

    /// RFC 3711 Appendix B.2: the AES-CM keystream the derivation (and AES-CM SRTP) uses.
    #[test]
    fn rfc_3711_b2_keystream() {
        let key = UnboundCipherKey::new(&AES_128, &hex("2B7E151628AED2A6ABF7158809CF4F3C"))
            .and_then(EncryptingKey::ctr)
            .unwrap();
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"));
        let mut stream = [0u8; 48];
        key.less_safe_encrypt(&mut stream, EncryptionContext::Iv128(FixedLength::from(iv)))
            .unwrap();
        assert_eq!(
            stream.to_vec(),
            hex(
                "E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB \
                 41E95B3BB0A2E8DD477901E4FCA894C0"
            )
        );
    }
}
