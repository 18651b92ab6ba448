//! Runs the reference benchmark's psql scripts through sqlx: the same SQL
//! text, without needing the psql client. Meta-commands (`\set`, `\timing`)
//! are dropped and `:name`, `:'name'`, `:"name"` variables substituted.

/// `vars` are (name, value) pairs; values are trusted (they come from our own
/// flags: a table name we validated, a row count we parsed).
pub fn statements(script: &str, vars: &[(&str, &str)]) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in script.lines() {
        if line.trim_start().starts_with('\\') {
            continue;
        }
        let line = substitute(line, vars);
        current.push_str(&line);
        current.push('\n');
        if code_part(&line).trim_end().ends_with(';') {
            let statement = current.trim().trim_end_matches(';').trim().to_string();
            if !statement.is_empty() && !is_only_comments(&statement) {
                statements.push(statement);
            }
            current.clear();
        }
    }
    let rest = current.trim();
    if !rest.is_empty() && !is_only_comments(rest) {
        statements.push(rest.to_string());
    }
    statements
}

fn substitute(line: &str, vars: &[(&str, &str)]) -> String {
    let mut out = line.to_string();
    for (name, value) in vars {
        out = out
            .replace(&format!(":'{name}'"), &format!("'{value}'"))
            .replace(&format!(":\"{name}\""), &format!("\"{value}\""))
            .replace(&format!(":{name}"), value);
    }
    out
}

/// The line without a trailing `-- comment` (these scripts have no `--` in strings).
fn code_part(line: &str) -> &str {
    line.split("--").next().unwrap_or("")
}

fn is_only_comments(text: &str) -> bool {
    text.lines().all(|l| code_part(l).trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_substitutes_and_drops_meta_commands() {
        let script = "-- header\n\\set ON_ERROR_STOP on\n\\timing on\nDROP TABLE IF EXISTS public.:\"tbl\";\nSELECT count(*) -- rows; all of them\n  FROM public.:\"tbl\" WHERE name = :'tbl' LIMIT :n;\nVACUUM ANALYZE public.x;\n";
        assert_eq!(
            statements(script, &[("tbl", "orders"), ("n", "5")]),
            vec![
                "-- header\nDROP TABLE IF EXISTS public.\"orders\"".to_string(),
                "SELECT count(*) -- rows; all of them\n  FROM public.\"orders\" WHERE name = 'orders' LIMIT 5".to_string(),
                "VACUUM ANALYZE public.x".to_string(),
            ]
        );
    }

    #[test]
    fn the_reference_scripts_split_into_their_statements() {
        let orders = statements(
            include_str!("../../../../bench/postgres/orders.sql"),
            &[("nrows", "1000")],
        );
        assert_eq!(orders.len(), 10, "{orders:#?}");
        assert!(orders[1].starts_with("DROP TABLE IF EXISTS public.orders"));
        assert!(orders[3].contains("INSERT INTO public.orders\nSELECT"));
        assert!(orders[3].contains("generate_series(1::bigint, 1000::bigint)"));
        assert_eq!(orders[6], "VACUUM ANALYZE public.orders");
        assert!(orders.iter().all(|s| !s.contains(":nrows")));
        let floor = statements(
            include_str!("../../../../bench/postgres/floor_metrics.sql"),
            &[("tbl", "orders")],
        );
        assert_eq!(floor.len(), 1);
        assert!(floor[0].contains("FROM public.\"orders\""));
        let dups = statements(
            include_str!("../../../../bench/postgres/floor_dups.sql"),
            &[("tbl", "orders")],
        );
        assert_eq!(dups.len(), 1);
    }
}
