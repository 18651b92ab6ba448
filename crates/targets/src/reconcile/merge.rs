//! The merge: both sides read in key order, a page at a time, and walked
//! together like a merge join. A key on one side only is missing on the
//! other; a key on both compares the hashes of the compared columns.
//! Memory is one page per side plus the bounded samples, never the table.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::future::Future;

use dq_core::reconciliation::Counts;
use serde_json::{json, Map, Value};

use super::value::KeyPart;
use crate::error::TargetError;

/// One row as the merge needs it: its key, and one hash per compared column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub(crate) key: Vec<KeyPart>,
    pub(crate) hashes: Vec<u64>,
}

/// Where a side's rows come from: pages of at most `rows` rows, in key
/// order, with keys greater than `after`.
pub(crate) trait Pages {
    fn next_page(
        &mut self,
        after: Option<&[KeyPart]>,
        rows: u32,
    ) -> impl Future<Output = Result<Vec<Row>, TargetError>>;
}

/// One side of the merge: its pages, the current one, and the last key
/// seen, which is both the next page's cursor and the order check.
pub(crate) struct Side<P> {
    pages: P,
    /// `target dataset`, for messages.
    label: String,
    page_size: u32,
    page: VecDeque<Row>,
    last: Option<Vec<KeyPart>>,
    exhausted: bool,
}

impl<P: Pages> Side<P> {
    pub(crate) fn new(pages: P, label: String, page_size: u32) -> Self {
        Side {
            pages,
            label,
            page_size: page_size.max(1),
            page: VecDeque::new(),
            last: None,
            exhausted: false,
        }
    }

    /// The pages, to close them once the merge is over.
    pub(crate) fn into_pages(self) -> P {
        self.pages
    }

    async fn next(&mut self) -> Result<Option<Row>, TargetError> {
        if self.page.is_empty() && !self.exhausted {
            let page = self
                .pages
                .next_page(self.last.as_deref(), self.page_size)
                .await?;
            self.exhausted = page.len() < self.page_size as usize;
            self.page = page.into();
        }
        let Some(row) = self.page.pop_front() else {
            return Ok(None);
        };
        if let Some(last) = &self.last {
            match row.key.cmp(last) {
                Ordering::Greater => {}
                // Keyset pages would skip or repeat rows: no count could be trusted.
                Ordering::Equal => {
                    return Err(TargetError::query(format!(
                        "key {} appears more than once in {}: a reconciliation key must be unique",
                        key_text(&row.key),
                        self.label
                    )))
                }
                Ordering::Less => {
                    return Err(TargetError::query(format!(
                        "{} returned key {} after {}: keys must be integers or text \
                         (text compared byte by byte)",
                        self.label,
                        key_text(&row.key),
                        key_text(last)
                    )))
                }
            }
        }
        self.last = Some(row.key.clone());
        Ok(Some(row))
    }
}

fn key_text(key: &[KeyPart]) -> String {
    let parts: Vec<String> = key.iter().map(|k| k.to_json().to_string()).collect();
    format!("({})", parts.join(", "))
}

/// The counts, and at most `limit` examples of each kind of mismatch.
#[derive(Debug)]
pub(crate) struct Tally<'a> {
    pub(crate) counts: Counts,
    key_names: &'a [String],
    column_names: &'a [String],
    limit: usize,
    missing_in_target: Vec<Value>,
    missing_in_source: Vec<Value>,
    differing: Vec<Value>,
}

impl<'a> Tally<'a> {
    pub(crate) fn new(key_names: &'a [String], column_names: &'a [String], limit: usize) -> Self {
        Tally {
            counts: Counts::default(),
            key_names,
            column_names,
            limit,
            missing_in_target: Vec::new(),
            missing_in_source: Vec::new(),
            differing: Vec::new(),
        }
    }

    fn key_json(&self, key: &[KeyPart]) -> Value {
        let object: Map<String, Value> = self
            .key_names
            .iter()
            .zip(key)
            .map(|(name, part)| (name.clone(), part.to_json()))
            .collect();
        Value::Object(object)
    }

    fn only_in_source(&mut self, row: &Row) {
        self.counts.missing_in_target += 1;
        if self.missing_in_target.len() < self.limit {
            let key = self.key_json(&row.key);
            self.missing_in_target
                .push(json!({"key": key, "problem": "missing_in_target"}));
        }
    }

    fn only_in_target(&mut self, row: &Row) {
        self.counts.missing_in_source += 1;
        if self.missing_in_source.len() < self.limit {
            let key = self.key_json(&row.key);
            self.missing_in_source
                .push(json!({"key": key, "problem": "missing_in_source"}));
        }
    }

    fn in_both(&mut self, source: &Row, target: &Row) {
        if source.hashes == target.hashes {
            return;
        }
        self.counts.differing_rows += 1;
        if self.differing.len() < self.limit {
            let columns: Vec<&String> = self
                .column_names
                .iter()
                .zip(source.hashes.iter().zip(&target.hashes))
                .filter(|(_, (a, b))| a != b)
                .map(|(name, _)| name)
                .collect();
            let key = self.key_json(&source.key);
            self.differing
                .push(json!({"key": key, "problem": "differs", "columns": columns}));
        }
    }

