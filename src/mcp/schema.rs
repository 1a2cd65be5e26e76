//! The tools' input and output schemas: standard JSON Schema that every client's validator
//! accepts. schemars marks integers with formats of its own (`"format": "uint64"`, `"uint"`,
//! `"int64"`, `"double"`), which are not in JSON Schema: the official TypeScript SDK's validator
//! warns about each on every `tools/list`. Those formats are dropped here (`RestrictFormats`
//! keeps only the draft's own, such as `date-time`); `minimum: 0` says what `uint` did.
//! Otherwise as rmcp's own `schema_for_input`/`schema_for_output`: no root `title` or
//! `description`, and an input schema must be an object.

use std::sync::Arc;

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use schemars::transform::RestrictFormats;

fn generate<T: JsonSchema>(settings: SchemaSettings) -> JsonObject {
    let schema = settings
        .with_transform(RestrictFormats::default())
        .into_generator()
        .into_root_schema_for::<T>();
    let serde_json::Value::Object(mut object) =
        serde_json::to_value(schema).expect("a schema serializes")
    else {
        unreachable!("a root schema is an object")
    };
    object.remove("title");
    object.remove("description");
    object
}

/// The input schema of a tool taking `T` (a JSON object).
pub fn input<T: JsonSchema>() -> Arc<JsonObject> {
    let object = generate::<T>(SchemaSettings::draft2020_12());
    assert_eq!(
        object.get("type"),
        Some(&serde_json::json!("object")),
        "a tool's input is an object"
    );
    Arc::new(object)
}

/// The output schema of a tool answering with `T`.
pub fn output<T: JsonSchema>() -> Arc<JsonObject> {
    Arc::new(generate::<T>(
        SchemaSettings::draft2020_12().for_serialize(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::args::{JobList, SubmitArgs};
    use crate::ops::output::OutputPage;

    /// Every `format` in a schema, wherever it is.
    fn formats(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(object) => {
                if let Some(serde_json::Value::String(format)) = object.get("format") {
                    found.push(format.clone());
                }
                object.values().for_each(|v| formats(v, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| formats(v, found)),
            _ => {}
        }
    }

    #[test]
    fn no_schema_carries_a_format_json_schema_does_not_define() {
        let schemas = [
            serde_json::Value::Object((*input::<SubmitArgs>()).clone()),
            serde_json::Value::Object((*output::<JobList>()).clone()),
            serde_json::Value::Object((*output::<OutputPage>()).clone()),
        ];
        for schema in &schemas {
            let mut found = Vec::new();
            formats(schema, &mut found);
            assert!(found.is_empty(), "{found:?} in {schema:#}");
        }
        let text = schemas[2].to_string();
        assert!(
            text.contains("\"minimum\":0"),
            "unsigned integers keep their minimum: {text}"
        );
    }
}
