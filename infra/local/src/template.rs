//! Reads the resource definitions out of `template.yaml`, so the local stack
//! creates exactly the table, indexes and queues that SAM deploys.

use serde_norway::Value;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("template.yaml is not valid YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("template.yaml: {0} is missing or not literal")]
    Missing(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyElement {
    pub attribute: String,
    /// `HASH` or `RANGE`.
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexDefinition {
    pub name: String,
    pub keys: Vec<KeyElement>,
    pub projection_type: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableDefinition {
    /// Attribute name to type (`S`, `N`, `B`).
    pub attributes: Vec<(String, String)>,
    pub keys: Vec<KeyElement>,
    pub indexes: Vec<IndexDefinition>,
    pub ttl_attribute: Option<String>,
    /// `StreamSpecification.StreamViewType`, when the table has a stream.
    pub stream_view_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueDefinition {
    pub visibility_timeout: i64,
    pub retention_seconds: i64,
    pub max_receive_count: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StackDefinition {
    pub table: TableDefinition,
    pub chase_queue: QueueDefinition,
    pub dead_letter_queue: QueueDefinition,
    pub evaluation_queue: QueueDefinition,
    pub evaluation_dead_letter_queue: QueueDefinition,
    /// The template's default `MaximumConcurrency` of the chase worker's and
    /// the evaluation units' event source mappings.
    pub worker_max_concurrency: usize,
    pub evaluation_max_concurrency: usize,
    /// The SES identity's domain (the `SenderDomain` parameter's default).
    pub sender_domain: String,
}

impl StackDefinition {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let template: Value = serde_norway::from_str(text)?;
        let resources = field(&template, "Resources")?;
        let table = properties(resources, "Table")?;
        let chase = properties(resources, "ChaseQueue")?;
        let dead = properties(resources, "ChaseDeadLetterQueue")?;
        let evaluation = properties(resources, "EvaluationQueue")?;
        let evaluation_dead = properties(resources, "EvaluationDeadLetterQueue")?;
        let sender_domain = text_at(&template, &["Parameters", "SenderDomain", "Default"])?;
        let parameters = field(&template, "Parameters")?;
        let default_of = |name: &str| -> Result<usize, TemplateError> {
            usize::try_from(number(field(parameters, name)?, "Default")?)
                .map_err(|_| TemplateError::Missing(format!("Parameters.{name}.Default")))
        };
        Ok(Self {
            table: table_definition(table)?,
            chase_queue: queue_definition(chase)?,
            dead_letter_queue: queue_definition(dead)?,
            evaluation_queue: queue_definition(evaluation)?,
            evaluation_dead_letter_queue: queue_definition(evaluation_dead)?,
            worker_max_concurrency: default_of("WorkerMaxConcurrency")?,
            evaluation_max_concurrency: default_of("EvaluationMaxConcurrency")?,
            sender_domain,
        })
    }
}

/// The template path: `template.yaml` at the workspace root.
pub fn default_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")
}

fn field<'a>(value: &'a Value, name: &str) -> Result<&'a Value, TemplateError> {
    value
        .get(name)
        .ok_or_else(|| TemplateError::Missing(name.to_string()))
}

fn properties<'a>(resources: &'a Value, name: &str) -> Result<&'a Value, TemplateError> {
    field(field(resources, name)?, "Properties")
        .map_err(|_| TemplateError::Missing(format!("Resources.{name}.Properties")))
}

fn text_at(value: &Value, path: &[&str]) -> Result<String, TemplateError> {
    let mut current = value;
    for name in path {
        current = field(current, name).map_err(|_| TemplateError::Missing(path.join(".")))?;
    }
    current
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| TemplateError::Missing(path.join(".")))
}

fn text(value: &Value, name: &str) -> Result<String, TemplateError> {
    text_at(value, &[name])
}

fn number(value: &Value, name: &str) -> Result<i64, TemplateError> {
    field(value, name)?
        .as_i64()
        .ok_or_else(|| TemplateError::Missing(name.to_string()))
}

fn list<'a>(value: &'a Value, name: &str) -> Result<&'a Vec<Value>, TemplateError> {
    field(value, name)?
        .as_sequence()
        .ok_or_else(|| TemplateError::Missing(name.to_string()))
}

fn key_schema(value: &Value) -> Result<Vec<KeyElement>, TemplateError> {
    list(value, "KeySchema")?
        .iter()
        .map(|key| {
            Ok(KeyElement {
                attribute: text(key, "AttributeName")?,
                key_type: text(key, "KeyType")?,
            })
        })
        .collect()
}

fn table_definition(table: &Value) -> Result<TableDefinition, TemplateError> {
    let attributes = list(table, "AttributeDefinitions")?
        .iter()
        .map(|a| Ok((text(a, "AttributeName")?, text(a, "AttributeType")?)))
        .collect::<Result<_, TemplateError>>()?;
    let indexes = match table.get("GlobalSecondaryIndexes") {
        None => Vec::new(),
        Some(_) => list(table, "GlobalSecondaryIndexes")?
            .iter()
            .map(|index| {
                Ok(IndexDefinition {
                    name: text(index, "IndexName")?,
                    keys: key_schema(index)?,
                    projection_type: text_at(index, &["Projection", "ProjectionType"])?,
                })
            })
            .collect::<Result<_, TemplateError>>()?,
    };
    let ttl_attribute = table
        .get("TimeToLiveSpecification")
        .and_then(|ttl| ttl.get("AttributeName"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let stream_view_type = table
        .get("StreamSpecification")
        .and_then(|stream| stream.get("StreamViewType"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(TableDefinition {
        attributes,
        keys: key_schema(table)?,
        indexes,
        ttl_attribute,
        stream_view_type,
    })
}

fn queue_definition(queue: &Value) -> Result<QueueDefinition, TemplateError> {
    let max_receive_count = match queue.get("RedrivePolicy") {
        Some(policy) => Some(number(policy, "maxReceiveCount")?),
        None => None,
    };
    Ok(QueueDefinition {
        visibility_timeout: queue
            .get("VisibilityTimeout")
            .and_then(Value::as_i64)
            .unwrap_or(30),
        retention_seconds: number(queue, "MessageRetentionPeriod")?,
        max_receive_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_projects_template() {
        let stack = StackDefinition::load(&default_path()).unwrap();
        let index_names: Vec<&str> = stack
            .table
            .indexes
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert!(index_names.contains(&"DueIndex"));
        assert_eq!(stack.table.keys[0].attribute, "PK");
        assert_eq!(stack.table.ttl_attribute.as_deref(), Some("expires_at"));
        // docs/architecture.md / template: visibility is at least 6x the worker timeout.
        assert!(stack.chase_queue.visibility_timeout >= 180);
        assert!(stack.chase_queue.max_receive_count.is_some());
        assert!(!stack.sender_domain.is_empty());
    }
}
