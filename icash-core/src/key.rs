//! API keys: a random secret shown once, stored only as its hash, under a unique name.
//!
//! A secret is [`SECRET_BYTES`] bytes from the operating system's random source, written as
//! `icash_` and their hex digits. A store keeps its [`KeyHash`] (SHA-256) and never the
//! secret: a leaked table cannot be replayed as keys, and since the secret is random and long,
//! a plain hash suffices (no salt or slow hash: there is nothing to guess). A presented key is
//! hashed and looked up by its hash.

use std::fmt;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::actor::{Actor, Role, Scope};
use crate::error::ValidationError;
use crate::id::{BranchId, KeyId};

/// How many random bytes a generated secret has: 256 bits.
pub const SECRET_BYTES: usize = 32;

/// What every generated secret starts with, so that a leaked one is recognised (by secret
/// scanners too) for what it is.
pub const SECRET_PREFIX: &str = "icash_";

/// The shortest secret accepted from outside (such as an administrator's own key given in the
/// configuration): shorter ones are too easy to guess.
pub const MIN_SECRET_LENGTH: usize = 32;

/// The longest secret accepted from outside.
pub const MAX_SECRET_LENGTH: usize = 256;

/// The longest key name.
pub const MAX_NAME_LENGTH: usize = 64;

/// A key's secret, as its holder presents it. Its `Debug` never shows it; only
/// [`ApiKeySecret::expose`] does, to show it once.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// A new random secret, from the operating system's random source.
    pub fn generate() -> ApiKeySecret {
        let mut bytes = [0u8; SECRET_BYTES];
        // Without the system's random source no key can be made safely: there is no fallback.
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        let mut secret = String::with_capacity(SECRET_PREFIX.len() + 2 * SECRET_BYTES);
        secret.push_str(SECRET_PREFIX);
        for byte in bytes {
            secret.push_str(&format!("{byte:02x}"));
        }
        ApiKeySecret(secret)
    }

    /// A secret chosen outside icash (an automation's administrator key):
    /// [`MIN_SECRET_LENGTH`] to [`MAX_SECRET_LENGTH`] visible ASCII characters.
    pub fn new(secret: &str) -> Result<ApiKeySecret, ValidationError> {
        let visible = secret.bytes().all(|b| b.is_ascii_graphic());
        if !visible || !(MIN_SECRET_LENGTH..=MAX_SECRET_LENGTH).contains(&secret.len()) {
            return Err(ValidationError::InvalidSecret);
        }
        Ok(ApiKeySecret(secret.to_owned()))
    }

    /// The secret itself, to hand to its holder once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hash a store keeps.
    pub fn hash(&self) -> KeyHash {
        KeyHash::of(&self.0)
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret(<redacted>)")
    }
}

/// The SHA-256 of a secret: what a store keeps and looks keys up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// The hash of a secret as it was presented (a bearer token, which need not be a valid
    /// secret: an invalid one simply matches no key).
    pub fn of(presented: &str) -> KeyHash {
        KeyHash(Sha256::digest(presented.as_bytes()).into())
    }

    /// A hash a store read back.
    pub fn from_bytes(bytes: [u8; 32]) -> KeyHash {
        KeyHash(bytes)
    }

    /// The hash's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The error for a hash that another key has: the same secret given twice.
    pub fn taken() -> crate::Error {
        crate::Error::Conflict("this API key is already registered".to_owned())
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not a secret, but nothing a log needs either.
        f.write_str("KeyHash(<redacted>)")
    }
}

/// A key's name, unique in a store, such as `branch-2-till-7`: 1 to [`MAX_NAME_LENGTH`]
/// letters, digits, dots, underscores and hyphens (safe in a URL path and a log line).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(String);

