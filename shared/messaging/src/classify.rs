//! What a provider's error means for a chase: nothing sent (retry later),
//! refused for good, or unknown (it may have gone out; never retried).

use app::ports::SendError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

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

pub fn classify<E: ProvideErrorMetadata + std::fmt::Debug>(
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
