//! SNS: one publish per alert.

use anyhow::anyhow;
use aws_sdk_sns::Client;

use super::error_text;
use crate::core::alert::Alert;

/// Publishes with `MessageStructure=json` so e-mail and chat subscribers each get their
/// own rendering. Returns the SNS message id.
pub async fn publish(sns: &Client, topic_arn: &str, alert: &Alert) -> anyhow::Result<String> {
    let out = sns
        .publish()
        .topic_arn(topic_arn)
        .subject(&alert.subject)
        .message_structure("json")
        .message(alert.sns_message())
        .send()
        .await
        .map_err(|e| anyhow!("sns:Publish to {topic_arn} failed: {}", error_text(&e)))?;
    Ok(out.message_id.unwrap_or_default())
}
