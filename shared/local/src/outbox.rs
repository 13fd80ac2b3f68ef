//! [`OutboxMailer`]: mail written as RFC 5322 `.eml` files with a JSON sidecar, the
//! embedded stand-in for SES that tests and developers read back.

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::Message;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::fsutil;
use orgcert_core::error::{DomainError, Result};
use orgcert_core::ports::{Mail, Mailer};

/// Sender used unless [`OutboxMailer::with_from`] sets another.
pub const DEFAULT_FROM: &str = "orgcert <noreply@orgcert.invalid>";

/// What the sidecar `.json` of each mail holds.
#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    to: String,
    subject: String,
    text: String,
    links: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

/// One mail in the outbox, as listed by `GET /_local/outbox`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// File stem: `<unix nanos>-<uuid>`, in sending order.
    pub id: String,
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// Links in the body.
    pub links: Vec<String>,
    /// When it was written.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// File name of the RFC 5322 message in the outbox directory.
    pub eml: String,
}

/// Writes mail into `<data dir>/outbox/` instead of sending it.
#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: Mailbox,
}

impl OutboxMailer {
    /// Uses `<data_dir>/outbox` (created if needed) and the sender [`DEFAULT_FROM`].
    ///
    /// # Errors
    /// `Unavailable` when the directory cannot be created.
    pub fn new(data_dir: &Path) -> Result<Self> {
        let dir = data_dir.join("outbox");
        fsutil::create_private_dir(&dir).map_err(|e| {
            DomainError::Unavailable(format!("cannot create {}: {e}", dir.display()))
        })?;
        let from = DEFAULT_FROM
            .parse()
            .map_err(|e| DomainError::Internal(format!("default sender: {e}")))?;
        Ok(Self { dir, from })
    }

    /// Sets the sender, e.g. `Example A/S <certs@example.dk>`.
    ///
    /// # Errors
    /// `Invalid{from}` when it is not a mailbox.
    pub fn with_from(mut self, from: &str) -> Result<Self> {
        self.from = from
            .parse()
            .map_err(|e| DomainError::invalid("from", format!("not a mailbox: {e}")))?;
        Ok(self)
    }

    /// The outbox directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every mail in the outbox, oldest first; unreadable sidecars are skipped (logged).
    pub fn list(&self) -> Vec<OutboxEntry> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot read the outbox");
                return Vec::new();
            }
        };
        let mut out: Vec<OutboxEntry> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let id = name.strip_suffix(".json")?;
                if id.starts_with('.') {
                    return None; // a temporary file being written
                }
                match read_sidecar(&e.path()) {
                    Ok(s) => Some(OutboxEntry {
                        id: id.to_owned(),
                        eml: format!("{id}.eml"),
                        to: s.to,
                        subject: s.subject,
                        text: s.text,
                        links: s.links,
                        at: s.at,
                    }),
                    Err(err) => {
                        tracing::warn!(file = %name, error = %err, "skipping unreadable outbox entry");
                        None
                    }
                }
            })
            .collect();
        // Ids start with zero-padded nanoseconds, so their order is sending order.
        out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
        out
    }

    fn build(&self, mail: &Mail, at: OffsetDateTime, id: Uuid) -> Result<Vec<u8>> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| DomainError::invalid("to", format!("cannot address mail: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .date(SystemTime::from(at))
            .message_id(Some(format!("<{id}@{}>", self.from.email.domain())))
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text.clone())
            .map_err(|e| DomainError::Internal(format!("cannot build mail: {e}")))?;
        Ok(message.formatted())
    }
}

