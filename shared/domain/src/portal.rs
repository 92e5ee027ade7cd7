//! The customer portal's capability links (docs/portal.md).
//!
//! A link's token is an HMAC, under the deployment's portal secret, of the
//! tenant, the customer and a nonce on the customer that rotation replaces.
//! The table keeps the nonce and the token's SHA-256 only (the lookup from
//! a token to its customer): the link can be written into every chase
//! without storing it, a copy of the table opens no portal, and rotating
//! the nonce ends the old link at once.

use crate::identity::TenantId;
use crate::money::Money;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// A token is 256 bits, written as unpadded base64url.
const TOKEN_CHARS: usize = 43;

/// The deployment's key for portal links and form proofs, kept as a keyed
/// HMAC ready to clone.
#[derive(Clone)]
pub struct PortalSecret(HmacSha256);

impl std::fmt::Debug for PortalSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PortalSecret(..)")
    }
}

/// Fewer bytes than this would make links guessable.
pub const MIN_SECRET_BYTES: usize = 32;

impl PortalSecret {
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < MIN_SECRET_BYTES {
            return None;
        }
        HmacSha256::new_from_slice(bytes).ok().map(Self)
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.0.clone();
        for part in parts {
            // Length-prefixed, so no two part lists hash alike.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// The token of a customer's link with `nonce`.
    pub fn token(&self, tenant: &TenantId, customer_id: &str, nonce: &str) -> PortalToken {
        let mac = self.mac(&[
            b"portal-link",
            tenant.as_str().as_bytes(),
            customer_id.as_bytes(),
            nonce.as_bytes(),
        ]);
        PortalToken(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac))
    }

    /// The proof a portal form carries that this server rendered it for
    /// this link (CSRF): only the holder of the page has it.
    pub fn form_proof(&self, token_hash: &str, form_id: &str) -> String {
        hex::encode(self.mac(&[b"portal-form", token_hash.as_bytes(), form_id.as_bytes()]))
    }

    pub fn verify_form_proof(&self, token_hash: &str, form_id: &str, proof: &str) -> bool {
        let expected = self.form_proof(token_hash, form_id);
        expected.as_bytes().ct_eq(proof.as_bytes()).into()
    }
}

/// A presented or computed link token (never logged or stored).
#[derive(Clone, PartialEq, Eq)]
pub struct PortalToken(String);

impl std::fmt::Debug for PortalToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PortalToken(..)")
    }
}

impl PortalToken {
    /// A token as written in a URL: exactly 43 base64url characters.
    pub fn parse(raw: &str) -> Option<Self> {
        let shaped = raw.len() == TOKEN_CHARS
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        shaped.then(|| Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the table stores and looks the link up by.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// Whether `other` is the same token, compared in constant time.
    pub fn matches(&self, other: &PortalToken) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

/// The last recorded portal visit of a customer (one a day is recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalVisit {
    /// The day in the tenant's zone.
    pub on: NaiveDate,
    pub at: DateTime<Utc>,
}

/// `<base>/p/<token>`.
pub fn portal_url(base: &str, token: &PortalToken) -> String {
    format!("{}/p/{}", base.trim_end_matches('/'), token.as_str())
}

/// The tenant's `payment_url_template`: an https URL in which
/// `{customer_number}`, `{amount}` and `{currency}` are replaced, each
/// percent-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentUrlTemplate(String);

const PAYMENT_PLACEHOLDERS: [&str; 3] = ["{customer_number}", "{amount}", "{currency}"];

impl PaymentUrlTemplate {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut probe = raw.to_string();
        for placeholder in PAYMENT_PLACEHOLDERS {
            probe = probe.replace(placeholder, "x");
        }
        if probe.contains(['{', '}']) {
            return Err(
                "may use only {customer_number}, {amount} and {currency} as placeholders".into(),
            );
        }
        match url::Url::parse(&probe) {
            Ok(url) if url.scheme() == "https" && url.host().is_some() => Ok(Self(raw.to_string())),
            _ => Err("must be an https URL".into()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn render(&self, customer_number: &str, balance: &Money) -> String {
        let encode = |value: &str| {
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
        };
        self.0
            .replace("{customer_number}", &encode(customer_number))
            .replace("{amount}", &encode(&balance.amount.to_string()))
            .replace("{currency}", &encode(balance.currency.code()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn secret() -> PortalSecret {
        PortalSecret::new(&[7u8; 32]).unwrap()
    }

    fn tenant() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    #[test]
    fn a_token_is_256_bits_and_names_one_customer_and_nonce() {
        let token = secret().token(&tenant(), "C1", "N1");
        assert_eq!(token.as_str().len(), TOKEN_CHARS);
        assert!(PortalToken::parse(token.as_str()).is_some());
        assert_ne!(token, secret().token(&tenant(), "C2", "N1"));
        assert_ne!(token, secret().token(&tenant(), "C1", "N2"));
        assert_ne!(
            token,
            secret().token(&TenantId::parse("other").unwrap(), "C1", "N1")
        );
        let other_secret = PortalSecret::new(&[8u8; 32]).unwrap();
        assert_ne!(token, other_secret.token(&tenant(), "C1", "N1"));
    }

    #[test]
    fn a_token_is_compared_in_constant_time_by_what_it_is() {
        let token = secret().token(&tenant(), "C1", "N1");
        assert!(token.matches(&secret().token(&tenant(), "C1", "N1")));
        assert!(!token.matches(&secret().token(&tenant(), "C1", "N2")));
        assert!(portal_url("https://x.test/", &token).starts_with("https://x.test/p/"));
    }

    #[test]
    fn malformed_tokens_are_refused_before_any_lookup() {
        for raw in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}=", "a".repeat(42)),
            &"é".repeat(43),
        ] {
            assert!(PortalToken::parse(raw).is_none(), "{raw:?}");
        }
    }

    #[test]
    fn form_proofs_bind_the_link_and_the_form() {
        let proof = secret().form_proof("H1", "F1");
        assert!(secret().verify_form_proof("H1", "F1", &proof));
        assert!(!secret().verify_form_proof("H2", "F1", &proof));
        assert!(!secret().verify_form_proof("H1", "F2", &proof));
        assert!(!secret().verify_form_proof("H1", "F1", ""));
    }

    #[test]
    fn the_payment_url_is_an_https_template_with_encoded_values() {
        let template = PaymentUrlTemplate::parse(
            "https://pay.test/?ref={customer_number}&amt={amount}&cur={currency}",
        )
        .unwrap();
        let usd = Currency::parse("USD").unwrap();
        let url = template.render("A&B 1", &Money::parse("120.50", usd).unwrap());
        assert_eq!(url, "https://pay.test/?ref=A%26B+1&amt=120.50&cur=USD");
        assert!(PaymentUrlTemplate::parse("http://pay.test/{amount}").is_err());
        assert!(PaymentUrlTemplate::parse("https://pay.test/{balance}").is_err());
        assert!(PaymentUrlTemplate::parse("javascript:alert(1)").is_err());
    }
}
