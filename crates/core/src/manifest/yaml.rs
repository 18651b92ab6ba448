//! YAML text to a small tree of our own that remembers the line of every
//! key and value. Everything after this module works on this tree, so the
//! validation code never sees saphyr's types and every error has a line.

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar as YamlScalar, YamlData};

/// A value with the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: usize,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Entries in document order; keys are unique (duplicates are a load error).
    Map(Vec<Entry>),
    Seq(Vec<Node>),
    Scalar(Scalar),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_line: usize,
    pub value: Node,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

/// A document that could not be read as YAML, with the line of the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub message: String,
}

impl Node {
    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }
}

/// Loads one YAML document. An empty text (or only comments) is `Ok(None)`.
pub fn load(text: &str) -> Result<Option<Node>, YamlError> {
    let docs = MarkedYaml::load_from_str(text).map_err(|e| YamlError {
        line: e.marker().line().max(1),
        message: match e.info() {
            "duplicated key in mapping" => {
                "duplicate key (expected each key once in a mapping)".to_string()
            }
            info => format!("{info} (expected valid YAML)"),
        },
    })?;
    let mut docs = docs.iter();
    let Some(first) = docs.next() else {
        return Ok(None);
    };
    if let Some(second) = docs.next() {
        return Err(YamlError {
            line: line_of(second),
            message: "a second YAML document starts here (expected one document per manifest)"
                .to_string(),
        });
    }
    if matches!(first.data, YamlData::BadValue) {
        return Ok(None);
    }
    convert(first).map(Some)
}

fn line_of(node: &MarkedYaml<'_>) -> usize {
    node.span.start.line().max(1)
}

fn convert(node: &MarkedYaml<'_>) -> Result<Node, YamlError> {
    let line = line_of(node);
    let value = match &node.data {
        YamlData::Value(scalar) => Value::Scalar(convert_scalar(scalar)),
        YamlData::Sequence(items) => {
            Value::Seq(items.iter().map(convert).collect::<Result<_, _>>()?)
        }
        YamlData::Mapping(map) => {
            let mut entries = Vec::with_capacity(map.len());
            for (key, value) in map {
                entries.push(Entry {
                    key: key_text(key)?,
                    key_line: line_of(key),
                    value: convert(value)?,
                });
            }
            Value::Map(entries)
        }
        YamlData::Tagged(tag, _) => {
            return Err(YamlError {
                line,
                message: format!(
                    "tag {tag} is not supported (expected plain values, without ! tags)"
                ),
            })
        }
        YamlData::Representation(..) | YamlData::Alias(_) | YamlData::BadValue => {
            return Err(YamlError {
                line,
                message: "this value cannot be read (expected a plain scalar, list or mapping)"
                    .to_string(),
            })
        }
    };
    Ok(Node { line, value })
}

fn convert_scalar(scalar: &YamlScalar<'_>) -> Scalar {
    match scalar {
        YamlScalar::Null => Scalar::Null,
        YamlScalar::Boolean(b) => Scalar::Bool(*b),
        YamlScalar::Integer(i) => Scalar::Int(*i),
        YamlScalar::FloatingPoint(f) => Scalar::Float(f.into_inner()),
        YamlScalar::String(s) => Scalar::Str(s.to_string()),
    }
}

/// Keys are names: a scalar key is used as its text (`1: x` has key "1").
fn key_text(key: &MarkedYaml<'_>) -> Result<String, YamlError> {
    match &key.data {
        YamlData::Value(YamlScalar::String(s)) => Ok(s.to_string()),
        YamlData::Value(YamlScalar::Integer(i)) => Ok(i.to_string()),
        YamlData::Value(YamlScalar::FloatingPoint(f)) => Ok(f.to_string()),
        YamlData::Value(YamlScalar::Boolean(b)) => Ok(b.to_string()),
        _ => Err(YamlError {
            line: line_of(key),
            message: "this mapping key is not a plain name (expected a text key such as `column`)"
                .to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(line: usize, s: Scalar) -> Node {
        Node {
            line,
            value: Value::Scalar(s),
        }
    }

    #[test]
    fn keeps_lines_of_keys_and_values() {
        let text = "a: 1\nb:\n  - x\n  - 2.5\nc: |\n  one\n  two\nd: ~\n";
        let root = load(text).unwrap().unwrap();
        let map = root.as_map().unwrap();
        let keys: Vec<_> = map.iter().map(|e| (e.key.as_str(), e.key_line)).collect();
        assert_eq!(keys, vec![("a", 1), ("b", 2), ("c", 5), ("d", 8)]);
        assert_eq!(map[0].value, scalar(1, Scalar::Int(1)));
        assert_eq!(
            map[1].value.value,
            Value::Seq(vec![
                scalar(3, Scalar::Str("x".into())),
                scalar(4, Scalar::Float(2.5))
            ])
        );
        assert_eq!(
            map[2].value.value,
            Value::Scalar(Scalar::Str("one\ntwo\n".into()))
        );
        assert_eq!(map[3].value, scalar(8, Scalar::Null));
    }

    #[test]
    fn rejects_what_it_cannot_represent() {
        for (text, line, message) in [
            (
                "a: 1\nb: 2\na: 3\n",
                3,
                "duplicate key (expected each key once in a mapping)",
            ),
            (
                "a: [1, 2\n",
                2,
                "while parsing a flow sequence, expected ',' or ']'",
            ),
            ("a: 1\n---\nb: 2\n", 3, "a second YAML document starts here"),
            ("a: !secret x\n", 1, "tag !secret is not supported"),
            ("a: !!int abc\n", 1, "this value cannot be read"),
            ("[a]: 1\n", 1, "this mapping key is not a plain name"),
        ] {
            let err = load(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}");
            assert!(
                err.message.starts_with(message),
                "{text:?}: {}",
                err.message
            );
        }
        assert_eq!(load("").unwrap(), None);
        assert_eq!(load("# nothing\n").unwrap(), None);
    }
}
