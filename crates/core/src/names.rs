//! Validated names. A `RuleName` or `Identifier` that exists has been checked
//! once, here; everything downstream (SQL quoting, file names, metric labels)
//! relies on that.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must not be empty")]
    Empty,
    #[error("{0:?} is too long ({1} characters, at most {2})")]
    TooLong(String, usize, usize),
    #[error("{0:?} has invalid character {1:?} (expected {2})")]
    InvalidChar(String, char, &'static str),
    #[error("{0:?} must start with a letter or underscore")]
    BadStart(String),
    #[error("{0:?} has an empty part")]
    EmptyPart(String),
    #[error("{0:?} has {1} dot-separated parts (at most {2}: schema.table)")]
    TooManyParts(String, usize, usize),
}

const RULE_NAME_CHARS: &str = "letters, digits, '_', '-', '.'";
const IDENT_CHARS: &str = "letters, digits, '_' or '$'";

/// The unique name of a rule: what people type in `dq run --rule-name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RuleName(String);

impl RuleName {
    pub const MAX_LEN: usize = 128;

    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.chars().count() > Self::MAX_LEN {
            let len = name.chars().count();
            return Err(NameError::TooLong(name, len, Self::MAX_LEN));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        {
            return Err(NameError::InvalidChar(name, bad, RULE_NAME_CHARS));
        }
        Ok(RuleName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RuleName {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        RuleName::new(value)
    }
}

impl From<RuleName> for String {
    fn from(value: RuleName) -> Self {
        value.0
    }
}

impl fmt::Display for RuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A column (or one part of a dataset name). Deliberately stricter than SQL:
/// no quotes, spaces or dots, so quoting it is always safe and unambiguous.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Identifier(String);

impl Identifier {
    pub const MAX_LEN: usize = 63; // PostgreSQL's NAMEDATALEN - 1

    pub fn new(ident: impl Into<String>) -> Result<Self, NameError> {
        let ident = ident.into();
        let first = ident.chars().next().ok_or(NameError::Empty)?;
        if ident.len() > Self::MAX_LEN {
            let len = ident.len();
            return Err(NameError::TooLong(ident, len, Self::MAX_LEN));
        }
        if !(first.is_ascii_alphabetic() || first == '_') {
            return Err(NameError::BadStart(ident));
        }
        if let Some(bad) = ident
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '$')))
        {
            return Err(NameError::InvalidChar(ident, bad, IDENT_CHARS));
        }
        Ok(Identifier(ident))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `"name"` with embedded quotes doubled. Validation already forbids
    /// quotes; doubling them anyway keeps this safe if the rules ever relax.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0.replace('"', "\"\""))
    }
}

impl TryFrom<String> for Identifier {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Identifier::new(value)
    }
}

impl From<Identifier> for String {
    fn from(value: Identifier) -> Self {
        value.0
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A table or collection, optionally schema-qualified: `orders` or `public.orders`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Dataset {
    pub schema: Option<Identifier>,
    pub name: Identifier,
}

impl Dataset {
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let parts: Vec<&str> = text.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) && !text.is_empty() {
            return Err(NameError::EmptyPart(text.to_string()));
        }
        match parts.as_slice() {
            [name] => Ok(Dataset {
                schema: None,
                name: Identifier::new(*name)?,
            }),
            [schema, name] => Ok(Dataset {
                schema: Some(Identifier::new(*schema)?),
                name: Identifier::new(*name)?,
            }),
            _ => Err(NameError::TooManyParts(text.to_string(), parts.len(), 2)),
        }
    }

    /// `"schema"."name"` or `"name"`.
    pub fn quoted(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", schema.quoted(), self.name.quoted()),
            None => self.name.quoted(),
        }
    }
}

impl TryFrom<String> for Dataset {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Dataset::parse(&value)
    }
}

impl From<Dataset> for String {
    fn from(value: Dataset) -> Self {
        value.to_string()
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names() {
        for (input, ok) in [
            ("orders_customer_id_nulls", true),
            ("sales-v2.daily", true),
            ("", false),
            ("has space", false),
            ("quote\"d", false),
            (&"x".repeat(129), false),
        ] {
            assert_eq!(RuleName::new(input).is_ok(), ok, "{input:?}");
        }
    }

    #[test]
    fn identifiers_and_datasets() {
        for (input, ok) in [
            ("customer_id", true),
            ("_private", true),
            ("col$1", true),
            ("1col", false),
            ("a-b", false),
            ("x\"; DROP TABLE t; --", false),
            ("", false),
        ] {
            assert_eq!(Identifier::new(input).is_ok(), ok, "{input:?}");
        }
        let ds = Dataset::parse("public.orders").unwrap();
        assert_eq!(ds.quoted(), "\"public\".\"orders\"");
        assert_eq!(ds.to_string(), "public.orders");
        assert_eq!(Dataset::parse("orders").unwrap().quoted(), "\"orders\"");
        assert!(Dataset::parse("a.b.c").is_err());
        assert!(Dataset::parse("a.").is_err());
        assert!(Dataset::parse("").is_err());
    }
}
