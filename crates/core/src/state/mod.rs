//! Collect's memory and voice: the state object (per-AMI evidence, processed reports,
//! the outbox of news and what was announced), the news and its keys (each announced
//! once), which reports need what (triage), and routing (a **contract**: the SNS message
//! attributes subscription filter policies match on).

mod collect_state;
mod members;
mod model;
mod news;
mod routing;
mod triage;

pub use collect_state::{AmiState, CollectState, STATE_SCHEMA_VERSION};
pub use members::{held_by_missing, narrowed_report_types, report_gaps, retiring_list};
pub use model::{ErrorStreak, Route, Standing};
pub use news::{News, retirement_news};
pub use routing::{
    Attribute, Batch, DIGEST_KIND, MAX_GROUP_ATTRIBUTE_BYTES, MAX_TEAM_MESSAGES, MessageAttributes, batches, image_of,
    kind_of, message_team, routes_of, standing_for,
};
pub use triage::{
    STALE_UPLOAD_AGE, Triage, expiring_unarchived, lateness_news, quarantine_news, stale_uploads, triage, unabsorbed,
};
