//! Creates the stack's resources in the emulators from the template's
//! definitions. Creating what already exists is not an error.

use crate::template::{QueueDefinition, StackDefinition};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub table_name: String,
    /// The table's stream (the reports function's event source).
    pub stream_arn: Option<String>,
    pub chase_queue_url: String,
    pub dead_letter_queue_url: String,
    pub evaluation_queue_url: String,
    pub evaluation_dead_letter_queue_url: String,
    pub sender_domain: String,
    pub documents_bucket: String,
}

pub async fn create(
    app_clients: &Clients,
    stack: &StackDefinition,
    prefix: &str,
    with_stream: bool,
) -> anyhow::Result<Resources> {
    let table_name = format!("{prefix}-table");
    create_table(&app_clients.dynamodb, stack, &table_name, with_stream).await?;
    let stream_arn = app_clients
        .dynamodb
        .describe_table()
        .table_name(&table_name)
        .send()
        .await?
        .table
        .and_then(|table| table.latest_stream_arn);
    let dead_letter_queue_url = create_queue(
        &app_clients.sqs,
        &format!("{prefix}-chase-dlq"),
        &stack.dead_letter_queue,
        None,
    )
    .await?;
    let dlq_arn = queue_arn(&app_clients.sqs, &dead_letter_queue_url).await?;
    let chase_queue_url = create_queue(
        &app_clients.sqs,
        &format!("{prefix}-chase"),
        &stack.chase_queue,
        Some(&dlq_arn),
    )
    .await?;
    let evaluation_dead_letter_queue_url = create_queue(
        &app_clients.sqs,
        &format!("{prefix}-evaluation-dlq"),
        &stack.evaluation_dead_letter_queue,
        None,
    )
    .await?;
    let evaluation_dlq_arn = queue_arn(&app_clients.sqs, &evaluation_dead_letter_queue_url).await?;
    let evaluation_queue_url = create_queue(
        &app_clients.sqs,
        &format!("{prefix}-evaluation"),
        &stack.evaluation_queue,
        Some(&evaluation_dlq_arn),
    )
    .await?;
    let documents_bucket = format!("{prefix}-documents");
    app_clients
        .s3
        .create_bucket()
        .bucket(&documents_bucket)
        .send()
        .await
        .map(|_| ())
        .or_else(|e| ignore_existing(e.into_service_error().meta().code()))?;
    // moto's SES refuses to send from an unverified identity, as SES does.
    app_clients
        .ses
        .create_email_identity()
        .email_identity(&stack.sender_domain)
        .send()
        .await
        .map(|_| ())
        .or_else(|e| ignore_existing(e.into_service_error().meta().code()))?;
    Ok(Resources {
        table_name,
        stream_arn,
        chase_queue_url,
        dead_letter_queue_url,
        evaluation_queue_url,
        evaluation_dead_letter_queue_url,
        sender_domain: stack.sender_domain.clone(),
        documents_bucket,
    })
}

/// The runner's own clients: resources, and the SQS event source mapping.
/// They carry no request counter: none of this is a function's work.
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub ses: aws_sdk_sesv2::Client,
    pub s3: aws_sdk_s3::Client,
}

impl Clients {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            ses: aws_sdk_sesv2::Client::new(sdk),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(sdk)
                    .force_path_style(true)
                    .build(),
            ),
        }
    }
}

fn ignore_existing(code: Option<&str>) -> anyhow::Result<()> {
    match code {
        Some(
            "AlreadyExistsException"
            | "ResourceInUseException"
            | "QueueAlreadyExists"
            | "BucketAlreadyOwnedByYou"
            | "BucketAlreadyExists",
        ) => Ok(()),
        other => Err(anyhow::anyhow!("create failed: {other:?}")),
    }
}

async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    stack: &StackDefinition,
    name: &str,
    with_stream: bool,
) -> anyhow::Result<()> {
    let definition = &stack.table;
    let key = |attribute: &str, key_type: &str| -> anyhow::Result<KeySchemaElement> {
        Ok(KeySchemaElement::builder()
            .attribute_name(attribute)
            .key_type(KeyType::from(key_type))
            .build()?)
    };
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for (attribute, kind) in &definition.attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()?,
        );
    }
    for element in &definition.keys {
        request = request.key_schema(key(&element.attribute, &element.key_type)?);
    }
    for index in &definition.indexes {
        let mut gsi = GlobalSecondaryIndex::builder()
            .index_name(&index.name)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::from(index.projection_type.as_str()))
                    .build(),
            );
        for element in &index.keys {
            gsi = gsi.key_schema(key(&element.attribute, &element.key_type)?);
        }
        request = request.global_secondary_indexes(gsi.build()?);
    }
    if let Some(view) = definition.stream_view_type.as_ref().filter(|_| with_stream) {
        request = request.stream_specification(
            aws_sdk_dynamodb::types::StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(aws_sdk_dynamodb::types::StreamViewType::from(view.as_str()))
                .build()?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(error) => {
            ignore_existing(error.into_service_error().meta().code())?;
            return Ok(());
        }
    }
    if let Some(attribute) = &definition.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await?;
    }
    Ok(())
}

async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    definition: &QueueDefinition,
    dead_letter_arn: Option<&str>,
) -> anyhow::Result<String> {
    let mut request = client
        .create_queue()
        .queue_name(name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            definition.visibility_timeout.to_string(),
        )
        .attributes(
            QueueAttributeName::MessageRetentionPeriod,
            definition.retention_seconds.to_string(),
        );
    if let (Some(arn), Some(max)) = (dead_letter_arn, definition.max_receive_count) {
        let policy = serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": max});
        request = request.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
    }
    let output = request.send().await?;
    output
        .queue_url
        .ok_or_else(|| anyhow::anyhow!("CreateQueue returned no URL for {name}"))
}

async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<String> {
    let output = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?;
    output
        .attributes
        .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| anyhow::anyhow!("no ARN for queue {url}"))
}
