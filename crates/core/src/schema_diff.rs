//! What changed between two snapshots of a dataset's columns: each column
//! added, dropped or retyped, and the order of the columns both have, one
//! line each, as a `schema_change` violation names them.

use crate::metric::ColumnInfo;

pub fn changes(previous: &[ColumnInfo], current: &[ColumnInfo]) -> Vec<String> {
    let find = |list: &[ColumnInfo], name: &str| {
        list.iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .cloned()
    };
    let mut changes = Vec::new();
    for column in current {
        if find(previous, &column.name).is_none() {
            changes.push(format!(
                "column {} added ({})",
                column.name, column.data_type
            ));
        }
    }
    for column in previous {
        match find(current, &column.name) {
            None => changes.push(format!(
                "column {} dropped (was {})",
                column.name, column.data_type
            )),
            Some(now) if !now.data_type.eq_ignore_ascii_case(&column.data_type) => {
                changes.push(format!(
                    "column {} retyped: {} -> {}",
                    column.name, column.data_type, now.data_type
                ))
            }
            Some(_) => {}
        }
    }
    let common = |from: &[ColumnInfo], other: &[ColumnInfo]| -> Vec<String> {
        from.iter()
            .filter(|c| find(other, &c.name).is_some())
            .map(|c| c.name.to_lowercase())
            .collect()
    };
    let (before, after) = (common(previous, current), common(current, previous));
    if before != after {
        changes.push(format!(
            "columns reordered: {} -> {}",
            before.join(", "),
            after.join(", ")
        ));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(list: &[(&str, &str)]) -> Vec<ColumnInfo> {
        list.iter()
            .map(|(name, data_type)| ColumnInfo {
                name: name.to_string(),
                data_type: data_type.to_string(),
            })
            .collect()
    }

    #[test]
    fn each_change_is_named() {
        let before = columns(&[
            ("id", "integer"),
            ("email", "text"),
            ("age", "integer"),
            ("x", "text"),
        ]);
        let cases: Vec<(&str, Vec<ColumnInfo>, Vec<&str>)> = vec![
            ("same", before.clone(), vec![]),
            (
                "case of names and types does not matter",
                columns(&[
                    ("ID", "INTEGER"),
                    ("email", "TEXT"),
                    ("age", "integer"),
                    ("x", "text"),
                ]),
                vec![],
            ),
            (
                "added and dropped",
                columns(&[
                    ("id", "integer"),
                    ("email", "text"),
                    ("age", "integer"),
                    ("phone", "text"),
                ]),
                vec!["column phone added (text)", "column x dropped (was text)"],
            ),
            (
                "retyped",
                columns(&[
                    ("id", "bigint"),
                    ("email", "text"),
                    ("age", "integer"),
                    ("x", "text"),
                ]),
                vec!["column id retyped: integer -> bigint"],
            ),
            (
                "reordered",
                columns(&[
                    ("email", "text"),
                    ("id", "integer"),
                    ("age", "integer"),
                    ("x", "text"),
                ]),
                vec!["columns reordered: id, email, age, x -> email, id, age, x"],
            ),
        ];
        for (name, after, expected) in cases {
            assert_eq!(changes(&before, &after), expected, "{name}");
        }
    }
}
