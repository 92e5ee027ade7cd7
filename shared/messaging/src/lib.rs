//! The application's messaging ports over AWS: the chase queue (SQS), email
//! (SES v2), SMS (SNS) and the documents bucket (S3). Each lives behind its own cargo feature, so a
//! function links only the SDKs it uses.

#[cfg(any(feature = "ses", feature = "sns"))]
mod classify;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "ses")]
pub mod ses;
#[cfg(feature = "sns")]
pub mod sns;
#[cfg(feature = "sqs")]
pub mod sqs;
#[cfg(feature = "sqs-events")]
pub mod sqs_events;
