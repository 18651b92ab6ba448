//! Which columns a reconciliation reads on each side: the key, and the
//! compared columns (the rule's, or every non-key column the two datasets
//! have in common), each spelt as its own side's catalogue spells it.

use dq_core::{ColumnInfo, Dataset, Identifier};

use crate::error::TargetError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    pub(crate) source_key: Vec<Identifier>,
    pub(crate) against_key: Vec<Identifier>,
    pub(crate) source_columns: Vec<Identifier>,
    pub(crate) against_columns: Vec<Identifier>,
    /// As the rule names them, for samples.
    pub(crate) key_names: Vec<String>,
    pub(crate) column_names: Vec<String>,
}

/// One side's name, dataset and catalogue.
pub(crate) type SideColumns<'a> = (&'a str, &'a Dataset, &'a [ColumnInfo]);

/// The catalogue's spelling of `wanted`: the exact name, else the only
/// name equal ignoring ASCII case (SQLite names are case-insensitive, and
/// the other side may spell them differently).
fn find<'c>(columns: &'c [ColumnInfo], wanted: &str) -> Option<&'c str> {
    columns
        .iter()
        .find(|c| c.name == wanted)
        .or_else(|| columns.iter().find(|c| c.name.eq_ignore_ascii_case(wanted)))
        .map(|c| c.name.as_str())
}

fn require(side: SideColumns<'_>, wanted: &str) -> Result<Identifier, TargetError> {
    let (target, dataset, columns) = side;
    let missing = || TargetError::ColumnNotFound {
        column: wanted.to_string(),
        dataset: dataset.to_string(),
        target: target.to_string(),
    };
    let name = find(columns, wanted).ok_or_else(missing)?;
    Identifier::new(name).map_err(|e| TargetError::query(format!("column {name:?}: {e}")))
}

impl Layout {
    pub(crate) fn new(
        key: &[Identifier],
        columns: &[Identifier],
        source: SideColumns<'_>,
        against: SideColumns<'_>,
    ) -> Result<Layout, TargetError> {
        let mut layout = Layout {
            source_key: Vec::new(),
            against_key: Vec::new(),
            source_columns: Vec::new(),
            against_columns: Vec::new(),
            key_names: key.iter().map(|k| k.as_str().to_string()).collect(),
            column_names: Vec::new(),
        };
        for k in key {
            layout.source_key.push(require(source, k.as_str())?);
            layout.against_key.push(require(against, k.as_str())?);
        }
        let compared: Vec<String> = if columns.is_empty() {
            let is_key = |name: &str| key.iter().any(|k| k.as_str().eq_ignore_ascii_case(name));
            source
                .2
                .iter()
                .filter(|c| !is_key(&c.name) && find(against.2, &c.name).is_some())
                .map(|c| c.name.clone())
                .collect()
        } else {
            columns.iter().map(|c| c.as_str().to_string()).collect()
        };
        for name in compared {
            layout.source_columns.push(require(source, &name)?);
            layout.against_columns.push(require(against, &name)?);
            layout.column_names.push(name);
        }
        Ok(layout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue(names: &[&str]) -> Vec<ColumnInfo> {
        names
            .iter()
            .map(|n| ColumnInfo {
                name: n.to_string(),
                data_type: "text".into(),
            })
            .collect()
    }

    fn ids(names: &[&str]) -> Vec<Identifier> {
        names.iter().map(|n| Identifier::new(*n).unwrap()).collect()
    }

    #[test]
    fn common_columns_by_default_and_each_side_spelling() {
        let orders = Dataset::parse("orders").unwrap();
        let left = catalogue(&["id", "Amount", "status", "only_here"]);
        let right = catalogue(&["ID", "amount", "status", "only_there"]);
        let layout = Layout::new(
            &ids(&["id"]),
            &[],
            ("a", &orders, &left),
            ("b", &orders, &right),
        )
        .unwrap();
        assert_eq!(layout.against_key, ids(&["ID"]));
        assert_eq!(layout.source_columns, ids(&["Amount", "status"]));
        assert_eq!(layout.against_columns, ids(&["amount", "status"]));
        assert_eq!(layout.column_names, ["Amount", "status"]);

        let missing = Layout::new(
            &ids(&["id"]),
            &ids(&["only_here"]),
            ("a", &orders, &left),
            ("b", &orders, &right),
        );
        assert_eq!(
            missing.unwrap_err().to_string(),
            "column only_here not found in dataset orders on target b"
        );
    }
}
