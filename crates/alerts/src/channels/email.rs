//! Email over SMTP (lettre): one message per delivery, plain text and
//! HTML alternatives. STARTTLS (required), TLS from the first byte, or no
//! encryption for a relay on localhost; credentials from the environment.
//! A 4xx SMTP reply or a connection problem is retried; a 5xx is not.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::render::{html, plain_text, subject};
use super::{SendError, Sent};
use crate::config::{EmailConfig, SmtpTls};
use crate::item::AlertItem;

pub(super) struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl Email {
    pub(super) fn new(
        config: &EmailConfig,
        credentials: Option<(String, String)>,
        timeout: Duration,
    ) -> Result<Self, String> {
        type Smtp = AsyncSmtpTransport<Tokio1Executor>;
        let mut builder = match config.tls {
            SmtpTls::Starttls => Smtp::starttls_relay(&config.host).map_err(|e| e.to_string())?,
            SmtpTls::Tls => Smtp::relay(&config.host).map_err(|e| e.to_string())?,
            SmtpTls::None => Smtp::builder_dangerous(&config.host),
        };
        if let Some(port) = config.port {
            builder = builder.port(port);
        }
        builder = builder.timeout(Some(timeout));
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        let mailbox = |a: &String| {
            a.parse::<Mailbox>()
                .map_err(|e| format!("address {a:?}: {e}"))
        };
        Ok(Email {
            transport: builder.build(),
            from: mailbox(&config.from)?,
            to: config.to.iter().map(mailbox).collect::<Result<_, _>>()?,
        })
    }

    pub(super) async fn send(
        &self,
        items: &[AlertItem],
        console: Option<&str>,
    ) -> Result<Sent, SendError> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(subject(items));
        for to in &self.to {
            message = message.to(to.clone());
        }
        let message = message
            .multipart(MultiPart::alternative_plain_html(
                plain_text(items, console),
                html(items, console),
            ))
            .map_err(|e| SendError::Permanent {
                status: None,
                error: format!("cannot build the message: {e}"),
            })?;
        match self.transport.send(message).await {
            Ok(_) => Ok(Sent { status: None }),
            Err(e) if e.is_permanent() => Err(SendError::Permanent {
                status: None,
                error: format!("SMTP refused: {e}"),
            }),
            Err(e) => Err(SendError::Retry {
                status: None,
                error: format!("SMTP: {e}"),
                after: None,
            }),
        }
    }
}