impl KeyName {
    /// Checks a name as it was given.
    pub fn new(name: &str) -> Result<KeyName, ValidationError> {
        let allowed = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if name.is_empty() || name.len() > MAX_NAME_LENGTH || !allowed {
            return Err(ValidationError::InvalidKeyName(name.to_owned()));
        }
        Ok(KeyName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The error for a name that no key has.
    pub fn unknown(&self) -> crate::Error {
        crate::Error::NotFound {
            what: "API key",
            id: self.0.clone(),
        }
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key to create: its name, role and branches, valid once constructed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewKey {
    name: KeyName,
    role: Role,
    scope: Scope,
}

impl NewKey {
    /// A key named `name` for `role` over `branch` (see [`Role::scope`]: a till needs a branch,
    /// an analyst or an admin takes none).
    pub fn new(
        name: KeyName,
        role: Role,
        branch: Option<BranchId>,
    ) -> Result<NewKey, ValidationError> {
        Ok(NewKey {
            name,
            role,
            scope: role.scope(branch)?,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The key's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The key's branches.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// The error for a name that another key has (revoked keys keep theirs).
    pub fn name_taken(&self) -> crate::Error {
        crate::Error::Conflict(format!(
            "an API key named {:?} already exists; choose another name",
            self.name.as_str()
        ))
    }
}

/// What a store tells of a key: never its secret nor its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's id.
    pub id: KeyId,
    /// Its unique name.
    pub name: KeyName,
    /// Its role.
    pub role: Role,
    /// Its branches.
    pub scope: Scope,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; a revoked key authenticates no one.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl KeyInfo {
    /// Whether the key still authenticates.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }

    /// The actor the key authenticates as.
    pub fn actor(&self) -> Actor {
        Actor::of_key(self.id, self.name.clone(), self.role, self.scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_long_random_and_recognisable() {
        let one = ApiKeySecret::generate();
        let other = ApiKeySecret::generate();
        assert_ne!(one, other);
        let digits = one.expose().strip_prefix(SECRET_PREFIX).unwrap();
        assert_eq!(digits.len(), 2 * SECRET_BYTES);
        assert!(digits.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(
            ApiKeySecret::new(one.expose()).is_ok(),
            "a generated secret is a valid one"
        );
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let secret = ApiKeySecret::generate();
        let shown = format!("{secret:?} {:?}", secret.hash());
        assert!(
            !shown.contains(&secret.expose()[SECRET_PREFIX.len()..]),
            "{shown}"
        );
        assert_eq!(shown, "ApiKeySecret(<redacted>) KeyHash(<redacted>)");
    }

    #[test]
    fn a_secret_is_found_by_its_hash() {
        let secret = ApiKeySecret::generate();
        assert_eq!(secret.hash(), KeyHash::of(secret.expose()));
        assert_eq!(
            KeyHash::from_bytes(*secret.hash().as_bytes()),
            secret.hash()
        );
        assert_ne!(secret.hash(), ApiKeySecret::generate().hash());
    }

    #[test]
    fn outside_secrets_must_be_long_and_visible() {
        assert!(ApiKeySecret::new(&"x".repeat(MIN_SECRET_LENGTH)).is_ok());
        for bad in [
            "short".to_owned(),
            "x".repeat(MIN_SECRET_LENGTH - 1),
            "x".repeat(MAX_SECRET_LENGTH + 1),
            format!("{} y", "x".repeat(MIN_SECRET_LENGTH)),
        ] {
            let error = ApiKeySecret::new(&bad).unwrap_err();
            assert!(
                !error.to_string().contains(&bad),
                "the sentence never repeats a secret"
            );
        }
    }

    #[test]
    fn names_are_short_and_safe() {
        for good in [
            "till-7",
            "branch-2.till_7",
            "A",
            &"n".repeat(MAX_NAME_LENGTH),
        ] {
            assert_eq!(KeyName::new(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "till 7",
            "till/7",
            "tíll",
            &"n".repeat(MAX_NAME_LENGTH + 1),
        ] {
            assert!(KeyName::new(bad).is_err(), "{bad}");
        }
        assert_eq!(
            KeyName::new("till 7").unwrap_err().to_string(),
            "key name \"till 7\" is not valid: expected 1 to 64 letters, digits, '.', '_' or '-'"
        );
    }

    #[test]
    fn a_new_key_has_the_branches_its_role_needs() {
        let name = || KeyName::new("k").unwrap();
        let two = Some(BranchId::new(2).unwrap());
        assert!(NewKey::new(name(), Role::Till, None).is_err());
        assert!(NewKey::new(name(), Role::Admin, two).is_err());
        let till = NewKey::new(name(), Role::Till, two).unwrap();
        assert_eq!(till.scope(), Scope::Branch(BranchId::new(2).unwrap()));
        assert_eq!(
            NewKey::new(name(), Role::Manager, None).unwrap().scope(),
            Scope::AllBranches
        );
    }
}
