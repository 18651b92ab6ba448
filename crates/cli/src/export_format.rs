//! Writing records (JSON objects) as json, ndjson, csv or yaml.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::cli::ExportFormat;

/// `--format` wins; else the file extension; else json.
pub fn choose(explicit: Option<ExportFormat>, file: &Path) -> ExportFormat {
    if let Some(format) = explicit {
        return format;
    }
    match file.extension().and_then(|e| e.to_str()) {
        Some("ndjson" | "jsonl") => ExportFormat::Ndjson,
        Some("csv") => ExportFormat::Csv,
        Some("yaml" | "yml") => ExportFormat::Yaml,
        _ => ExportFormat::Json,
    }
}

pub fn render(records: &[Value], format: ExportFormat) -> Result<String> {
    match format {
        ExportFormat::Json => Ok(serde_json::to_string_pretty(records)? + "\n"),
        ExportFormat::Ndjson => {
            let mut out = String::new();
            for record in records {
                out.push_str(&serde_json::to_string(record)?);
                out.push('\n');
            }
            Ok(out)
        }
        ExportFormat::Csv => csv(records),
        ExportFormat::Yaml => yaml(&Value::Array(records.to_vec())),
    }
}

/// Columns are the union of the records' keys, in first-seen order; nested
/// values are written as JSON text.
fn csv(records: &[Value]) -> Result<String> {
    let mut columns: Vec<String> = Vec::new();
    for record in records {
        let Some(object) = record.as_object() else {
            bail!("csv export needs flat records");
        };
        for key in object.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&columns)?;
    for record in records {
        let row: Vec<String> = columns
            .iter()
            .map(|c| match record.get(c) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            })
            .collect();
        writer.write_record(&row)?;
    }
    let bytes = writer
        .into_inner()
        .context("cannot finish the csv output")?;
    Ok(String::from_utf8(bytes)?)
}

fn yaml(value: &Value) -> Result<String> {
    let mut out = String::new();
    let mut emitter = saphyr::YamlEmitter::new(&mut out);
    emitter.multiline(true);
    emitter
        .dump(&to_yaml(value))
        .map_err(|e| anyhow::anyhow!("cannot write yaml: {e:?}"))?;
    out.push('\n');
    Ok(out)
}

fn to_yaml(value: &Value) -> saphyr::Yaml<'static> {
    use saphyr::{Scalar, Yaml};
    match value {
        Value::Null => Yaml::Value(Scalar::Null),
        Value::Bool(b) => Yaml::Value(Scalar::Boolean(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Value(Scalar::Integer(i)),
            None => Yaml::Value(Scalar::FloatingPoint(n.as_f64().unwrap_or(f64::NAN).into())),
        },
        Value::String(s) => Yaml::Value(Scalar::String(s.clone().into())),
        Value::Array(items) => Yaml::Sequence(items.iter().map(to_yaml).collect()),
        Value::Object(map) => {
            let mut mapping = saphyr::Mapping::new();
            for (k, v) in map {
                mapping.insert(Yaml::Value(Scalar::String(k.clone().into())), to_yaml(v));
            }
            Yaml::Mapping(mapping)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_render() {
        let records = vec![
            json!({"rule": "a", "value": 1.5, "sample": [{"id": 1}]}),
            json!({"rule": "b,c", "extra": null}),
        ];
        assert_eq!(
            render(&records, ExportFormat::Csv).unwrap(),
            "rule,value,sample,extra\na,1.5,\"[{\"\"id\"\":1}]\",\n\"b,c\",,,\n"
        );
        assert_eq!(
            render(&records, ExportFormat::Ndjson)
                .unwrap()
                .lines()
                .count(),
            2
        );
        let yaml = render(&records, ExportFormat::Yaml).unwrap();
        assert!(yaml.contains("rule: a"), "{yaml}");
        assert!(
            yaml.contains("rule: \"b,c\"")
                || yaml.contains("rule: 'b,c'")
                || yaml.contains("rule: b,c"),
            "{yaml}"
        );
        let back: Vec<Value> =
            serde_json::from_str(&render(&records, ExportFormat::Json).unwrap()).unwrap();
        assert_eq!(back, records);
    }

    #[test]
    fn format_from_extension() {
        for (file, expected) in [
            ("x.csv", ExportFormat::Csv),
            ("x.ndjson", ExportFormat::Ndjson),
            ("x.yml", ExportFormat::Yaml),
            ("x.json", ExportFormat::Json),
            ("-", ExportFormat::Json),
        ] {
            assert_eq!(choose(None, Path::new(file)), expected, "{file}");
        }
        assert_eq!(
            choose(Some(ExportFormat::Csv), Path::new("x.json")),
            ExportFormat::Csv
        );
    }
}
