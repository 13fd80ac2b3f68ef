//! The [`Mailer`] contract as one suite: a sent mail can be read back from where the
//! adapter delivers it (outbox files, or the SES emulator) with its link intact.

use std::future::Future;

use orgcert_core::ports::{Mail, Mailer};

/// A delivered mail as the read-back sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

/// Sends an issuance mail through `mailer` and finds it in `delivered()`.
///
/// # Panics
/// On the first breach.
pub async fn mailer_conformance<F, Fut>(mailer: &dyn Mailer, delivered: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Vec<Delivered>>,
{
    let token = uuid::Uuid::new_v4().simple().to_string();
    let link = format!("http://127.0.0.1:8080/issue/{token}");
    let mail = Mail {
        to: "søren.holm@eksempel.dk".replace('ø', "o"),
        subject: "Download an organisation certificate".into(),
        text: format!(
            "Hej Søren,\n\nÆrø Havn A/S has ordered a certificate for you.\nOpen {link} to issue it.\n"
        ),
        links: vec![link.clone()],
    };
    mailer.send(&mail).await.expect("send");
    let found: Vec<Delivered> = delivered()
        .await
        .into_iter()
        .filter(|d| d.text.contains(&link))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "exactly one delivered mail carries the link"
    );
    let d = &found[0];
    assert_eq!(d.to, mail.to);
    assert_eq!(d.subject, mail.subject);
    assert!(d.text.contains("Ærø Havn"), "UTF-8 survives: {:?}", d.text);
}
