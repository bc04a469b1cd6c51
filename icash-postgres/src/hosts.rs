//! Database URLs that name several servers, as libpq allows
//! (`postgres://icash@db1:5432,db2:5432/icash`): sqlx reads one host only (its issue 179), so the
//! list is split here into one URL per server, each with the same user, database and
//! parameters.

use sqlx::postgres::PgConnectOptions;

/// A malformed list of hosts, as sqlx reports a malformed URL.
fn empty_entry() -> sqlx::Error {
    sqlx::Error::Configuration("the database URL's list of hosts has an empty entry".into())
}

/// The single-server URLs of `url`, in its order: `url` itself when it names one server.
///
/// Fails when the list has an empty entry (`h1,,h2`).
pub fn split_hosts(url: &str) -> Result<Vec<String>, sqlx::Error> {
    let Some(scheme_end) = url.find("://").map(|at| at + 3) else {
        return Ok(vec![url.to_owned()]);
    };
    let (scheme, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (user_info, hosts) = match authority.rsplit_once('@') {
        Some((user_info, hosts)) => (Some(user_info), hosts),
        None => (None, authority),
    };
    if !hosts.contains(',') {
        return Ok(vec![url.to_owned()]);
    }
    hosts
        .split(',')
        .map(|host| {
            if host.is_empty() {
                return Err(empty_entry());
            }
            Ok(match user_info {
                Some(user_info) => format!("{scheme}{user_info}@{host}{tail}"),
                None => format!("{scheme}{host}{tail}"),
            })
        })
        .collect()
}

/// The single-server URLs of a comma-separated list of URLs, each of which may name several
/// servers (`postgres://r1/icash,postgres://r2:5433/icash`), in its order.
pub fn split_list(urls: &str) -> Result<Vec<String>, sqlx::Error> {
    let mut split = Vec::new();
    for url in urls_of(urls) {
        split.extend(split_hosts(url)?);
    }
    Ok(split)
}

/// The URLs of a comma-separated list: a comma starts a new URL only where a scheme follows,
/// since a URL's own list of hosts has commas too.
pub fn urls_of(urls: &str) -> Vec<&str> {
    let mut starts = vec![0];
    for (at, _) in urls.match_indices(',') {
        let next = &urls[at + 1..];
        let scheme = next.split_once("://").map(|(scheme, _)| scheme);
        if scheme.is_some_and(|scheme| {
            !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+')
        }) {
            starts.push(at + 1);
        }
    }
    starts
        .iter()
        .zip(
            starts
                .iter()
                .skip(1)
                .map(|next| next - 1)
                .chain([urls.len()]),
        )
        .map(|(&start, end)| urls[start..end].trim())
        .filter(|url| !url.is_empty())
        .collect()
}

/// The connect options of every server `urls` names, in its order: one URL, which may name
/// several hosts, or a comma-separated list of them.
pub fn connect_options(urls: &str) -> Result<Vec<PgConnectOptions>, sqlx::Error> {
    split_list(urls)?
        .iter()
        .map(|url| url.parse::<PgConnectOptions>())
        .collect()
}

/// A server's name for logs, probes and metrics: `host:port`, never a credential.
pub(crate) fn name(options: &PgConnectOptions) -> String {
    let host = options.get_host();
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{}", options.get_port())
    } else {
        format!("{host}:{}", options.get_port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_host_is_the_url_itself() {
        let url = "postgres://icash:secret@db:5432/icash?sslmode=disable";
        assert_eq!(split_hosts(url).unwrap(), vec![url]);
    }

    #[test]
    fn several_hosts_become_one_url_each_with_the_same_user_database_and_parameters() {
        let urls =
            split_hosts("postgres://icash:s3cret@db1:5432,db2,[::1]:5433/icash?sslmode=disable")
                .unwrap();
        assert_eq!(
            urls,
            vec![
                "postgres://icash:s3cret@db1:5432/icash?sslmode=disable",
                "postgres://icash:s3cret@db2/icash?sslmode=disable",
                "postgres://icash:s3cret@[::1]:5433/icash?sslmode=disable",
            ]
        );
        let options = connect_options("postgres://icash@db1:5432,db2:5433/icash").unwrap();
        let names: Vec<String> = options.iter().map(name).collect();
        assert_eq!(names, vec!["db1:5432", "db2:5433"]);
        assert_eq!(options[1].get_database(), Some("icash"));
        assert_eq!(options[1].get_username(), "icash");
    }

    #[test]
    fn a_list_without_user_or_database_still_splits() {
        assert_eq!(
            split_hosts("postgresql://h1:1,h2:2").unwrap(),
            vec!["postgresql://h1:1", "postgresql://h2:2"]
        );
    }

    #[test]
    fn a_list_of_urls_splits_at_each_scheme_then_at_each_host() {
        assert_eq!(
            split_list("postgres://u:p@r1:5432,r2/icash,postgresql://u@r3/icash?x=1").unwrap(),
            vec![
                "postgres://u:p@r1:5432/icash",
                "postgres://u:p@r2/icash",
                "postgresql://u@r3/icash?x=1",
            ]
        );
        assert_eq!(split_list("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn an_empty_entry_is_refused() {
        assert!(split_hosts("postgres://u@h1,,h2/db").is_err());
        assert!(split_hosts("postgres://u@h1,/db").is_err());
    }
}
