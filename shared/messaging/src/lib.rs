//! SES v2 and SNS: one call each, with their errors sorted into "retry
//! later" and "will never work".

use crate::bootstrap::App;
use crate::domain::cadence::Run;
use crate::domain::identity::TenantId;
use aws_sdk_sesv2::error::ProvideErrorMetadata;
use aws_sdk_sesv2::error::SdkError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The provider says nothing was sent (throttling, quotas, sending
    /// paused): safe to retry through the queue.
    #[error("not sent: {0}")]
    NotSent(String),
    /// The provider refused the message for good (invalid address, rejected
    /// content, unverified sender): record it and stop.
    #[error("rejected: {0}")]
    Rejected(String),
    /// It may have gone out: a timeout, a lost connection, an unreadable
    /// answer, a server error, no message id. Never retried (DESIGN §9).
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

/// Error codes SES v2 and SNS document as "the request was not processed".
const NOT_SENT_CODES: &[&str] = &[
    "TooManyRequestsException",
    "LimitExceededException",
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "SendingPausedException",
    "KMSThrottlingException",
];

fn classify<E: ProvideErrorMetadata + std::fmt::Debug>(
    error: SdkError<E, HttpResponse>,
) -> SendError {
    match &error {
        SdkError::ServiceError(context) => {
            let code = context.err().code().unwrap_or("Unknown").to_string();
            if NOT_SENT_CODES.contains(&code.as_str()) {
                SendError::NotSent(code)
            } else if context.raw().status().is_client_error() {
                SendError::Rejected(code)
            } else {
                SendError::Unknown(code)
            }
        }
        // Refused before anything was written.
        SdkError::ConstructionFailure(_) => SendError::Rejected("request".into()),
        SdkError::TimeoutError(_) => SendError::Unknown("timeout".into()),
        SdkError::DispatchFailure(_) => SendError::Unknown("connection".into()),
        SdkError::ResponseError(_) => SendError::Unknown("unreadable_response".into()),
        _ => SendError::Unknown("unexpected".into()),
    }
}

fn content(text: &str) -> Result<Content, SendError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| SendError::Rejected(e.to_string()))
}

fn tag(name: &str, value: &str) -> Result<MessageTag, SendError> {
    MessageTag::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(|e| SendError::Rejected(e.to_string()))
}

/// Sends one email; its tags let delivery feedback find the chase again.
#[allow(clippy::too_many_arguments)]
pub async fn send_email(
    app: &App,
    from: &str,
    to: &[String],
    cc: &[String],
    subject: &str,
    html: &str,
    tenant: &TenantId,
    customer_id: &str,
    run: &Run,
) -> Result<String, SendError> {
    let message = Message::builder()
        .subject(content(subject)?)
        .body(Body::builder().html(content(html)?).build())
        .build();
    let output = app
        .ses
        .send_email()
        .from_email_address(from)
        .destination(
            Destination::builder()
                .set_to_addresses(Some(to.to_vec()))
                .set_cc_addresses((!cc.is_empty()).then(|| cc.to_vec()))
                .build(),
        )
        .content(EmailContent::builder().simple(message).build())
        .set_configuration_set_name(app.config.ses_configuration_set.clone())
        .email_tags(tag("tenant", tenant.as_str())?)
        .email_tags(tag("customer", customer_id)?)
        .email_tags(tag("chase", &format!("{}-{}", run.cycle, run.position))?)
        .send()
        .await
        .map_err(classify)?;
    output
        .message_id
        .ok_or_else(|| SendError::Unknown("no_message_id".into()))
}

/// Sends one transactional SMS.
pub async fn send_sms(app: &App, phone: &str, text: &str) -> Result<String, SendError> {
    let sms_type = aws_sdk_sns::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value("Transactional")
        .build()
        .map_err(|e| SendError::Rejected(e.to_string()))?;
    let output = app
        .sns
        .publish()
        .phone_number(phone)
        .message(text)
        .message_attributes("AWS.SNS.SMS.SMSType", sms_type)
        .send()
        .await
        .map_err(classify)?;
    output
        .message_id
        .ok_or_else(|| SendError::Unknown("no_message_id".into()))
}
