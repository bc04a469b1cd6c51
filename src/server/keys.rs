//! API keys from the server's side: the first administrator key at start, and the `keys`
//! commands (`create`, `list`, `revoke`) on the database the server uses.
//!
//! A secret is printed on standard output, once, and never logged: logs are kept and shipped,
//! a terminal's output is not.

use clap::{Subcommand, ValueEnum};
use icash_core::{
    ApiKeySecret, BranchId, Error, KeyInfo, KeyName, Keys, NewKey, Origin, Role, Scope, Store,
};

use super::StartError;
use super::config::Config;

/// Whether requests need an API key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Auth {
    /// Every endpoint but `/`, `/health` and `/openapi.json` needs a key.
    Required,
    /// Nothing is asked and everything is allowed: for the old clients that have no credentials.
    Off,
}

/// The administrator key `ICASH_ADMIN_KEY` gives, if any (empty means none, so that Docker
/// Compose can pass the variable through whether or not it is set).
#[derive(Clone, Debug, Default)]
pub struct AdminKey(Option<ApiKeySecret>);

impl AdminKey {
    /// Reads the setting: empty, or a secret of at least 32 visible characters.
    pub fn parse(text: &str) -> Result<AdminKey, icash_core::ValidationError> {
        if text.is_empty() {
            return Ok(AdminKey(None));
        }
        Ok(AdminKey(Some(ApiKeySecret::new(text)?)))
    }

    /// The secret, when one is given.
    pub fn secret(&self) -> Option<&ApiKeySecret> {
        self.0.as_ref()
    }
}

/// The `keys` commands.
#[derive(Clone, Debug, Subcommand)]
pub enum KeysCommand {
    /// Creates a key and prints its secret, shown only this once, alone on the last line.
    Create {
        /// till, manager, analyst or admin.
        #[arg(long)]
        role: Role,
        /// The branch of a till (required) or of a manager (every branch without it).
        #[arg(long)]
        branch: Option<i32>,
        /// A unique name, such as branch-2-till-7: letters, digits, '.', '_' and '-'.
        #[arg(long)]
        name: String,
    },
    /// Lists every key, revoked ones included.
    List,
    /// Revokes the key with this name; servers refuse it within seconds.
    Revoke {
        /// The key's name.
        name: String,
    },
}

/// Runs `command` on the store `config` names.
pub(super) async fn run(config: &Config, command: KeysCommand) -> Result<(), StartError> {
    let Some(store) = config.pg_store().await? else {
        return Err(StartError::KeysInMemory);
    };
    let origin = Origin::system();
    match command {
        KeysCommand::Create { role, branch, name } => {
            let branch = branch.map(BranchId::new).transpose().map_err(Error::from)?;
            let key = NewKey::new(KeyName::new(&name).map_err(Error::from)?, role, branch)
                .map_err(Error::from)?;
            let (info, secret) = store
                .create_key(&key, &origin)
                .await
                .map_err(StartError::Keys)?;
            println!(
                "created the API key {} ({}); its secret, shown only this once:",
                info.name,
                describe(&info)
            );
            println!("{}", secret.expose());
        }
        KeysCommand::List => {
            for info in store.keys().await.map_err(StartError::Keys)? {
                let state = match info.revoked_at {
                    Some(at) => format!("revoked {}", at.to_rfc3339()),
                    None => "active".to_owned(),
                };
                println!(
                    "{}\t{}\tcreated {}\t{state}",
                    info.name,
                    describe(&info),
                    info.created_at.to_rfc3339()
                );
            }
        }
        KeysCommand::Revoke { name } => {
            let name = KeyName::new(&name).map_err(Error::from)?;
            let info = store
                .revoke_key(&name, &origin)
                .await
                .map_err(StartError::Keys)?;
            println!(
                "revoked the API key {}; servers refuse it within seconds",
                info.name
            );
        }
    }
    Ok(())
}

/// A key's role and branches, in a few words.
fn describe(info: &KeyInfo) -> String {
    match info.scope {
        Scope::Branch(branch) => format!("role {}, branch {branch}", info.role),
        Scope::AllBranches => format!("role {}, every branch", info.role),
    }
}

/// The name of the first administrator key.
const FIRST_ADMIN: &str = "admin";

/// Makes sure an administrator can get in when keys are required: registers `ICASH_ADMIN_KEY`
/// when it is given and not registered yet, else creates an administrator key in a store that
/// never had one and prints it once. With authentication off, warns that nothing is asked.
pub(super) async fn first_admin_key(store: &dyn Store, config: &Config) -> Result<(), StartError> {
    if config.auth == Auth::Off {
        tracing::warn!(
            "ICASH_AUTH=off: every request is allowed without an API key and nothing records who \
             made it; use it only for clients that have no credentials"
        );
        return Ok(());
    }
    let added = match config.admin_key.secret() {
        Some(secret) => register(store, secret).await,
        None if store.has_keys().await.map_err(StartError::Keys)? => return Ok(()),
        None => {
            let key =
                NewKey::new(admin_name(FIRST_ADMIN), Role::Admin, None).map_err(Error::from)?;
            store
                .create_key(&key, &Origin::system())
                .await
                .map(|(_, secret)| {
                    println!(
                        "\nAPI keys are required, and the store had none: this administrator key \
                         was created, and is shown only this once. Send it as \
                         `Authorization: Bearer <key>`, and create the tills' keys with \
                         `keys create` or POST /admin/keys (see the README):\n\n{}\n",
                        secret.expose()
                    );
                })
        }
    };
    match added {
        Ok(()) => Ok(()),
        // Another server on the same database made it first.
        Err(Error::Conflict(_)) if config.admin_key.secret().is_none() => Ok(()),
        Err(Error::Conflict(_)) => Err(StartError::AdminKeyRevoked),
        Err(error) => Err(StartError::Keys(error)),
    }
}

/// Registers `secret` as an administrator key, unless it already authenticates someone.
async fn register(store: &dyn Store, secret: &ApiKeySecret) -> Result<(), Error> {
    if store.authenticate(&secret.hash()).await?.is_some() {
        return Ok(());
    }
    // Named after its hash when the first name is taken: the same secret gets the same name
    // on every server, and the name tells nothing of the secret.
    let name = if store.has_keys().await? {
        let hash = secret.hash();
        let short: String = hash.as_bytes()[..4]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        admin_name(&format!("{FIRST_ADMIN}-{short}"))
    } else {
        admin_name(FIRST_ADMIN)
    };
    let key = NewKey::new(name, Role::Admin, None)?;
    store
        .add_key(&key, &secret.hash(), &Origin::system())
        .await?;
    tracing::info!(name = %key.name(), "registered the administrator key of ICASH_ADMIN_KEY");
    Ok(())
}

fn admin_name(name: &str) -> KeyName {
    KeyName::new(name).expect("a valid key name")
}
