//! API tokens for `lakeforge serve` and `lakeforge ui`: created with a name and scopes, shown
//! once, stored only as a SHA-256 hash, revoked by id or name. The servers check a request's
//! token by its hash (`token_check`, [`MetaStore::token_scopes`]); 32 random bytes make the
//! hash safe to store unsalted.

use crate::decode::RowExt;
use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{MetaError, MetaStore, Result};

/// What a token may do.
pub const SCOPES: &[&str] = &["predict", "admin"];

/// A token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// The SHA-256 of a token: what the server keeps of a presented token (never the token).
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The hash under which a token is stored (its digest in hex).
pub fn token_hash(token: &str) -> String {
    hex(&token_digest(token))
}

fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl MetaStore {
    /// Create a token; returns its id and the token, which is not stored and cannot be shown
    /// again.
    pub async fn create_token(&self, name: &str, scopes: &[String]) -> Result<(String, String)> {
        for s in scopes {
            if !SCOPES.contains(&s.as_str()) {
                return Err(MetaError::InvalidScope { scope: s.clone() });
            }
        }
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        // Two v4 UUIDs: 244 random bits from the OS generator.
        let token = format!(
            "lf_{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let sql = "INSERT INTO api_tokens (id, name, token_sha256, scopes, created_at) \
                   VALUES ($1, $2, $3, $4, $5)";
        on_pool!(&self.pool, p => {
            sqlx::query(sql)
                .bind(&id)
                .bind(name)
                .bind(token_hash(&token))
                .bind(scopes.join(","))
                .bind(now())
                .execute(p)
                .await?;
        });
        Ok((id, token))
    }

    /// Every token, newest first.
    pub async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let sql = "SELECT id, name, scopes, created_at, revoked_at FROM api_tokens \
                   ORDER BY created_at DESC, id";
        Ok(on_pool!(&self.pool, p => sqlx::query(sql)
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| {
                let scopes: String = r.col("api_tokens", 2)?;
                Ok(TokenInfo {
                    id: r.col("api_tokens", 0)?,
                    name: r.col("api_tokens", 1)?,
                    scopes: scopes.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                    created_at: r.col("api_tokens", 3)?,
                    revoked_at: r.col("api_tokens", 4)?,
                })
            })
            .collect::<Result<Vec<_>>>()?))
    }

    /// Revoke the tokens whose id or name is `which`; returns how many were revoked.
    pub async fn revoke_token(&self, which: &str) -> Result<u64> {
        let sql = "UPDATE api_tokens SET revoked_at = $1 \
                   WHERE (id = $2 OR name = $2) AND revoked_at IS NULL";
        Ok(on_pool!(&self.pool, p => sqlx::query(sql)
            .bind(now())
            .bind(which)
            .execute(p)
            .await?
            .rows_affected()))
    }

    /// The scopes of a live (not revoked) token, or None when it is unknown or revoked.
    pub async fn token_scopes(&self, token: &str) -> Result<Option<Vec<String>>> {
        self.token_scopes_by_digest(&token_digest(token)).await
    }

    /// The name of the live token whose [`token_digest`] this is: what a server records as
    /// who made a change (the web UI's alias changes).
    pub async fn token_name_by_digest(&self, digest: &[u8; 32]) -> Result<Option<String>> {
        let sql = "SELECT name FROM api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL";
        Ok(on_pool!(&self.pool, p => sqlx::query_scalar(sql)
            .bind(hex(digest))
            .fetch_optional(p)
            .await?))
    }

    /// [`token_scopes`](MetaStore::token_scopes) of the token whose [`token_digest`] this
    /// is: the server hashes a presented token once and keeps only the digest.
    pub async fn token_scopes_by_digest(&self, digest: &[u8; 32]) -> Result<Option<Vec<String>>> {
        let sql = "SELECT scopes FROM api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL";
        let found: Option<String> = on_pool!(&self.pool, p => sqlx::query_scalar(sql)
            .bind(hex(digest))
            .fetch_optional(p)
            .await?);
        Ok(found.map(|s| {
            s.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_hash_is_the_hex_digest() {
        // SHA-256("abc") from FIPS 180-2: rows written before the digest helper still match.
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(token_digest("abc")[..2], [0xba, 0x78]);
    }
}
