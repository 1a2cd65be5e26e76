//! Property tests of job parsing: any bytes give a job or a clear error, never a panic.

use proptest::prelude::*;
use serde_json::Value;

use execq::parse as job;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        "command",
                        "args",
                        "task_id",
                        "timeout",
                        "cwd",
                        "result_file",
                        ".*"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn any_bytes_parse_to_a_job_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(object) = job::parse_object(&bytes) {
            let _ = job::from_json(&object);
        }
        let _ = job::from_script(&bytes);
    }

    #[test]
    fn any_json_value_validates_without_panicking(value in json_value()) {
        let text = value.to_string();
        match job::parse_object(text.as_bytes()) {
            Ok(object) => {
                if let Err(e) = job::from_json(&object) {
                    prop_assert!(!e.to_string().is_empty());
                }
            }
            Err(e) => prop_assert!(!value.is_object(), "an object was refused: {e}"),
        }
    }

    #[test]
    fn a_valid_job_with_any_strings_is_accepted(command in "[^\\x00]*[^\\x00\\s][^\\x00]*", args in prop::collection::vec("[^\\x00]*", 0..4)) {
        let object = serde_json::json!({"command": command, "args": args});
        let spec = job::from_json(object.as_object().unwrap()).unwrap();
        prop_assert_eq!(spec.program, job::Program::Argv { program: command, args });
    }
}
