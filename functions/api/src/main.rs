use lambda_http::{service_fn, Error, Request};
use shared::bootstrap::App;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let app = App::from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(shared::api::handle(app, request).await)
    }))
    .await
}
