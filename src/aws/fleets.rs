//! Spot Fleet requests and EC2 Fleets of the owner account that name an image inline
//! (a Spot Fleet launch specification, an EC2 Fleet launch-template override): such a
//! fleet launches from the image whenever it scales, and neither usage reports nor
//! DescribeImageReferences see it. A fleet that only points at a launch template is
//! covered through that template.

use std::collections::BTreeMap;

use anyhow::anyhow;
use aws_sdk_ec2::Client;

use super::error_text;
use crate::core::verdict::OwnerReference;
use crate::core::verdict::fleet_can_launch;

pub type ReferencesById = BTreeMap<String, Vec<OwnerReference>>;

fn push(found: &mut ReferencesById, image_id: Option<&str>, resource_type: &str, id: &str) {
    if let Some(image_id) = image_id {
        found
            .entry(image_id.to_string())
            .or_default()
            .push(OwnerReference { resource_type: resource_type.into(), arn: id.to_string() });
    }
}

async fn spot_fleets(ec2: &Client, found: &mut ReferencesById) -> anyhow::Result<()> {
    let mut pages = ec2.describe_spot_fleet_requests().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!("ec2:DescribeSpotFleetRequests failed: {}", error_text(&e)))?;
        for fleet in page.spot_fleet_request_configs() {
            let state = fleet.spot_fleet_request_state().map(|s| s.as_str()).unwrap_or_default();
            let (Some(id), Some(config)) = (fleet.spot_fleet_request_id(), fleet.spot_fleet_request_config()) else {
                continue;
            };
            if fleet_can_launch(state) {
                for spec in config.launch_specifications() {
                    push(found, spec.image_id(), "ec2:SpotFleetRequest", id);
                }
            }
        }
    }
    Ok(())
}

async fn ec2_fleets(ec2: &Client, found: &mut ReferencesById) -> anyhow::Result<()> {
    let mut pages = ec2.describe_fleets().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!("ec2:DescribeFleets failed: {}", error_text(&e)))?;
        for fleet in page.fleets() {
            let state = fleet.fleet_state().map(|s| s.as_str()).unwrap_or_default();
            let Some(id) = fleet.fleet_id().filter(|_| fleet_can_launch(state)) else { continue };
            for o in fleet.launch_template_configs().iter().flat_map(|c| c.overrides()) {
                push(found, o.image_id(), "ec2:Fleet", id);
            }
        }
    }
    Ok(())
}

/// Every fleet of the account that can still launch and names an image inline, by image.
pub async fn fleet_references(ec2: &Client) -> anyhow::Result<ReferencesById> {
    let mut found = ReferencesById::new();
    spot_fleets(ec2, &mut found).await?;
    ec2_fleets(ec2, &mut found).await?;
    for refs in found.values_mut() {
        refs.sort_by(|a, b| a.arn.cmp(&b.arn));
        refs.dedup();
    }
    Ok(found)
}
