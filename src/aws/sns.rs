//! SNS: one publish per message, with the routing attributes (`core::state` (routing)).

use anyhow::anyhow;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use super::error_text;
use crate::core::alert::Alert;
use crate::core::state::MessageAttributes;

/// Publishes with `MessageStructure=json` so e-mail and chat subscribers each get their
/// own rendering, and with the message attributes filter policies match on. Returns
/// the SNS message id.
pub async fn publish(
    sns: &Client,
    topic_arn: &str,
    alert: &Alert,
    attributes: &MessageAttributes,
) -> anyhow::Result<String> {
    let mut request = sns
        .publish()
        .topic_arn(topic_arn)
        .subject(&alert.subject)
        .message_structure("json")
        .message(alert.sns_message());
    for (name, data_type, value) in attributes.entries() {
        let value = MessageAttributeValue::builder()
            .data_type(data_type)
            .string_value(value)
            .build()
            .map_err(|e| anyhow!("message attribute {name}: {e}"))?;
        request = request.message_attributes(name, value);
    }
    let out = request.send().await.map_err(|e| anyhow!("sns:Publish to {topic_arn} failed: {}", error_text(&e)))?;
    Ok(out.message_id.unwrap_or_default())
}
