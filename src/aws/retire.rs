//! The retirement pipeline's mutating EC2 calls, one per [`Call`], and the Recycle Bin
//! rules (`rbin:ListRules`, then `rbin:GetRule` for each rule's tags and status, which
//! ListRules' summaries do not carry). Errors keep AWS's code.

use anyhow::anyhow;
use aws_sdk_ec2::types::Tag;

use super::{Clients, error_code, error_text};
use crate::core::retire::RecycleBinRule;
use crate::core::retire::{Call, STAGE_TAG};
use crate::core::verdict::TagMatch;

fn failed<E, R>(action: &str, e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> anyhow::Error
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    anyhow!("{action} failed: {}", error_text(e))
}

fn smithy_time(t: chrono::DateTime<chrono::Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(t.timestamp())
}

/// Makes one call for `image_id`. A refusal that means the effect already holds
/// ([`Call::refusal_means_done`]) counts as done.
pub async fn call(clients: &Clients, image_id: &str, call: &Call) -> anyhow::Result<()> {
    let ec2 = &clients.ec2;
    match call {
        Call::EnableDeprecation { deprecate_at } => {
            let req = ec2.enable_image_deprecation().image_id(image_id).deprecate_at(smithy_time(*deprecate_at));
            req.send().await.map(drop).map_err(|e| failed("ec2:EnableImageDeprecation", &e))
        }
        Call::DisableDeprecation => ec2
            .disable_image_deprecation()
            .image_id(image_id)
            .send()
            .await
            .map(drop)
            .map_err(|e| failed("ec2:DisableImageDeprecation", &e)),
        Call::Disable => {
            ec2.disable_image().image_id(image_id).send().await.map(drop).map_err(|e| failed("ec2:DisableImage", &e))
        }
        Call::Enable => {
            ec2.enable_image().image_id(image_id).send().await.map(drop).map_err(|e| failed("ec2:EnableImage", &e))
        }
        Call::Deregister { delete_snapshots } => {
            let req = ec2.deregister_image().image_id(image_id).delete_associated_snapshots(*delete_snapshots);
            match req.send().await {
                Ok(_) => Ok(()),
                Err(e) if call.refusal_means_done(error_code(&e)) => Ok(()),
                Err(e) => Err(failed("ec2:DeregisterImage", &e)),
            }
        }
        Call::Tag { value } => ec2
            .create_tags()
            .resources(image_id)
            .tags(Tag::builder().key(STAGE_TAG).value(value).build())
            .send()
            .await
            .map(drop)
            .map_err(|e| failed("ec2:CreateTags", &e)),
        Call::Untag => ec2
            .delete_tags()
            .resources(image_id)
            .tags(Tag::builder().key(STAGE_TAG).build())
            .send()
            .await
            .map(drop)
            .map_err(|e| failed("ec2:DeleteTags", &e)),
    }
}

fn tag_matches(tags: &[aws_sdk_rbin::types::ResourceTag]) -> Vec<TagMatch> {
    tags.iter()
        .map(|t| TagMatch {
            key: t.resource_tag_key().to_string(),
            value: t.resource_tag_value().filter(|v| !v.is_empty()).map(str::to_string),
        })
        .collect()
}

/// Every `EC2_IMAGE` retention rule of the account in the client's Region.
pub async fn image_rules(clients: &Clients) -> anyhow::Result<Vec<RecycleBinRule>> {
    let rbin = &clients.rbin;
    let mut ids = Vec::new();
    let mut pages =
        rbin.list_rules().resource_type(aws_sdk_rbin::types::ResourceType::Ec2Image).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| failed("rbin:ListRules", &e))?;
        ids.extend(page.rules().iter().filter_map(|r| r.identifier().map(str::to_string)));
    }
    let mut rules = Vec::with_capacity(ids.len());
    for id in ids {
        let rule = rbin.get_rule().identifier(&id).send().await.map_err(|e| failed("rbin:GetRule", &e))?;
        rules.push(RecycleBinRule {
            identifier: id,
            resource_type: rule.resource_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
            status: rule.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            lock_state: rule.lock_state().map(|s| s.as_str().to_string()),
            resource_tags: tag_matches(rule.resource_tags()),
            exclude_resource_tags: tag_matches(rule.exclude_resource_tags()),
        });
    }
    Ok(rules)
}
