//! The preflight (a **contract**: its summary, table and exit code): everything the
//! configured phases need, checked in the user's account without effect, each check's
//! outcome judged ok / warn / fail with the fix in its line, and one verdict from the
//! worst. The job asks AWS; these rules say what each answer means.

mod access;
mod archive;
mod model;
mod phases;
mod plan;
mod table;

pub use access::{TypesFallback, create_permission, identity, is_denied, one_line, permission};
pub use archive::{BucketProbe, S3Refusal, bucket, topic};
pub use model::{Answer, Check, Identity, Level, Permission, PreflightSettings, Refusal, Status, Subject};
pub use phases::{MemberFreshness, cost_explorer, member_probes, recycle_bin, selection};
pub use plan::{
    PLACEHOLDER_IMAGE_ID, PLACEHOLDER_SNAPSHOT_ID, PREFLIGHT_DIR, not_needed, permissions, subject_image,
    subject_snapshot, test_object_key,
};
pub use table::{count, render, status};
