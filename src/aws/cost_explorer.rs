//! Cost Explorer: `GetReservationUtilization` per EC2 reservation (`GroupBy
//! SUBSCRIPTION_ID`, `Filter` on the EC2 compute service, no granularity: one total per
//! subscription for the period), paged with `NextPageToken` within a call budget,
//! since Cost Explorer charges per request. Its one endpoint is in us-east-1 (see
//! `Clients::cost_explorer`).

use aws_sdk_costexplorer::Client;
use aws_sdk_costexplorer::types::{
    DateInterval, Dimension, DimensionValues, Expression, GroupDefinition, GroupDefinitionType,
    ReservationUtilizationGroup,
};

use super::{error_code, error_text};
use crate::core::digest::{CeGroup, PeriodRange};

/// The service name Cost Explorer gives EC2 instance usage.
pub const EC2_COMPUTE_SERVICE: &str = "Amazon Elastic Compute Cloud - Compute";

/// One period's groups, and whether every page was read within the budget.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeriodAnswer {
    pub groups: Vec<CeGroup>,
    pub complete: bool,
}

/// A refusal: Cost Explorer's error code (for the core to judge) and the full text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{text}")]
pub struct CeRefusal {
    pub code: Option<String>,
    pub text: String,
}

fn group_of(g: &ReservationUtilizationGroup) -> CeGroup {
    let u = g.utilization();
    let text =
        |f: fn(&aws_sdk_costexplorer::types::ReservationAggregates) -> Option<&str>| u.and_then(f).map(str::to_string);
    CeGroup {
        value: g.value().map(str::to_string),
        attributes: g.attributes().map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
        utilization_percentage: text(|a| a.utilization_percentage()),
        purchased_hours: text(|a| a.purchased_hours()),
        total_actual_hours: text(|a| a.total_actual_hours()),
        unused_hours: text(|a| a.unused_hours()),
        net_ri_savings: text(|a| a.net_ri_savings()),
    }
}

fn ec2_compute_filter() -> Expression {
    Expression::builder()
        .dimensions(DimensionValues::builder().key(Dimension::Service).values(EC2_COMPUTE_SERVICE).build())
        .build()
}

/// Every page of one period, each call taken from `calls_left`; a budget spent before
/// the last page leaves the answer incomplete (said so, never silently).
pub async fn reservation_utilization(
    ce: &Client,
    range: &PeriodRange,
    calls_left: &mut usize,
) -> Result<PeriodAnswer, CeRefusal> {
    let interval = DateInterval::builder()
        .start(range.start.format("%Y-%m-%d").to_string())
        .end(range.end.format("%Y-%m-%d").to_string())
        .build()
        .map_err(|e| CeRefusal { code: None, text: e.to_string() })?;
    let group_by = GroupDefinition::builder().r#type(GroupDefinitionType::Dimension).key("SUBSCRIPTION_ID").build();
    let mut answer = PeriodAnswer::default();
    let mut token: Option<String> = None;
    loop {
        if *calls_left == 0 {
            return Ok(answer);
        }
        *calls_left -= 1;
        let out = ce
            .get_reservation_utilization()
            .time_period(interval.clone())
            .group_by(group_by.clone())
            .filter(ec2_compute_filter())
            .set_next_page_token(token.take())
            .send()
            .await
            .map_err(|e| CeRefusal {
                code: error_code(&e).map(str::to_string),
                text: format!("ce:GetReservationUtilization failed: {}", error_text(&e)),
            })?;
        answer.groups.extend(out.utilizations_by_time().iter().flat_map(|t| t.groups()).map(group_of));
        token = out.next_page_token().filter(|t| !t.is_empty()).map(str::to_string);
        if token.is_none() {
            answer.complete = true;
            return Ok(answer);
        }
    }
}
