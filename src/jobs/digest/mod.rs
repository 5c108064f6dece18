//! The weekly digest phase: read the week from the archive, ask the core, write the RI
//! rows, publish (one message, or one per team then the account's), write the digest
//! object last.

mod publish;
mod run;
mod summary;

pub use run::run;
pub use summary::DigestSummary;
