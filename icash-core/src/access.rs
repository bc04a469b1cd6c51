//! Who may do what, written once: every operation icash offers is an [`Action`], and
//! [`Actor::may`] is the one rule that allows or refuses it.
//!
//! | action | till | manager | analyst | admin |
//! | --- | --- | --- | --- | --- |
//! | read the catalog | yes | yes | yes | yes |
//! | record a purchase, read a receipt of branch B | of B | of B | no | yes |
//! | refund or void a purchase of branch B, change prices at B | no | of B | no | yes |
//! | change the catalog's prices | no | of every branch | no | yes |
//! | read the analytics of branch B | no | of B | yes | yes |
//! | read the analytics of every branch, list the customers | no | of every branch | yes | yes |
//! | manage keys, read the audit trail, read the server's metrics, change branches | no | no | no | yes |
//!
//! A manager "of B" is the manager of branch B or of every branch. Receipts and the customer
//! lists name customers: only the roles that need them read them.
//!
//! Reading what one's own key may do (`GET /whoami`) is no action: every key may, and a
//! request without one learns only that keys are required.

use std::fmt;

use crate::actor::{Actor, Role, Scope};
use crate::id::BranchId;

/// An operation an actor asks for, with the branch it concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Reading the products and their prices.
    ReadCatalog,
    /// Recording a purchase at a branch.
    RecordPurchase(BranchId),
    /// Reading a receipt of a branch.
    ReadReceipt(BranchId),
    /// Listing the chain's customers with their purchase counts.
    ListCustomers,
    /// Reading analytics or the dashboard, of one branch or (`None`) of every branch.
    ReadAnalytics(Option<BranchId>),
    /// Refunding a purchase of a branch.
    RefundPurchase(BranchId),
    /// Voiding a purchase of a branch.
    VoidPurchase(BranchId),
    /// Changing prices at one branch or (`None`) in the whole catalog.
    ChangePrices(Option<BranchId>),
    /// Creating, listing and revoking keys.
    ManageKeys,
    /// Reading the audit trail.
    ReadAudit,
    /// Reading the server's operational metrics (`/metrics`).
    ReadMetrics,
    /// Changing a branch's name, time zone or business day.
    ManageBranches,
}

impl Action {
    /// What the action does, as the end of "a till of branch 2 may not ...".
    fn describe(self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::ReadCatalog => write!(f, "read the catalog"),
            Action::RecordPurchase(branch) => write!(f, "record purchases for branch {branch}"),
            Action::ReadReceipt(branch) => write!(f, "read receipts of branch {branch}"),
            Action::ListCustomers => write!(f, "list the customers"),
            Action::ReadAnalytics(Some(branch)) => {
                write!(f, "read the analytics of branch {branch}")
            }
            Action::ReadAnalytics(None) => write!(f, "read the analytics of every branch"),
            Action::RefundPurchase(branch) => write!(f, "refund purchases of branch {branch}"),
            Action::VoidPurchase(branch) => write!(f, "void purchases of branch {branch}"),
            Action::ChangePrices(Some(branch)) => write!(f, "change prices at branch {branch}"),
            Action::ChangePrices(None) => write!(f, "change the catalog's prices"),
            Action::ManageKeys => write!(f, "manage API keys"),
            Action::ReadAudit => write!(f, "read the audit trail"),
            Action::ReadMetrics => write!(f, "read the server's metrics"),
            Action::ManageBranches => write!(f, "change the branches' settings"),
        }
    }
}

