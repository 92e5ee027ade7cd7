//! The tenant API: every `/v1/*` route, behind API Gateway's JWT authorizer.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let started = runtime::start().await?;
    let metrics = runtime::metrics::emf()?;
    let router = api::router(api::ApiState {
        context: store::context(&started),
        files: std::sync::Arc::new(messaging::s3::S3DocumentFiles::new(
            &started.sdk,
            &started.options,
            started.config.documents_bucket()?,
        )),
        request_deadline: started.config.request_deadline,
    })
    // One EMF line per request, after its response is built.
    .layer(tower::util::MapResponseLayer::new(move |response| {
        runtime::metrics::flush(metrics);
        response
    }));
    lambda_http::run(router).await
}