    /// The examples: missing in target, missing in source, then differing.
    pub(crate) fn samples(self) -> Vec<Value> {
        let mut all = self.missing_in_target;
        all.extend(self.missing_in_source);
        all.extend(self.differing);
        all
    }
}

/// Walks both sides to their ends, counting into `tally`.
pub(crate) async fn merge<A: Pages, B: Pages>(
    source: &mut Side<A>,
    target: &mut Side<B>,
    tally: &mut Tally<'_>,
) -> Result<(), TargetError> {
    let mut left = source.next().await?;
    let mut right = target.next().await?;
    loop {
        match (&left, &right) {
            (None, None) => return Ok(()),
            (Some(s), None) => {
                tally.counts.source_rows += 1;
                tally.only_in_source(s);
                left = source.next().await?;
            }
            (None, Some(t)) => {
                tally.counts.target_rows += 1;
                tally.only_in_target(t);
                right = target.next().await?;
            }
            (Some(s), Some(t)) => match s.key.cmp(&t.key) {
                Ordering::Less => {
                    tally.counts.source_rows += 1;
                    tally.only_in_source(s);
                    left = source.next().await?;
                }
                Ordering::Greater => {
                    tally.counts.target_rows += 1;
                    tally.only_in_target(t);
                    right = target.next().await?;
                }
                Ordering::Equal => {
                    tally.counts.source_rows += 1;
                    tally.counts.target_rows += 1;
                    tally.in_both(s, t);
                    left = source.next().await?;
                    right = target.next().await?;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows held in memory, served in pages like a database would.
    struct Held {
        rows: Vec<Row>,
        pages_read: usize,
    }

    impl Pages for Held {
        async fn next_page(
            &mut self,
            after: Option<&[KeyPart]>,
            rows: u32,
        ) -> Result<Vec<Row>, TargetError> {
            self.pages_read += 1;
            let mut sorted = self.rows.clone();
            sorted.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(sorted
                .into_iter()
                .filter(|r| after.is_none_or(|after| r.key.as_slice() > after))
                .take(rows as usize)
                .collect())
        }
    }

    fn row(id: i64, hashes: &[u64]) -> Row {
        Row {
            key: vec![KeyPart::Int(id)],
            hashes: hashes.to_vec(),
        }
    }

    fn side(rows: Vec<Row>, page_size: u32) -> Side<Held> {
        let held = Held {
            rows,
            pages_read: 0,
        };
        Side::new(held, "t orders".into(), page_size)
    }

    #[tokio::test]
    async fn counts_and_bounded_samples_across_pages() {
        let keys = vec!["id".to_string()];
        let columns = vec!["amount".to_string(), "status".to_string()];
        // 1..=10 in the source; the target lacks 2 and 3, has 11 and 12
        // extra, and differs on 5 (amount) and 7 (both columns).
        let source: Vec<Row> = (1..=10).map(|id| row(id, &[id as u64, 0])).collect();
        let target: Vec<Row> = (1..=12)
            .filter(|id| ![2, 3].contains(id))
            .map(|id| match id {
                5 => row(id, &[99, 0]),
                7 => row(id, &[99, 1]),
                _ => row(id, &[id as u64, 0]),
            })
            .rev()
            .collect();
        for page_size in [1, 3, 100] {
            let mut tally = Tally::new(&keys, &columns, 1);
            let (mut s, mut t) = (
                side(source.clone(), page_size),
                side(target.clone(), page_size),
            );
            merge(&mut s, &mut t, &mut tally).await.unwrap();
            assert_eq!(
                tally.counts,
                Counts {
                    source_rows: 10,
                    target_rows: 10,
                    missing_in_target: 2,
                    missing_in_source: 2,
                    differing_rows: 2,
                },
                "page size {page_size}"
            );
            assert!(s.pages.pages_read >= (10 / page_size as usize), "paged");
            assert_eq!(
                tally.samples(),
                vec![
                    json!({"key": {"id": 2}, "problem": "missing_in_target"}),
                    json!({"key": {"id": 11}, "problem": "missing_in_source"}),
                    json!({"key": {"id": 5}, "problem": "differs", "columns": ["amount"]}),
                ]
            );
        }
    }

    /// Serves its rows as they are, whatever the cursor: a database whose
    /// order disagrees with the merge's.
    struct Unordered(Vec<Row>);

    impl Pages for Unordered {
        async fn next_page(
            &mut self,
            _: Option<&[KeyPart]>,
            _: u32,
        ) -> Result<Vec<Row>, TargetError> {
            Ok(std::mem::take(&mut self.0))
        }
    }

    #[tokio::test]
    async fn keys_out_of_order_or_repeated_are_errors() {
        let keys = vec!["id".to_string()];
        for (rows, expected) in [
            (
                vec![row(2, &[]), row(1, &[])],
                "t orders returned key (1) after (2): keys must be integers or text (text compared byte by byte)",
            ),
            (
                vec![row(1, &[]), row(1, &[])],
                "key (1) appears more than once in t orders: a reconciliation key must be unique",
            ),
        ] {
            let mut tally = Tally::new(&keys, &[], 5);
            let mut s = Side::new(Unordered(rows), "t orders".into(), 10);
            let mut t = side(Vec::new(), 10);
            let error = merge(&mut s, &mut t, &mut tally).await.unwrap_err();
            assert_eq!(error, TargetError::query(expected));
        }
    }
}
