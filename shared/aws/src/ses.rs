//! [`SesMailer`]: mail through SESv2 `SendEmail` (simple content, UTF-8).

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;

use orgcert_core::error::{DomainError, Result};
use orgcert_core::ports::{Mail, Mailer};

use crate::error::sdk_error;

/// Sends from one verified sender address.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    sender: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// Mails from `sender` (a verified SES identity).
    pub fn new(client: Client, sender: impl Into<String>) -> Self {
        Self {
            client,
            sender: sender.into(),
            configuration_set: None,
        }
    }

    /// Sends through an SES configuration set (`ORGCERT_SES_CONFIGURATION_SET`), so that
    /// bounces and complaints reach its event destinations instead of going untracked.
    #[must_use]
    pub fn with_configuration_set(mut self, name: Option<String>) -> Self {
        self.configuration_set = name;
        self
    }
}

fn utf8(text: &str) -> Result<Content> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| DomainError::Internal(format!("cannot build a mail: {e}")))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<()> {
        let message = Message::builder()
            .subject(utf8(&mail.subject)?)
            .body(Body::builder().text(utf8(&mail.text)?).build())
            .build();
        self.client
            .send_email()
            .from_email_address(&self.sender)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| sdk_error("SES SendEmail", e))?;
        Ok(())
    }
}
