//! Renders `openapi.yaml` into the static HTML page `GET /docs` serves, at
//! build time: the page needs no script, stylesheet or font from elsewhere
//! (it works offline), and the function carries no YAML parser.

use serde_json::Value;
use std::error::Error;
use std::fmt::Write as _;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-changed=openapi.yaml");
    let text = std::fs::read_to_string("openapi.yaml")?;
    let doc: Value = serde_norway::from_str(&text)?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("docs.html");
    std::fs::write(out, render(&doc)?)?;
    Ok(())
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `#/components/schemas/Name` becomes a link to that schema's section.
fn reference_link(reference: &str) -> String {
    let name = reference.rsplit('/').next().unwrap_or(reference);
    let anchor = reference.trim_start_matches("#/").replace('/', "-");
    format!("<a href=\"#{}\">{}</a>", esc(&anchor), esc(name))
}

/// A short description of a schema: its `$ref` as a link, or its type.
fn schema_summary(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return reference_link(reference);
    }
    if let Some(items) = schema.get("items") {
        return format!("array of {}", schema_summary(items));
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema.get(combinator).and_then(Value::as_array) {
            let parts: Vec<String> = options.iter().map(schema_summary).collect();
            return parts.join(if combinator == "allOf" {
                " and "
            } else {
                " or "
            });
        }
    }
    match schema.get("type") {
        Some(Value::String(t)) => esc(t),
        Some(Value::Array(types)) => esc(&types
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | ")),
        _ => "any".into(),
    }
}

/// Paragraphs of a description, text escaped; `code` kept readable.
fn prose(text: &str) -> String {
    let mut html = String::new();
    for paragraph in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let _ = write!(
            html,
            "<p>{}</p>",
            esc(paragraph.trim()).replace('\n', "<br>")
        );
    }
    html
}

fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => doc
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or(value),
        None => value,
    }
}

fn operation(doc: &Value, path: &str, method: &str, item: &Value, op: &Value) -> String {
    let mut html = String::new();
    let id = str_of(op, "operationId");
    let _ = write!(
        html,
        "<section class=\"op\" id=\"{}\"><h3><span class=\"m {method}\">{}</span> <code>{}</code></h3><p class=\"summary\">{}</p>{}",
        esc(id),
        method.to_uppercase(),
        esc(path),
        esc(str_of(op, "summary")),
        prose(str_of(op, "description"))
    );
    let mut parameters: Vec<&Value> = Vec::new();
    for list in [item.get("parameters"), op.get("parameters")]
        .into_iter()
        .flatten()
    {
        parameters.extend(
            list.as_array()
                .into_iter()
                .flatten()
                .map(|p| resolve(doc, p)),
        );
    }
    if !parameters.is_empty() {
        html.push_str(
            "<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>",
        );
        for p in parameters {
            let required = if p.get("required").and_then(Value::as_bool) == Some(true) {
                " *"
            } else {
                ""
            };
            let _ = write!(
                html,
                "<tr><td><code>{}</code>{required}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(str_of(p, "name")),
                esc(str_of(p, "in")),
                p.get("schema").map(schema_summary).unwrap_or_default(),
                esc(str_of(p, "description"))
            );
        }
        html.push_str("</table>");
    }
    if let Some(body) = op.get("requestBody").map(|b| resolve(doc, b)) {
        if let Some(content) = body.get("content").and_then(Value::as_object) {
            for (media, spec) in content {
                let _ = write!(
                    html,
                    "<p>Body <code>{}</code>: {}</p>",
                    esc(media),
                    spec.get("schema").map(schema_summary).unwrap_or_default()
                );
            }
        }
    }
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        html.push_str("<ul class=\"responses\">");
        for (status, response) in responses {
            let response = resolve(doc, response);
            let schemas: Vec<String> = response
                .get("content")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(media, spec)| {
                    format!(
                        "<code>{}</code> {}",
                        esc(media),
                        spec.get("schema").map(schema_summary).unwrap_or_default()
                    )
                })
                .collect();
            let _ = write!(
                html,
                "<li><b>{}</b> {} {}</li>",
                esc(status),
                esc(str_of(response, "description")),
                schemas.join(", ")
            );
        }
        html.push_str("</ul>");
    }
    html.push_str("</section>");
    html
}

fn render(doc: &Value) -> Result<String, Box<dyn Error>> {
    let info = &doc["info"];
    let title = format!("{} (v{})", str_of(info, "title"), str_of(info, "version"));
    let paths = doc["paths"].as_object().ok_or("openapi.yaml: no paths")?;
    let mut by_tag: Vec<(String, Vec<String>)> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| (str_of(t, "name").to_string(), Vec::new()))
        .collect();
    let mut contents = String::new();
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let tag = op["tags"][0].as_str().unwrap_or("other").to_string();
            let section = operation(doc, path, method, item, op);
            match by_tag.iter_mut().find(|(name, _)| *name == tag) {
                Some((_, ops)) => ops.push(section),
                None => by_tag.push((tag, vec![section])),
            }
            let _ = write!(
                contents,
                "<li><a href=\"#{}\"><span class=\"m {method}\">{}</span> {}</a></li>",
                esc(str_of(op, "operationId")),
                method.to_uppercase(),
                esc(path)
            );
        }
    }
    let mut body = String::new();
    for (tag, ops) in &by_tag {
        let _ = write!(
            body,
            "<h2 id=\"tag-{0}\">{0}</h2>{1}",
            esc(tag),
            ops.concat()
        );
    }
    body.push_str("<h2 id=\"components\">Schemas</h2>");
    for (kind, items) in doc["components"].as_object().into_iter().flatten() {
        if !["schemas", "responses"].contains(&kind.as_str()) {
            continue;
        }
        for (name, schema) in items.as_object().into_iter().flatten() {
            let _ = write!(
                body,
                "<section class=\"schema\" id=\"components-{}-{}\"><h3>{}</h3><pre>{}</pre></section>",
                esc(kind),
                esc(name),
                esc(name),
                esc(&serde_json::to_string_pretty(schema)?)
            );
        }
    }
    Ok(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font:15px/1.5 system-ui,sans-serif;margin:0;display:flex;color:#1d1d1f}}
nav{{width:22rem;height:100vh;overflow:auto;position:sticky;top:0;background:#f5f5f7;padding:1rem;box-sizing:border-box;font-size:13px}}
nav ul{{list-style:none;padding:0}} nav a{{text-decoration:none;color:inherit}}
main{{flex:1;padding:1rem 2rem;max-width:60rem}}
.op{{border-top:1px solid #ddd;padding:.5rem 0}} .summary{{font-weight:600}}
.m{{display:inline-block;min-width:4rem;font:bold 12px monospace;color:#fff;border-radius:3px;padding:1px 4px;text-align:center}}
.get{{background:#2f7d32}} .post{{background:#1565c0}} .put{{background:#6a1b9a}} .patch{{background:#ef6c00}} .delete{{background:#c62828}}
table{{border-collapse:collapse}} td,th{{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}}
pre{{background:#f5f5f7;padding:.5rem;overflow:auto;font-size:12px}}
</style></head>
<body><nav><b>{title}</b><p><a href="openapi.yaml">openapi.yaml</a></p><ul>{contents}</ul></nav>
<main><h1>{title}</h1>{description}{body}</main></body></html>
"#,
        title = esc(&title),
        description = prose(str_of(info, "description")),
    ))
}
