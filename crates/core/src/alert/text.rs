//! Text helpers shared by every rendering of the alert and the digest.

use chrono::{DateTime, Utc};

use super::model::AlertContext;

/// Removes control characters (keeping nothing that could break a line or a terminal).
pub fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

pub fn days(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_days().max(0)
}

pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The monthly cost of keeping `gib` of snapshots, at the configured price.
pub fn monthly_cost(gib: i64, ctx: &AlertContext) -> f64 {
    gib as f64 * ctx.snapshot_gb_month_usd
}
