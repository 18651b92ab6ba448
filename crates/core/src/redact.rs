//! URLs fit for messages and logs: whatever names a URL (a store, a
//! target, a broker) shows it through [`redact_url`], so no password leaks.

/// The URL with the password of its user info and any `password=` query
/// parameter replaced by `***`, fit for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let mut out = url[..scheme_end].to_string();
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.split_once(':') {
                Some((user, _)) => out.push_str(&format!("{user}:***")),
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let tail = &rest[authority_end..];
    match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => param.to_string(),
                })
                .collect();
            out.push_str(&format!("{path}?{}", params.join("&")));
        }
        None => out.push_str(tail),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_masked_and_the_rest_is_kept() {
        for (url, shown) in [
            ("postgres://dq:s3cret@db/wh", "postgres://dq:***@db/wh"),
            (
                "amqp://guest:guest@127.0.0.1:5672/%2f",
                "amqp://guest:***@127.0.0.1:5672/%2f",
            ),
            (
                "postgresql://dq:p@ss@db/wh?sslmode=require",
                "postgresql://dq:***@db/wh?sslmode=require",
            ),
            (
                "postgres://db/wh?user=dq&password=s3cret&x=1",
                "postgres://db/wh?user=dq&password=***&x=1",
            ),
            ("postgres://dq@db/wh", "postgres://dq@db/wh"),
            ("redis://db:6379", "redis://db:6379"),
            ("sqlite:///tmp/x.db", "sqlite:///tmp/x.db"),
            ("orders.db", "orders.db"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }
}
