//! Items as people read them: a subject, plain text and HTML (email), and
//! the shared pieces the Slack blocks use.

use std::fmt::Write;

use crate::item::{AlertItem, ItemKind};

/// `[dq] CRITICAL orders_nulls failed on warehouse/public.orders`, or for
/// a batch `[dq] 3 alerts: 2 CRITICAL, 1 RESOLVED`.
pub fn subject(items: &[AlertItem]) -> String {
    match items {
        [one] => format!("[dq] {}", one.title()),
        _ => {
            let mut counts: Vec<(String, usize)> = Vec::new();
            for item in items {
                let label = match item.kind {
                    ItemKind::Recovery => "RESOLVED".to_string(),
                    _ => item.severity.to_string(),
                };
                match counts.iter_mut().find(|(l, _)| *l == label) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((label, 1)),
                }
            }
            let parts: Vec<String> = counts.iter().map(|(l, n)| format!("{n} {l}")).collect();
            format!("[dq] {} alerts: {}", items.len(), parts.join(", "))
        }
    }
}

/// The facts of one item, as (label, value) lines.
pub(super) fn facts(item: &AlertItem) -> Vec<(&'static str, String)> {
    let mut facts = vec![
        ("Rule", item.rule.clone()),
        ("Dataset", format!("{}/{}", item.target, item.dataset)),
        ("Check", item.check.clone()),
        ("Severity", item.severity.to_string()),
    ];
    let seen = item.observed_vs_expected();
    if !seen.is_empty() {
        facts.push(("Observed", seen));
    }
    if !item.message.is_empty() {
        facts.push(("Message", item.message.clone()));
    }
    if let Some(at) = item.run_at {
        facts.push(("Run", at.format("%Y-%m-%d %H:%M:%S UTC").to_string()));
    }
    let when = match item.kind {
        ItemKind::Recovery => "Resolved",
        _ => "Detected",
    };
    facts.push((when, item.at.format("%Y-%m-%d %H:%M:%S UTC").to_string()));
    if let Some(owner) = &item.owner {
        facts.push(("Owner", owner.clone()));
    }
    if item.suppressed > 0 {
        facts.push((
            "Repeats",
            format!("{} suppressed since the last message", item.suppressed),
        ));
    }
    facts
}

/// The failing rows, one JSON object a line.
pub(super) fn sample_lines(item: &AlertItem) -> Vec<String> {
    item.sample.iter().map(|row| row.to_string()).collect()
}

pub(super) fn ack_line(item: &AlertItem, console: Option<&str>) -> Option<String> {
    let hint = item.ack_hint()?;
    Some(match console {
        Some(url) => format!("Acknowledge: `{hint}` (or in the console: {url})"),
        None => format!("Acknowledge: `{hint}`"),
    })
}

pub fn plain_text(items: &[AlertItem], console: Option<&str>) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str("\n----\n\n");
        }
        let _ = writeln!(out, "{}\n", item.title());
        if let Some(d) = &item.description {
            let _ = writeln!(out, "{d}\n");
        }
        for (label, value) in facts(item) {
            let _ = writeln!(out, "{label:>9}: {value}");
        }
        let rows = sample_lines(item);
        if !rows.is_empty() {
            let _ = writeln!(out, "\nFailing rows (sample):");
            for row in rows {
                let _ = writeln!(out, "  {row}");
            }
        }
        if let Some(ack) = ack_line(item, console) {
            let _ = writeln!(out, "\n{}", ack.replace('`', ""));
        }
    }
    out
}

pub(super) fn html(items: &[AlertItem], console: Option<&str>) -> String {
    let mut out = String::from("<html><body style=\"font-family: sans-serif\">");
    for item in items {
        let _ = write!(out, "<h3>{}</h3>", escape(&item.title()));
        if let Some(d) = &item.description {
            let _ = write!(out, "<p>{}</p>", escape(d));
        }
        out.push_str("<table>");
        for (label, value) in facts(item) {
            let _ = write!(
                out,
                "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
                escape(label),
                escape(&value)
            );
        }
        out.push_str("</table>");
        let rows = sample_lines(item);
        if !rows.is_empty() {
            let _ = write!(
                out,
                "<p>Failing rows (sample):</p><pre>{}</pre>",
                escape(&rows.join("\n"))
            );
        }
        if let Some(hint) = item.ack_hint() {
            let _ = write!(out, "<p>Acknowledge: <code>{}</code></p>", escape(&hint));
        }
        out.push_str("<hr>");
    }
    if let Some(url) = console {
        let _ = write!(out, "<p><a href=\"{0}\">{0}</a></p>", escape(url));
    }
    out.push_str("</body></html>");
    out
}

/// Text inside HTML elements and attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }
}
