//! What each function is allowed to do, read from `template.yaml`, compared
//! with what it did. The integration suite records every AWS action each
//! function performed (`AWS_ACTIONS_DIR`); `local check-policies` then
//! proves each one is granted by that function's policy and that nothing
//! granted goes unused.

use crate::template::TemplateError;
use serde_norway::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A function of the template as the policy check and the timeout check see it.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDefinition {
    /// The binary (`BuildProperties.Binary`): api, scheduler, ...
    pub binary: String,
    /// Seconds; the function's own or the Globals' value.
    pub timeout: i64,
    /// Environment variables with literal values, Globals first.
    pub environment: BTreeMap<String, String>,
    /// Every action its inline policies allow.
    pub actions: BTreeSet<String>,
}

pub fn functions(template_text: &str) -> Result<Vec<FunctionDefinition>, TemplateError> {
    let template: Value = serde_norway::from_str(template_text)?;
    let globals = template.get("Globals").and_then(|g| g.get("Function"));
    let global_timeout = globals
        .and_then(|g| g.get("Timeout"))
        .and_then(Value::as_i64)
        .unwrap_or(3);
    let mut global_environment = BTreeMap::new();
    if let Some(globals) = globals {
        literal_variables(globals, &mut global_environment);
    }
    let resources = template
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| TemplateError::Missing("Resources".into()))?;
    let mut found = Vec::new();
    for (name, resource) in resources {
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap_or("?");
        let binary = resource
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                TemplateError::Missing(format!("{name}.Metadata.BuildProperties.Binary"))
            })?;
        let properties = resource
            .get("Properties")
            .ok_or_else(|| TemplateError::Missing(format!("{name}.Properties")))?;
        let mut environment = global_environment.clone();
        literal_variables(properties, &mut environment);
        let mut actions = BTreeSet::new();
        for policy in properties
            .get("Policies")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            for statement in policy
                .get("Statement")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
            {
                if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
                    continue;
                }
                match statement.get("Action") {
                    Some(Value::String(action)) => {
                        actions.insert(action.clone());
                    }
                    Some(Value::Sequence(list)) => {
                        actions.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
                    }
                    _ => {}
                }
            }
        }
        found.push(FunctionDefinition {
            binary: binary.to_string(),
            timeout: properties
                .get("Timeout")
                .and_then(Value::as_i64)
                .unwrap_or(global_timeout),
            environment,
            actions,
        });
    }
    Ok(found)
}

fn literal_variables(function: &Value, into: &mut BTreeMap<String, String>) {
    let variables = function
        .get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping);
    for (name, value) in variables.into_iter().flatten() {
        let literal = match value {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        };
        if let (Some(name), Some(literal)) = (name.as_str(), literal) {
            into.insert(name.to_string(), literal);
        }
    }
}

/// Per function: actions used but not granted, and granted but never used.
#[derive(Debug, Default, PartialEq)]
pub struct PolicyReport {
    pub rows: Vec<PolicyRow>,
}

#[derive(Debug, PartialEq)]
pub struct PolicyRow {
    pub function: String,
    pub used: BTreeSet<String>,
    pub missing: BTreeSet<String>,
    pub unused: BTreeSet<String>,
}

impl PolicyReport {
    pub fn compare(
        functions: &[FunctionDefinition],
        used: &BTreeMap<String, BTreeSet<String>>,
    ) -> Self {
        let rows = functions
            .iter()
            .map(|function| {
                let used = used.get(&function.binary).cloned().unwrap_or_default();
                PolicyRow {
                    function: function.binary.clone(),
                    missing: used.difference(&function.actions).cloned().collect(),
                    unused: function.actions.difference(&used).cloned().collect(),
                    used,
                }
            })
            .collect();
        Self { rows }
    }

    pub fn holds(&self) -> bool {
        self.rows
            .iter()
            .all(|row| row.missing.is_empty() && row.unused.is_empty())
    }
}

impl std::fmt::Display for PolicyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for row in &self.rows {
            let list = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
            writeln!(f, "{:<18} used: {}", row.function, list(&row.used))?;
            if !row.missing.is_empty() {
                writeln!(f, "{:<18} USED BUT NOT GRANTED: {}", "", list(&row.missing))?;
            }
            if !row.unused.is_empty() {
                writeln!(
                    f,
                    "{:<18} GRANTED BUT NEVER USED: {}",
                    "",
                    list(&row.unused)
                )?;
            }
        }
        Ok(())
    }
}

/// Unions the action files the test processes wrote (`{binary: [action]}`).
pub fn read_recorded(dir: &Path) -> anyhow::Result<BTreeMap<String, BTreeSet<String>>> {
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let recorded: BTreeMap<String, BTreeSet<String>> =
            serde_json::from_slice(&std::fs::read(&path)?)?;
        for (function, actions) in recorded {
            used.entry(function).or_default().extend(actions);
        }
    }
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_is_read_with_its_policy_and_bounded_aws_calls() {
        let text = std::fs::read_to_string(crate::template::default_path()).unwrap();
        let functions = functions(&text).unwrap();
        let names: BTreeSet<&str> = functions.iter().map(|f| f.binary.as_str()).collect();
        assert_eq!(
            names,
            BTreeSet::from([
                "api",
                "portal",
                "scheduler",
                "chase-worker",
                "delivery-feedback",
                "reports"
            ])
        );
        for function in &functions {
            assert!(!function.actions.is_empty(), "{}", function.binary);
            // docs/architecture.md (Timeouts): every AWS call ends before the function does.
            let millis = |name: &str| -> i64 {
                function
                    .environment
                    .get(name)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{} sets no {name}", function.binary))
            };
            let operation = millis("AWS_OPERATION_TIMEOUT_MS");
            assert!(
                millis("AWS_ATTEMPT_TIMEOUT_MS") <= operation,
                "{}",
                function.binary
            );
            assert!(operation < function.timeout * 1000, "{}", function.binary);
        }
        let api = functions.iter().find(|f| f.binary == "api").unwrap();
        let deadline: i64 = api.environment["REQUEST_DEADLINE_MS"].parse().unwrap();
        assert!(deadline < api.timeout * 1000);
        assert!(
            deadline
                >= api.environment["AWS_OPERATION_TIMEOUT_MS"]
                    .parse::<i64>()
                    .unwrap()
        );
    }

    #[test]
    fn the_report_names_what_is_missing_and_what_is_unused() {
        let function = FunctionDefinition {
            binary: "scheduler".into(),
            timeout: 60,
            environment: BTreeMap::new(),
            actions: BTreeSet::from(["dynamodb:Query".to_string(), "dynamodb:GetItem".to_string()]),
        };
        let used = BTreeMap::from([(
            "scheduler".to_string(),
            BTreeSet::from(["dynamodb:Query".to_string(), "dynamodb:PutItem".to_string()]),
        )]);
        let report = PolicyReport::compare(&[function], &used);
        assert!(!report.holds());
        assert_eq!(
            report.rows[0].missing,
            BTreeSet::from(["dynamodb:PutItem".to_string()])
        );
        assert_eq!(
            report.rows[0].unused,
            BTreeSet::from(["dynamodb:GetItem".to_string()])
        );
    }
}