/// Whether `role` over `scope` may do `action`: the table of the module's documentation.
fn permits(role: Role, scope: Scope, action: Action) -> bool {
    // Every arm names its actions: a new action must be placed for every role.
    match role {
        Role::Admin => true,
        Role::Analyst => match action {
            Action::ReadCatalog | Action::ListCustomers | Action::ReadAnalytics(_) => true,
            Action::RecordPurchase(_)
            | Action::ReadReceipt(_)
            | Action::RefundPurchase(_)
            | Action::VoidPurchase(_)
            | Action::ChangePrices(_)
            | Action::ManageKeys
            | Action::ReadAudit
            | Action::ReadMetrics
            | Action::ManageBranches => false,
        },
        Role::Manager => match action {
            Action::ReadCatalog => true,
            Action::RecordPurchase(branch)
            | Action::ReadReceipt(branch)
            | Action::RefundPurchase(branch)
            | Action::VoidPurchase(branch)
            | Action::ChangePrices(Some(branch))
            | Action::ReadAnalytics(Some(branch)) => scope.covers(branch),
            Action::ListCustomers | Action::ReadAnalytics(None) | Action::ChangePrices(None) => {
                scope == Scope::AllBranches
            }
            Action::ManageKeys
            | Action::ReadAudit
            | Action::ReadMetrics
            | Action::ManageBranches => false,
        },
        Role::Till => match action {
            Action::ReadCatalog => true,
            Action::RecordPurchase(branch) | Action::ReadReceipt(branch) => scope.covers(branch),
            Action::ListCustomers
            | Action::ReadAnalytics(_)
            | Action::RefundPurchase(_)
            | Action::VoidPurchase(_)
            | Action::ChangePrices(_)
            | Action::ManageKeys
            | Action::ReadAudit
            | Action::ReadMetrics
            | Action::ManageBranches => false,
        },
    }
}

impl Actor {
    /// Allows `action`, or refuses it with the sentence a client sees.
    pub fn may(&self, action: &Action) -> Result<(), Forbidden> {
        if permits(self.role(), self.scope(), *action) {
            Ok(())
        } else {
            Err(Forbidden {
                role: self.role(),
                scope: self.scope(),
                action: *action,
            })
        }
    }
}

/// An action refused to an actor's role. Its `Display` names the role, its branches and what
/// they may not do: "a till of branch 2 may not record purchases for branch 3".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forbidden {
    role: Role,
    scope: Scope,
    action: Action,
}

impl Forbidden {
    /// The action that was refused.
    pub fn action(&self) -> Action {
        self.action
    }
}

impl fmt::Display for Forbidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.role, self.scope) {
            (Role::Analyst, _) => write!(f, "an analyst")?,
            (Role::Admin, _) => write!(f, "an admin")?,
            (role, Scope::Branch(branch)) => write!(f, "a {role} of branch {branch}")?,
            (role, Scope::AllBranches) => write!(f, "a {role} of every branch")?,
        }
        write!(f, " may not ")?;
        self.action.describe(f)
    }
}

impl std::error::Error for Forbidden {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::KeyId;
    use crate::key::KeyName;

    fn branch(n: i32) -> BranchId {
        BranchId::new(n).unwrap()
    }

    fn actor(role: Role, branch: Option<BranchId>) -> Actor {
        let name = KeyName::new(&format!("{role}-key")).unwrap();
        Actor::new(KeyId::new(1).unwrap(), name, role, branch).unwrap()
    }

    /// Every action, about branch 2 or about every branch.
    fn actions() -> Vec<Action> {
        let two = branch(2);
        vec![
            Action::ReadCatalog,
            Action::RecordPurchase(two),
            Action::ReadReceipt(two),
            Action::ListCustomers,
            Action::ReadAnalytics(Some(two)),
            Action::ReadAnalytics(None),
            Action::RefundPurchase(two),
            Action::VoidPurchase(two),
            Action::ChangePrices(Some(two)),
            Action::ChangePrices(None),
            Action::ManageKeys,
            Action::ReadAudit,
            Action::ReadMetrics,
            Action::ManageBranches,
        ]
    }

    /// The actions of [`actions`] about branch 3 instead of 2.
    fn at_branch_3(action: Action) -> Option<Action> {
        let three = branch(3);
        match action {
            Action::RecordPurchase(_) => Some(Action::RecordPurchase(three)),
            Action::ReadReceipt(_) => Some(Action::ReadReceipt(three)),
            Action::ReadAnalytics(Some(_)) => Some(Action::ReadAnalytics(Some(three))),
            Action::RefundPurchase(_) => Some(Action::RefundPurchase(three)),
            Action::VoidPurchase(_) => Some(Action::VoidPurchase(three)),
            Action::ChangePrices(Some(_)) => Some(Action::ChangePrices(Some(three))),
            _ => None,
        }
    }