fn read_sidecar(path: &Path) -> io::Result<Sidecar> {
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(io::Error::other)
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &Mail) -> Result<()> {
        // The Mailer port carries no clock: the outbox stamps wall time, like SES would.
        let at = OffsetDateTime::now_utc();
        let id = Uuid::new_v4();
        let eml = self.build(mail, at, id)?;
        let sidecar = serde_json::to_vec_pretty(&Sidecar {
            to: mail.to.clone(),
            subject: mail.subject.clone(),
            text: mail.text.clone(),
            links: mail.links.clone(),
            at,
        })
        .map_err(|e| DomainError::Internal(format!("cannot encode mail: {e}")))?;
        let stem = format!("{:020}-{id}", at.unix_timestamp_nanos().max(0));
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            // The .eml first: a listed sidecar always has its message.
            fsutil::write_atomic(&dir.join(format!("{stem}.eml")), &eml)?;
            fsutil::write_atomic(&dir.join(format!("{stem}.json")), &sidecar)
        })
        .await
        .map_err(|e| DomainError::Internal(format!("outbox task failed: {e}")))?
        .map_err(|e| DomainError::Unavailable(format!("cannot write to the outbox: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(to: &str, link: &str) -> Mail {
        Mail {
            to: to.into(),
            subject: "Download an organisation certificate".into(),
            text: format!(
                "A certificate has been ordered for you.\n\nOpen this link to issue it:\n{link}\n"
            ),
            links: vec![link.into()],
        }
    }

    #[tokio::test]
    async fn writes_a_parseable_eml_with_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let m = OutboxMailer::new(dir.path()).unwrap();
        // A long link, longer than the 78-column line recommendation, must survive whole.
        let link = format!("http://127.0.0.1:8080/issue/{}", "Ab3_-x".repeat(20));
        m.send(&mail("anna@example.dk", &link)).await.unwrap();

        let list = m.list();
        assert_eq!(list.len(), 1);
        let e = &list[0];
        assert_eq!(e.to, "anna@example.dk");
        assert_eq!(e.links, vec![link.clone()]);
        assert_eq!(e.subject, "Download an organisation certificate");

        let raw = std::fs::read(m.dir().join(&e.eml)).unwrap();
        let parsed = mailparse::parse_mail(&raw).unwrap();
        let header = |name: &str| {
            use mailparse::MailHeaderMap;
            parsed.headers.get_first_value(name)
        };
        assert_eq!(header("To").as_deref(), Some("anna@example.dk"));
        assert_eq!(
            header("From").as_deref(),
            Some("orgcert <noreply@orgcert.invalid>")
        );
        assert_eq!(
            header("Subject").as_deref(),
            Some("Download an organisation certificate")
        );
        let date = mailparse::dateparse(&header("Date").unwrap()).unwrap();
        assert!((date - e.at.unix_timestamp()).abs() <= 1);
        assert!(header("Message-ID").unwrap().ends_with("@orgcert.invalid>"));
        assert_eq!(parsed.ctype.mimetype, "text/plain");
        let body = parsed.get_body().unwrap();
        assert!(body.contains(&link), "{body}");
    }

    #[tokio::test]
    async fn non_ascii_subject_and_recipient_and_custom_sender() {
        let dir = tempfile::tempdir().unwrap();
        let m = OutboxMailer::new(dir.path())
            .unwrap()
            .with_from("Eksempel A/S <certs@example.dk>")
            .unwrap();
        let mut msg = mail("søren@example.dk", "http://127.0.0.1:8080/issue/x");
        msg.subject = "Hent dit certifikat, Søren".into();
        msg.text = "Kære Søren, åbn linket: http://127.0.0.1:8080/issue/x".into();
        m.send(&msg).await.unwrap();
        let e = &m.list()[0];
        let raw = std::fs::read(m.dir().join(&e.eml)).unwrap();
        let parsed = mailparse::parse_mail(&raw).unwrap();
        use mailparse::MailHeaderMap;
        assert_eq!(
            parsed.headers.get_first_value("Subject").as_deref(),
            Some("Hent dit certifikat, Søren")
        );
        assert!(parsed
            .headers
            .get_first_value("From")
            .unwrap()
            .contains("certs@example.dk"));
        assert!(parsed.get_body().unwrap().contains("Kære Søren"));
        assert!(OutboxMailer::new(dir.path())
            .unwrap()
            .with_from("not a mailbox")
            .is_err());
    }

    #[tokio::test]
    async fn list_is_oldest_first_and_skips_junk() {
        let dir = tempfile::tempdir().unwrap();
        let m = OutboxMailer::new(dir.path()).unwrap();
        for i in 0..5 {
            m.send(&mail(&format!("u{i}@example.dk"), "http://x.dk/l"))
                .await
                .unwrap();
        }
        std::fs::write(m.dir().join("junk.json"), b"{not json").unwrap();
        std::fs::write(m.dir().join(".tmp-x.json"), b"{}").unwrap();
        let list = m.list();
        let to: Vec<_> = list.iter().map(|e| e.to.as_str()).collect();
        assert_eq!(
            to,
            [
                "u0@example.dk",
                "u1@example.dk",
                "u2@example.dk",
                "u3@example.dk",
                "u4@example.dk"
            ]
        );
        let json = serde_json::to_value(&list[0]).unwrap();
        for field in ["id", "to", "subject", "text", "links", "at", "eml"] {
            assert!(json.get(field).is_some(), "{field}");
        }
        assert!(m.send(&mail("not an address", "x")).await.is_err());
        assert_eq!(m.list().len(), 5);
    }
}
