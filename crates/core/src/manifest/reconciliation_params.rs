//! A `reconciliation` rule's own parameters: the dataset it is compared
//! `against` (on a configured target), its `key`, the `columns` compared
//! and the `page_size` the comparison reads with.

use super::common_fields;
use super::error::{Field, Problems};
use super::fields;
use super::rule_builder::RuleInput;
use super::yaml::Value;
use crate::check::Check;
use crate::names::Dataset;
use crate::reconciliation::MAX_PAGE_SIZE;

const AGAINST: &str = "the dataset to compare with: {target: NAME, dataset: TABLE}";
const KEY: &str = "the key column, or a list of key columns such as [region, id]";
const COLUMNS: &str = "a non-empty list of columns to compare such as [amount, status]";

pub fn build(
    p: &mut Problems<'_>,
    input: &RuleInput<'_>,
    is_known_target: &dyn Fn(&str) -> bool,
) -> Option<Check> {
    let against = input
        .own_required(p, "against", AGAINST)
        .and_then(|f| against(p, &f, is_known_target));
    let key = input
        .own_required(p, "key", KEY)
        .and_then(|f| match f.node.value {
            Value::Seq(_) => fields::non_empty_list_of(p, &f, KEY, fields::identifier),
            _ => fields::identifier(p, &f).map(|column| vec![column]),
        });
    let columns = match input.own("columns") {
        None => Some(Vec::new()),
        Some(f) => fields::non_empty_list_of(p, &f, COLUMNS, fields::identifier),
    };
    if let (Some(key), Some(columns), Some(f)) = (&key, &columns, input.own("columns")) {
        if let Some(both) = columns.iter().find(|c| key.contains(c)) {
            p.at(
                &f,
                format!("{both} is a key column (expected only non-key columns to compare)"),
            );
            return None;
        }
    }
    let page_size = match input.own("page_size") {
        None => Some(None),
        Some(f) => page_size(p, &f).map(Some),
    };
    let (against_target, against_dataset) = against?;
    Some(Check::Reconciliation {
        against_target,
        against_dataset,
        key: key?,
        columns: columns?,
        page_size: page_size?,
    })
}

fn against(
    p: &mut Problems<'_>,
    f: &Field<'_>,
    is_known_target: &dyn Fn(&str) -> bool,
) -> Option<(String, Dataset)> {
    let entries = fields::map_entries(p, f, AGAINST)?;
    let (mut target, mut dataset, mut ok) = (None, None, true);
    for (key, entry) in &entries {
        match *key {
            "target" => target = common_fields::target(p, entry, is_known_target),
            "dataset" => dataset = fields::dataset(p, entry),
            other => {
                p.at(
                    entry,
                    format!("unknown key {other:?} (expected target and dataset)"),
                );
                ok = false;
            }
        }
    }
    for (key, what) in [
        ("target", "a target configured in dq.toml"),
        ("dataset", "a table such as public.orders"),
    ] {
        if !entries.iter().any(|(k, _)| *k == key) {
            p.at(f, format!("has no {key} (expected {what})"));
            ok = false;
        }
    }
    match (target, dataset, ok) {
        (Some(target), Some(dataset), true) => Some((target, dataset)),
        _ => None,
    }
}

fn page_size(p: &mut Problems<'_>, f: &Field<'_>) -> Option<u32> {
    let rows = fields::whole(p, f, 1)?;
    match u32::try_from(rows) {
        Ok(rows) if rows <= MAX_PAGE_SIZE => Some(rows),
        _ => {
            p.at(
                f,
                format!("{rows} is too large (expected at most {MAX_PAGE_SIZE} rows per page)"),
            );
            None
        }
    }
}
