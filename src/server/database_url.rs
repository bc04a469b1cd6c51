//! The database URL as the configuration holds it: usable as the string it is, but its
//! password never shows in a `Debug` output or a log.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

/// A PostgreSQL URL, such as `postgres://icash:secret@db:5432/icash`. It dereferences to the
/// URL itself; its `Debug` replaces the password (in the user information, or a `password`
/// parameter) with `***`, so that printing the configuration gives no secret away.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL with its password replaced by `***`: for logs and `Debug`. A comma-separated
    /// list of URLs (`ICASH_READ_DATABASE_URL`) has each of them redacted; a URL that names
    /// several hosts (`postgres://icash:secret@db1,db2/icash`) has its one password replaced.
    pub fn redacted(&self) -> String {
        icash_postgres::hosts::urls_of(&self.0)
            .into_iter()
            .map(redact_one)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// One URL with its password replaced by `***`.
fn redact_one(url: &str) -> String {
    let (authority_start, mut redacted) = match url.find("://") {
        Some(scheme_end) => (scheme_end + 3, url[..scheme_end + 3].to_owned()),
        None => (0, String::new()),
    };
    let rest = &url[authority_start..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info
                .split_once(':')
                .map_or(user_info, |(user, _)| user);
            redacted.push_str(user);
            if user_info.contains(':') {
                redacted.push_str(":***");
            }
            redacted.push('@');
            redacted.push_str(host);
        }
        None => redacted.push_str(authority),
    }
    let (path, query) = path
        .split_once('?')
        .map_or((path, None), |(p, q)| (p, Some(q)));
    redacted.push_str(path);
    if let Some(query) = query {
        let parameters: Vec<String> = query
            .split('&')
            .map(|parameter| match parameter.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                    format!("{name}=***")
                }
                _ => parameter.to_owned(),
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&parameters.join("&"));
    }
    redacted
}

impl Deref for DatabaseUrl {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<DatabaseUrl, Self::Err> {
        Ok(DatabaseUrl(url.to_owned()))
    }
}

impl From<String> for DatabaseUrl {
    fn from(url: String) -> DatabaseUrl {
        DatabaseUrl(url)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::DatabaseUrl;

    fn redacted(url: &str) -> String {
        DatabaseUrl::from(url.to_owned()).redacted()
    }

    #[test]
    fn the_password_is_replaced_and_the_rest_kept() {
        assert_eq!(
            redacted("postgres://icash:s3cret@db:5432/icash?sslmode=require"),
            "postgres://icash:***@db:5432/icash?sslmode=require"
        );
        assert_eq!(
            redacted("postgres://icash:p@ss@db/icash"),
            "postgres://icash:***@db/icash"
        );
        assert_eq!(
            redacted("postgres://db/icash?user=icash&password=s3cret"),
            "postgres://db/icash?user=icash&password=***"
        );
        assert_eq!(
            redacted("postgres://postgres@127.0.0.1:5432"),
            "postgres://postgres@127.0.0.1:5432"
        );
        let url = DatabaseUrl::from("postgres://icash:s3cret@db/icash".to_owned());
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(&*url, "postgres://icash:s3cret@db/icash");
    }

    #[test]
    fn several_hosts_and_several_urls_are_redacted_too() {
        assert_eq!(
            redacted("postgres://icash:s3cret@db1:5432,db2:5432/icash?sslmode=require"),
            "postgres://icash:***@db1:5432,db2:5432/icash?sslmode=require"
        );
        assert_eq!(
            redacted(
                "postgres://icash:s3cret@r1/icash,postgres://icash:0ther@r2:5433,r3/icash?password=x"
            ),
            "postgres://icash:***@r1/icash,postgres://icash:***@r2:5433,r3/icash?password=***"
        );
    }
}
