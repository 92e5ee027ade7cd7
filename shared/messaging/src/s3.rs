//! The documents bucket through S3: letter PDFs written by the chase
//! worker, uploads and downloads through short-lived presigned links.
//! Objects are keyed `<tenant>/<customer>/<document id>`.

use app::ports::{DocumentFiles, StoreError};
use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use domain::document::Document;
use domain::identity::TenantId;
use std::time::Duration;

pub struct S3DocumentFiles {
    client: Client,
    bucket: String,
}

impl S3DocumentFiles {
    pub fn new(sdk: &runtime::SdkConfig, options: &runtime::ClientOptions, bucket: String) -> Self {
        let mut config = aws_sdk_s3::config::Builder::from(sdk)
            .timeout_config(options.storage_timeouts())
            // moto (and any S3-compatible endpoint) serves buckets as paths.
            .force_path_style(options.s3_path_style);
        for interceptor in &options.interceptors {
            config.push_interceptor(interceptor.clone());
        }
        Self {
            client: Client::from_conf(config.build()),
            bucket,
        }
    }

    pub fn key(tenant: &TenantId, document: &Document) -> String {
        format!("{tenant}/{}/{}", document.customer_id, document.id)
    }
}

fn unavailable(error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn presigning(expires_in: Duration) -> Result<PresigningConfig, StoreError> {
    PresigningConfig::expires_in(expires_in).map_err(|e| StoreError::Rejected(e.to_string()))
}

#[async_trait]
impl DocumentFiles for S3DocumentFiles {
    async fn put(
        &self,
        tenant: &TenantId,
        document: &Document,
        bytes: Vec<u8>,
    ) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(Self::key(tenant, document))
            .content_type(&document.content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| unavailable(aws_sdk_s3::error::DisplayErrorContext(e)))
    }

    async fn get(
        &self,
        tenant: &TenantId,
        document: &Document,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(Self::key(tenant, document))
            .send()
            .await;
        match object {
            Ok(object) => {
                let bytes = object.body.collect().await.map_err(unavailable)?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            // Registered but never uploaded.
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(error) => Err(unavailable(aws_sdk_s3::error::DisplayErrorContext(error))),
        }
    }

    async fn upload_url(
        &self,
        tenant: &TenantId,
        document: &Document,
        expires_in: Duration,
    ) -> Result<String, StoreError> {
        let size = i64::try_from(document.size).map_err(|e| StoreError::Rejected(e.to_string()))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(Self::key(tenant, document))
            .content_type(&document.content_type)
            .content_length(size)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(|e| unavailable(aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(request.uri().to_string())
    }

    async fn download_url(
        &self,
        tenant: &TenantId,
        document: &Document,
        expires_in: Duration,
    ) -> Result<String, StoreError> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(Self::key(tenant, document))
            .response_content_disposition(format!(
                "attachment; filename=\"{}\"",
                document.filename.replace(['"', '\\'], "_")
            ))
            .response_content_type(&document.content_type)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(|e| unavailable(aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(request.uri().to_string())
    }
}
