//! Who is acting: a [`Role`], the branches it covers ([`Scope`]), and the [`Actor`] that holds
//! them for one request.
//!
//! What an actor may do is decided in [`access`](crate::access), once for every caller.

use std::fmt;
use std::str::FromStr;

use crate::error::ValidationError;
use crate::id::{BranchId, KeyId};
use crate::key::KeyName;

/// What a key is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A cash register of one branch: records its purchases, reads the catalog and its receipts.
    Till,
    /// The manager of one branch or of every branch: what a till does there, the corrections
    /// and the analytics of those branches.
    Manager,
    /// Reads every analytic and the customer lists; records nothing.
    Analyst,
    /// Everything, keys and the audit trail included.
    Admin,
}

impl Role {
    /// Every role, from the narrowest.
    pub const ALL: [Role; 4] = [Role::Till, Role::Manager, Role::Analyst, Role::Admin];

    /// The role's name, as clients and the command line write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Till => "till",
            Role::Manager => "manager",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    /// The branches a key of this role covers when it names `branch`: a till needs exactly one
    /// branch; a manager has one, or every branch without one; an analyst and an admin cover
    /// every branch and take none.
    pub fn scope(self, branch: Option<BranchId>) -> Result<Scope, ValidationError> {
        match (self, branch) {
            (Role::Till | Role::Manager, Some(branch)) => Ok(Scope::Branch(branch)),
            (Role::Till, None) => Err(ValidationError::TillWithoutBranch),
            (Role::Manager, None) => Ok(Scope::AllBranches),
            (Role::Analyst | Role::Admin, None) => Ok(Scope::AllBranches),
            (Role::Analyst | Role::Admin, Some(_)) => Err(ValidationError::RoleTakesNoBranch(self)),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ValidationError;

    /// Parses a role's name (`till`, `manager`, `analyst` or `admin`).
    fn from_str(text: &str) -> Result<Role, ValidationError> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| ValidationError::InvalidRole(text.to_owned()))
    }
}

/// The branches an actor acts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One branch.
    Branch(BranchId),
    /// Every branch of the chain, present and future.
    AllBranches,
}

impl Scope {
    /// Whether `branch` is one of the scope's branches.
    pub fn covers(self, branch: BranchId) -> bool {
        match self {
            Scope::Branch(own) => own == branch,
            Scope::AllBranches => true,
        }
    }

    /// The one branch, for a scope of one branch.
    pub fn branch(self) -> Option<BranchId> {
        match self {
            Scope::Branch(branch) => Some(branch),
            Scope::AllBranches => None,
        }
    }
}

/// Who is acting: the key a request was made with, its role and its branches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    key: KeyId,
    name: KeyName,
    role: Role,
    scope: Scope,
}

impl Actor {
    /// The actor of the key `key` named `name`, with `role` over `branch` (see [`Role::scope`]
    /// for which roles take a branch). A host with its own identity system builds its actors
    /// here too.
    pub fn new(
        key: KeyId,
        name: KeyName,
        role: Role,
        branch: Option<BranchId>,
    ) -> Result<Actor, ValidationError> {
        Ok(Actor {
            key,
            name,
            role,
            scope: role.scope(branch)?,
        })
    }

    /// The actor of a key whose role and branches were checked when it was made (see
    /// [`KeyInfo::actor`](crate::KeyInfo::actor)).
    pub(crate) fn of_key(key: KeyId, name: KeyName, role: Role, scope: Scope) -> Actor {
        Actor {
            key,
            name,
            role,
            scope,
        }
    }

    /// The key's id.
    pub fn key(&self) -> KeyId {
        self.key
    }

    /// The key's name, which the records an actor makes carry.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The actor's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The branches the actor acts for.
    pub fn scope(&self) -> Scope {
        self.scope
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branch(n: i32) -> BranchId {
        BranchId::new(n).unwrap()
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(role.to_string(), role.as_str());
        }
        let error = "cashier".parse::<Role>().unwrap_err().to_string();
        assert_eq!(
            error,
            "role \"cashier\" is not valid: expected till, manager, analyst or admin"
        );
    }

    #[test]
    fn each_role_takes_the_branches_it_needs() {
        assert_eq!(
            Role::Till.scope(Some(branch(2))),
            Ok(Scope::Branch(branch(2)))
        );
        assert_eq!(
            Role::Till.scope(None).unwrap_err().to_string(),
            "a till key needs a branch"
        );
        assert_eq!(
            Role::Manager.scope(Some(branch(2))),
            Ok(Scope::Branch(branch(2)))
        );
        assert_eq!(Role::Manager.scope(None), Ok(Scope::AllBranches));
        for role in [Role::Analyst, Role::Admin] {
            assert_eq!(role.scope(None), Ok(Scope::AllBranches));
            let error = role.scope(Some(branch(1))).unwrap_err().to_string();
            assert_eq!(
                error,
                format!("a key of role {role} covers every branch and takes none")
            );
        }
    }

    #[test]
    fn a_scope_covers_its_branches() {
        assert!(Scope::Branch(branch(2)).covers(branch(2)));
        assert!(!Scope::Branch(branch(2)).covers(branch(3)));
        assert!(Scope::AllBranches.covers(branch(3)));
        assert_eq!(Scope::Branch(branch(2)).branch(), Some(branch(2)));
        assert_eq!(Scope::AllBranches.branch(), None);
    }
}
