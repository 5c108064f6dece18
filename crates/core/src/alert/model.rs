//! The alert's vocabulary: what a rendering is given and what it produces, and SNS's
//! limits that bound both.

use chrono::{DateTime, Utc};
use serde_json::json;

/// SNS accepts 262,144 bytes; keep headroom for the JSON envelope SNS adds.
pub const MAX_MESSAGE_BYTES: usize = 240 * 1024;
pub const MAX_SUBJECT_CHARS: usize = 99;

#[derive(Debug, Clone, PartialEq)]
pub struct AlertContext {
    pub account_id: String,
    pub region: String,
    pub now: DateTime<Utc>,
    pub snapshot_gb_month_usd: f64,
    pub athena_database: String,
    pub athena_workgroup: String,
    pub archive_location: String,
    /// The team of a message split by `ROUTE_TAG` (see `routing`), named in its subject
    /// and first line; `None` for the untagged message and without `ROUTE_TAG`.
    pub team: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub subject: String,
    /// AWS Chatbot custom notification, serialised.
    pub chat: String,
    pub email: String,
}

impl Alert {
    /// The SNS `Message` for `MessageStructure=json`.
    pub fn sns_message(&self) -> String {
        json!({ "default": self.chat, "email": self.email }).to_string()
    }
}
