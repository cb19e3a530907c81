//! WireGuard key pairs: Curve25519 (x25519) keys in base64, as `wg genkey` and `wg pubkey`
//! write them, from the operating system's random source (x25519-dalek's `getrandom`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;
use x25519_dalek::{PublicKey, StaticSecret};

/// One host's keys. The private half never serialises: the plan goes into templates, and the
/// topology must never carry it.
#[derive(Clone, Serialize)]
pub struct KeyPair {
    pub public: String,
    #[serde(skip)]
    private: String,
}

impl KeyPair {
    pub fn generate() -> Result<KeyPair, super::EncryptionError> {
        // getrandom fails only where the OS has no random source; x25519-dalek then panics,
        // which is caught here so the CLI can say so.
        let secret = std::panic::catch_unwind(StaticSecret::random)
            .map_err(|_| super::EncryptionError::Keys("no random source".into()))?;
        Ok(KeyPair::from_secret(&secret))
    }

    fn from_secret(secret: &StaticSecret) -> KeyPair {
        KeyPair {
            public: STANDARD.encode(PublicKey::from(secret).as_bytes()),
            private: STANDARD.encode(secret.to_bytes()),
        }
    }

    /// The private key file's contents, as `wg genkey` prints it.
    pub fn private_file(&self) -> String {
        format!("{}\n", self.private)
    }
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// The public key of a base64 private key, or `None` if it is not one.
pub fn public_of(private: &str) -> Option<String> {
    let bytes: [u8; 32] = STANDARD.decode(private.trim()).ok()?.try_into().ok()?;
    Some(KeyPair::from_secret(&StaticSecret::from(bytes)).public)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fresh_32_byte_base64_pairs() {
        let (a, b) = (KeyPair::generate().unwrap(), KeyPair::generate().unwrap());
        assert_ne!(a.public, b.public);
        assert_eq!(STANDARD.decode(&a.public).unwrap().len(), 32);
        assert_eq!(public_of(&a.private_file()), Some(a.public.clone()));
    }

    #[test]
    fn the_private_half_never_serialises_nor_debugs() {
        let pair = KeyPair::generate().unwrap();
        let json = serde_json::to_string(&pair).unwrap();
        assert!(!json.contains(&pair.private), "{json}");
        assert!(!format!("{pair:?}").contains(&pair.private));
    }

    /// RFC 7748 section 6.1: Alice's private and public keys, as `wg pubkey` derives them.
    #[test]
    fn derives_the_rfc_7748_public_key() {
        let private = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let public = hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        assert_eq!(
            public_of(&STANDARD.encode(private)),
            Some(STANDARD.encode(public))
        );
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
