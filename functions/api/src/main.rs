//! The tenant API: every `/v1/*` route, behind API Gateway's JWT authorizer.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let started = runtime::start().await?;
    let metrics = runtime::metrics::emf()?;
    let router = api::router(api::ApiState {
        context: store::context(&started),
        request_deadline: started.config.request_deadline,
    })
    // One EMF line per request, after its response is built.
    .layer(tower::util::MapResponseLayer::new(move |response| {
        runtime::metrics::flush(metrics);
        response
    }));
    lambda_http::run(router).await
}
