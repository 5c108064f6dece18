//! The member probe's own scans, which find a reference by the AMI id alone, so they
//! work for an AMI the member can no longer describe (deprecated and not asked for,
//! disabled, unshared): SSM parameters of data type `aws:ec2:image`, launch template
//! versions to the configured depth, Image Builder image and container recipes; and the
//! account's Allowed AMIs settings. Each returns what it read; the core keeps the
//! references to the wanted ids (`core::verdict::member_probe::references_to`).

use anyhow::anyhow;
use aws_sdk_imagebuilder::types::Ownership;
use aws_sdk_ssm::types::ParameterStringFilter;
use futures::StreamExt;

use super::{Clients, error_text};
use crate::core::verdict::OwnerReference;
use crate::core::verdict::member_probe::{launch_template_arn, version_range};
use crate::core::verdict::{AllowedImages, ImageCriterion};

/// A value found in a resource (an AMI id, or anything else) and the resource.
pub type Found = Vec<(String, OwnerReference)>;

/// GetParameters names at most this many parameters per call.
const PARAMETERS_PER_CALL: usize = 10;

fn reference(resource_type: &str, arn: &str) -> OwnerReference {
    OwnerReference { resource_type: resource_type.into(), arn: arn.into() }
}

/// Every SSM parameter of data type `aws:ec2:image` with its value: DescribeParameters
/// filtered on `DataType` (GetParametersByPath does not take that filter), then
/// GetParameters for the values, 10 names a call.
pub async fn ssm_image_parameters(clients: &Clients) -> anyhow::Result<Found> {
    let filter = ParameterStringFilter::builder().key("DataType").option("Equals").values("aws:ec2:image").build()?;
    let mut pages = clients.ssm.describe_parameters().parameter_filters(filter).into_paginator().page_size(50).send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!("ssm:DescribeParameters failed: {}", error_text(&e)))?;
        names.extend(page.parameters().iter().filter_map(|p| p.name().map(str::to_string)));
    }
    let mut found = Found::new();
    for chunk in names.chunks(PARAMETERS_PER_CALL) {
        let out = clients
            .ssm
            .get_parameters()
            .set_names(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| anyhow!("ssm:GetParameters failed: {}", error_text(&e)))?;
        for p in out.parameters() {
            if let (Some(value), Some(name)) = (p.value(), p.name()) {
                found.push((value.to_string(), reference("ssm:Parameter", p.arn().unwrap_or(name))));
            }
        }
    }
    Ok(found)
}

/// The image of each of the newest `depth` versions of every launch template of the
/// account (one DescribeLaunchTemplateVersions call per template, `concurrency` at a time).
pub async fn launch_template_images(
    clients: &Clients,
    account: &str,
    depth: u32,
    concurrency: usize,
) -> anyhow::Result<Found> {
    let mut pages = clients.ec2.describe_launch_templates().into_paginator().page_size(200).send();
    let mut templates = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!("ec2:DescribeLaunchTemplates failed: {}", error_text(&e)))?;
        for t in page.launch_templates() {
            if let (Some(id), Some(latest)) = (t.launch_template_id(), t.latest_version_number()) {
                templates.push((id.to_string(), latest));
            }
        }
    }
    let versions: Vec<anyhow::Result<Found>> = futures::stream::iter(templates)
        .map(|(id, latest)| template_versions(clients, account, id, version_range(latest, depth)))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut found = Found::new();
    for v in versions {
        found.extend(v?);
    }
    Ok(found)
}

async fn template_versions(clients: &Clients, account: &str, id: String, range: (i64, i64)) -> anyhow::Result<Found> {
    let arn = launch_template_arn(&clients.region, account, &id);
    let mut pages = clients
        .ec2
        .describe_launch_template_versions()
        .launch_template_id(&id)
        .min_version(range.0.to_string())
        .max_version(range.1.to_string())
        .into_paginator()
        .send();
    let mut found = Found::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!("ec2:DescribeLaunchTemplateVersions {id} failed: {}", error_text(&e)))?;
        for v in page.launch_template_versions() {
            if let Some(image) = v.launch_template_data().and_then(|d| d.image_id()) {
                found.push((image.to_string(), reference("ec2:LaunchTemplate", &arn)));
            }
        }
    }
    Ok(found)
}

/// The parent image of every Image Builder image and container recipe the account owns.
pub async fn recipe_images(clients: &Clients) -> anyhow::Result<Found> {
    let ib = &clients.imagebuilder;
    let mut found = Found::new();
    let mut pages = ib.list_image_recipes().owner(Ownership::SelfValue).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!("imagebuilder:ListImageRecipes failed: {}", error_text(&e)))?;
        for r in page.image_recipe_summary_list() {
            if let (Some(parent), Some(arn)) = (r.parent_image(), r.arn()) {
                found.push((parent.to_string(), reference("imagebuilder:ImageRecipe", arn)));
            }
        }
    }
    let mut pages = ib.list_container_recipes().owner(Ownership::SelfValue).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow!("imagebuilder:ListContainerRecipes failed: {}", error_text(&e)))?;
        for r in page.container_recipe_summary_list() {
            if let (Some(parent), Some(arn)) = (r.parent_image(), r.arn()) {
                found.push((parent.to_string(), reference("imagebuilder:ContainerRecipe", arn)));
            }
        }
    }
    Ok(found)
}

/// The account's Allowed AMIs settings (GetAllowedImagesSettings: state, who manages
/// them, and each criterion's providers and deprecation condition).
pub async fn allowed_images(clients: &Clients) -> anyhow::Result<AllowedImages> {
    let out = clients
        .ec2
        .get_allowed_images_settings()
        .send()
        .await
        .map_err(|e| anyhow!("ec2:GetAllowedImagesSettings failed: {}", error_text(&e)))?;
    Ok(AllowedImages {
        state: out.state().unwrap_or("disabled").to_string(),
        managed_by: out.managed_by().map(|m| m.as_str().to_string()),
        criteria: out
            .image_criteria()
            .iter()
            .map(|c| ImageCriterion {
                image_providers: c.image_providers().to_vec(),
                max_days_since_deprecated: c
                    .deprecation_time_condition()
                    .and_then(|d| d.maximum_days_since_deprecated())
                    .map(i64::from),
            })
            .collect(),
    })
}
