//! Every `dq` command the runbook and the README show is a real command:
//! each parses with the binary's own argument parser, so a renamed flag or
//! subcommand fails here before it fails an operator at 3 a.m.

use clap::Parser;

use crate::cli::Cli;

const DOCS: [(&str, &str); 3] = [
    ("docs/runbook.md", include_str!("../../../docs/runbook.md")),
    ("README.md", include_str!("../../../README.md")),
    (
        "deploy/README.md",
        include_str!("../../../deploy/README.md"),
    ),
];

/// The `dq ...` command lines inside the ```sh blocks of `text`, with
/// continuation lines joined, and comments and pipes cut off.
fn dq_commands(text: &str) -> Vec<(usize, String)> {
    let mut commands = Vec::new();
    let mut in_shell = false;
    let mut pending: Option<(usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_shell = matches!(trimmed, "```sh" | "```bash" | "```console");
            continue;
        }
        if !in_shell {
            continue;
        }
        let (number, mut command) = match pending.take() {
            Some((number, head)) => (number, format!("{head} {trimmed}")),
            None => (index + 1, trimmed.to_string()),
        };
        if let Some(head) = command.strip_suffix('\\') {
            pending = Some((number, head.trim_end().to_string()));
            continue;
        }
        command = cut_at_comment_or_pipe(&command);
        let command = command.trim().trim_start_matches("$ ").to_string();
        if command.starts_with("dq ") || command == "dq" {
            commands.push((number, command));
        }
    }
    commands
}

/// The command before an unquoted `#`, `|`, `&&`, `;` or `>`.
fn cut_at_comment_or_pipe(line: &str) -> String {
    let mut quote = None;
    let mut out = String::new();
    for c in line.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#' | '|' | ';' | '>' | '&') => break,
            _ => {}
        }
        out.push(c);
    }
    out
}

/// Shell words: whitespace-separated, quotes grouping and removed.
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut started = false;
    for c in command.chars() {
        match (quote, c) {
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            _ => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

#[test]
fn every_documented_dq_command_parses() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (file, text) in DOCS {
        for (line, command) in dq_commands(text) {
            checked += 1;
            if let Err(e) = Cli::try_parse_from(words(&command)) {
                let first = e.to_string().lines().next().unwrap_or_default().to_string();
                failures.push(format!("{file}:{line}: {command}\n    {first}"));
            }
        }
    }
    assert!(
        checked > 40,
        "only {checked} commands found: is the extraction broken?"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn extraction_joins_continuations_and_drops_comments() {
    let text = "```sh\ndq ack 42 --by ana --note \"a # b\"   # comment\ndq run \\\n  --all | less\necho dq\n```\n```toml\ndq = 1\n```\n";
    let found: Vec<String> = dq_commands(text).into_iter().map(|(_, c)| c).collect();
    assert_eq!(
        found,
        vec!["dq ack 42 --by ana --note \"a # b\"", "dq run --all"]
    );
    assert_eq!(
        words("dq ack 42 --note \"a # b\""),
        vec!["dq", "ack", "42", "--note", "a # b"]
    );
}