    /// The expected answer for each actor (of branch 2 when it has one) and action of
    /// [`actions`], in order: `Y` allowed, `n` refused.
    #[rustfmt::skip]
    const MATRIX: [(&str, Role, Option<i32>, &str); 5] = [
        //                              cat rec rcp cus a2  a*  ref voi p2  p*  key aud met brn
        ("till of 2", Role::Till, Some(2), "Y   Y   Y   n   n   n   n   n   n   n   n   n   n   n"),
        ("manager of 2", Role::Manager, Some(2), "Y   Y   Y   n   Y   n   Y   Y   Y   n   n   n   n   n"),
        ("manager of all", Role::Manager, None, "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   n   n   n   n"),
        ("analyst", Role::Analyst, None, "Y   n   n   Y   Y   Y   n   n   n   n   n   n   n   n"),
        ("admin", Role::Admin, None, "Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y   Y"),
    ];

    #[test]
    fn every_role_may_do_what_the_table_says() {
        for (who, role, own, row) in MATRIX {
            let actor = actor(role, own.map(branch));
            let expected: Vec<bool> = row.split_whitespace().map(|cell| cell == "Y").collect();
            let actions = actions();
            assert_eq!(expected.len(), actions.len(), "{who}: one cell per action");
            for (action, allowed) in actions.into_iter().zip(expected) {
                assert_eq!(actor.may(&action).is_ok(), allowed, "{who} and {action:?}");
                // The same action at a branch that is not the actor's own.
                if let Some(elsewhere) = at_branch_3(action) {
                    let allowed_elsewhere = allowed && own.is_none();
                    assert_eq!(
                        actor.may(&elsewhere).is_ok(),
                        allowed_elsewhere,
                        "{who} and {elsewhere:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_refusal_names_the_role_and_what_it_may_not_do() {
        let cases = [
            (
                actor(Role::Till, Some(branch(2))),
                Action::RecordPurchase(branch(3)),
                "a till of branch 2 may not record purchases for branch 3",
            ),
            (
                actor(Role::Till, Some(branch(2))),
                Action::ReadReceipt(branch(3)),
                "a till of branch 2 may not read receipts of branch 3",
            ),
            (
                actor(Role::Till, Some(branch(2))),
                Action::ListCustomers,
                "a till of branch 2 may not list the customers",
            ),
            (
                actor(Role::Manager, Some(branch(2))),
                Action::ReadAnalytics(None),
                "a manager of branch 2 may not read the analytics of every branch",
            ),
            (
                actor(Role::Manager, Some(branch(2))),
                Action::ReadAnalytics(Some(branch(3))),
                "a manager of branch 2 may not read the analytics of branch 3",
            ),
            (
                actor(Role::Manager, Some(branch(2))),
                Action::ChangePrices(None),
                "a manager of branch 2 may not change the catalog's prices",
            ),
            (
                actor(Role::Manager, None),
                Action::ManageKeys,
                "a manager of every branch may not manage API keys",
            ),
            (
                actor(Role::Analyst, None),
                Action::RecordPurchase(branch(1)),
                "an analyst may not record purchases for branch 1",
            ),
            (
                actor(Role::Analyst, None),
                Action::ReadAudit,
                "an analyst may not read the audit trail",
            ),
            (
                actor(Role::Analyst, None),
                Action::ReadMetrics,
                "an analyst may not read the server's metrics",
            ),
            (
                actor(Role::Manager, None),
                Action::ManageBranches,
                "a manager of every branch may not change the branches' settings",
            ),
            (
                actor(Role::Analyst, None),
                Action::VoidPurchase(branch(1)),
                "an analyst may not void purchases of branch 1",
            ),
        ];
        for (actor, action, sentence) in cases {
            let refused = actor.may(&action).unwrap_err();
            assert_eq!(refused.to_string(), sentence);
            assert_eq!(refused.action(), action);
            let error: crate::Error = refused.into();
            assert_eq!(
                error.to_string(),
                sentence,
                "the domain error says the same"
            );
        }
    }
}
