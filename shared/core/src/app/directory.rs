//! The public certificate directory: published certificates found by email, profile,
//! CVR or serial, without a login.

use super::App;
use crate::error::{DomainError, Result};
use crate::ids::Serial;
use crate::model::Certificate;
use crate::ports::DirectoryQuery;

/// A published certificate as the directory shows it.
pub type DirectoryEntry = Certificate;

impl App {
    /// Published certificates matching every given criterion (no login).
    ///
    /// # Errors
    /// `Invalid` when no criterion is given.
    pub async fn directory(&self, mut query: DirectoryQuery) -> Result<Vec<DirectoryEntry>> {
        if query.serial.is_none()
            && query.profile_id.is_none()
            && query.cvr.is_none()
            && query.email.is_none()
        {
            // Each parameter is optional on its own (no schema can say "one of"): a search
            // without any is well-formed but unanswerable, 422 like other rule breaks.
            return Err(DomainError::invalid(
                "query",
                "give at least one of email, uuid, cvr or serial",
            ));
        }
        query.limit = query.limit.clamp(1, 100);
        self.store.directory(&query).await
    }

    /// One published certificate (for its PEM/DER download).
    ///
    /// # Errors
    /// `NotFound` unless the certificate is published and issued.
    pub async fn directory_certificate(&self, serial: &Serial) -> Result<Certificate> {
        let found = self
            .store
            .directory(&DirectoryQuery {
                serial: Some(serial.clone()),
                limit: 1,
                ..Default::default()
            })
            .await?;
        found
            .into_iter()
            .find(|c| c.certificate_pem.is_some())
            .ok_or(DomainError::NotFound("published certificate"))
    }
}
