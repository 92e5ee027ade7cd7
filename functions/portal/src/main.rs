//! The customer portal: `/p/{token}` pages, behind no authorizer (the
//! token is the capability).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let started = runtime::start().await?;
    let router = api::portal::router(api::ApiState {
        context: store::context(&started),
        files: std::sync::Arc::new(messaging::s3::S3DocumentFiles::new(
            &started.sdk,
            &started.options,
            started.config.documents_bucket()?,
        )),
        request_deadline: started.config.request_deadline,
    });
    lambda_http::run(router).await
}
