//! The OWP objects, the task state machine and the scheduling rules, free of I/O.

pub mod beads;
pub mod contract;
pub mod disclosure;
pub mod evidence;
pub mod github_facts;
pub mod labels;
pub mod limits;
pub mod markers;
pub mod model;
pub mod outcomes;
pub mod paths;
pub mod person;
pub mod proposals;
pub mod rules;
pub mod secret;
pub mod task_fields;
pub mod task_policy;
pub mod vouch;

pub use contract::RepoContract;
pub use model::{
    Event, Lease, Priority, Promotion, RepoPolicy, Reputation, Task, TaskStatus, Visibility,
    Worker, WorkerStatus,
};
pub use task_policy::{TaskPolicy, VerifiedCommits};
