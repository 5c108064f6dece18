//! The alert collect publishes (a **contract**: people's subscriptions depend on it):
//! one SNS message, `MessageStructure=json`, whose `default` is an AWS Chatbot custom
//! notification (Slack) and whose `email` is a plain-text digest of the news.

mod chat;
mod email;
mod model;
mod render;
mod retire;
mod text;

pub use model::{Alert, AlertContext, MAX_MESSAGE_BYTES, MAX_SUBJECT_CHARS};
pub use render::render;
pub use text::{clean, plural};
