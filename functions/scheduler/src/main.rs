//! The scheduler, on two triggers: each EventBridge tick fans out one
//! evaluation unit per shard of the due index; each unit, from the
//! evaluation queue, evaluates one page of due customers and puts their due
//! chases on the chase queue.

use app::jobs::scheduler::Scheduler;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde::Deserialize;
use std::sync::Arc;

/// What invokes the function: the schedule, or a batch of evaluation units.
#[derive(Deserialize)]
#[serde(untagged)]
enum Trigger {
    Units(SqsEvent),
    Tick(EventBridgeEvent),
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = runtime::start().await?;
    let metrics = runtime::metrics::emf()?;
    let queue = |url| {
        Arc::new(messaging::sqs::SqsQueue::new(
            &started.sdk,
            &started.options,
            url,
        ))
    };
    let scheduler = Scheduler {
        context: store::context(&started),
        chase_queue: queue(started.config.chase_queue_url()?),
        evaluation_queue: queue(started.config.evaluation_queue_url()?),
    };
    let scheduler = &scheduler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Trigger>| async move {
        let answer = match event.payload {
            Trigger::Units(units) => {
                let (_, failed) = scheduler
                    .handle(messaging::sqs_events::records(units))
                    .await;
                serde_json::to_value(messaging::sqs_events::batch_response(failed))?
            }
            // The event's time, never the wall clock: a late or retried
            // event evaluates the instant it was scheduled for.
            Trigger::Tick(tick) => {
                let at = tick.time.ok_or("the scheduled event has no time")?;
                serde_json::to_value(scheduler.tick(at).await?)?
            }
        };
        runtime::metrics::flush(metrics);
        Ok::<_, Error>(answer)
    }))
    .await
}
