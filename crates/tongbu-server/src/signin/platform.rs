//! The education platform as an OpenID Connect provider, through the `openidconnect` crate:
//! discovery (its metadata and signing keys, read again every few minutes so a rotated key is
//! picked up), the authorization URL with PKCE, `state` and `nonce`, and the code exchange whose
//! ID token is checked — signature against the published keys, issuer, audience, expiry and
//! nonce — before any of its claims is read.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationFlow, AuthorizationCode, Client, ClientId, ClientSecret,
    CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenClaims,
    IdTokenFields, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardErrorResponse, StandardTokenResponse,
};
use serde::{Deserialize, Serialize};

use super::{SignInConfig, SignInError};

/// How long discovered metadata and keys are used before they are read again.
const REDISCOVER: Duration = Duration::from_secs(300);

/// Every claim of an ID token beyond the standard ones, by name (the school and role claims
/// are configured, so they are read from here).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PlatformClaims {
    #[serde(flatten)]
    pub claims: HashMap<String, serde_json::Value>,
}

impl AdditionalClaims for PlatformClaims {}

type Fields = IdTokenFields<
    PlatformClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

type PlatformClient = Client<
    PlatformClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<Fields, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The claims of a verified ID token.
pub type VerifiedClaims = IdTokenClaims<PlatformClaims, CoreGenderClaim>;

/// A sign-in under way: what the browser's session keeps between the redirect to the platform
/// and its return (never sent to the browser).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// The page to return to (a path of this server).
    pub return_to: String,
}

/// The platform, discovered on first use.
pub struct Platform {
    config: SignInConfig,
    http: openidconnect::reqwest::Client,
    discovered: Mutex<Option<(PlatformClient, Instant)>>,
}

impl Platform {
    pub fn new(config: SignInConfig) -> Result<Self, SignInError> {
        let http = openidconnect::reqwest::ClientBuilder::new()
            // A redirect from the platform's endpoints is not followed (SSRF).
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SignInError::Platform(format!("HTTP client: {e}")))?;
        Ok(Self {
            config,
            http,
            discovered: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &SignInConfig {
        &self.config
    }

    /// The client, from metadata at most [`REDISCOVER`] old.
    async fn client(&self) -> Result<PlatformClient, SignInError> {
        if let Some((c, at)) = self
            .discovered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            if at.elapsed() < REDISCOVER {
                return Ok(c.clone());
            }
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| SignInError::Platform(format!("issuer URL: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| {
                SignInError::Platform(format!(
                    "cannot read {}/.well-known/openid-configuration: {e}",
                    self.config.issuer
                ))
            })?;
        let redirect = RedirectUrl::new(self.config.callback_url())
            .map_err(|e| SignInError::Platform(format!("callback URL: {e}")))?;
        let client = PlatformClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.clone())),
        )
        .set_redirect_uri(redirect);
        *self.discovered.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((client.clone(), Instant::now()));
        Ok(client)
    }

    /// Where to send the browser to sign in, and what to keep until it returns.
    pub async fn begin(&self, return_to: String) -> Result<(String, Pending), SignInError> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let pending = Pending {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            return_to,
        };
        Ok((url.to_string(), pending))
    }

    /// Exchanges the code the browser brought back (with the PKCE verifier) and verifies the ID
    /// token; its claims once everything checked out.
    pub async fn finish(
        &self,
        code: String,
        pending: &Pending,
    ) -> Result<VerifiedClaims, SignInError> {
        let client = self.client().await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| SignInError::Platform(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| SignInError::CodeRefused(e.to_string()))?;
        use openidconnect::TokenResponse;
        let id_token = response.id_token().ok_or(SignInError::NoIdToken)?;
        let claims = id_token
            .claims(
                &client.id_token_verifier(),
                &Nonce::new(pending.nonce.clone()),
            )
            .map_err(|e| SignInError::BadIdToken(e.to_string()))?;
        Ok(claims.clone())
    }
}
