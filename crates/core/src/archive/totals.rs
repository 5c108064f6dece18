//! Per-report totals over the entries (the report row's `entry_count`, `account_count`
//! and usage sums), accumulated while the entries stream to S3.

use super::super::model::{RESOURCE_TYPE_INSTANCE, RESOURCE_TYPE_LAUNCH_TEMPLATE, UsageEntry};

/// Running totals over a report's entries, accumulated while they stream to S3 so
/// that the entries never need to be held in memory.
///
/// Usage counts come from EC2, so a sum can leave `i64`'s range. Each total then stops
/// at `i64::MAX` (or `i64::MIN`) instead of wrapping into a wrong number or panicking,
/// and the first such entry is kept in [`EntryTotals::overflow`], so that the writer can
/// refuse to record a clipped total as if it were exact.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntryTotals {
    pub entry_count: i64,
    pub total_usage: i64,
    pub instance_usage: i64,
    pub launch_template_usage: i64,
    accounts: AccountSet,
    overflow: Option<TotalOverflow>,
}

/// The entry that took a total out of `i64`'s range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {total} of report {report_id} leaves the 64-bit range at the entry of account {account_id} ({resource_type}, usage count {usage_count}); the total is clipped"
)]
pub struct TotalOverflow {
    pub total: &'static str,
    pub report_id: String,
    pub account_id: String,
    pub resource_type: String,
    pub usage_count: i64,
}

/// The distinct accounts of one report. Account ids are twelve digits, so they are kept
/// as numbers: no allocation per entry and 8 bytes per account instead of a `String`
/// (a report can name hundreds of thousands of accounts). Anything else EC2 might send
/// is kept as text.
#[derive(Debug, Clone, Default, PartialEq)]
struct AccountSet {
    numeric: std::collections::BTreeSet<u64>,
    other: std::collections::BTreeSet<String>,
}

impl AccountSet {
    fn insert(&mut self, account_id: &str) {
        let twelve_digits = account_id.len() == 12 && account_id.bytes().all(|b| b.is_ascii_digit());
        match account_id.parse::<u64>() {
            Ok(n) if twelve_digits => {
                self.numeric.insert(n);
            }
            _ if !self.other.contains(account_id) => {
                self.other.insert(account_id.to_string());
            }
            _ => {}
        }
    }

    fn len(&self) -> usize {
        self.numeric.len() + self.other.len()
    }
}

impl EntryTotals {
    pub fn add(&mut self, e: &UsageEntry) {
        self.entry_count = self.entry_count.saturating_add(1);
        let mut clipped = None;
        let mut sum = |total: &mut i64, name: &'static str| match total.checked_add(e.usage_count) {
            Some(v) => *total = v,
            None => {
                *total = total.saturating_add(e.usage_count);
                clipped = clipped.or(Some(name));
            }
        };
        sum(&mut self.total_usage, "total_usage");
        match e.resource_type.as_str() {
            RESOURCE_TYPE_INSTANCE => sum(&mut self.instance_usage, "instance_usage"),
            RESOURCE_TYPE_LAUNCH_TEMPLATE => sum(&mut self.launch_template_usage, "launch_template_usage"),
            _ => {}
        }
        if let (Some(total), None) = (clipped, &self.overflow) {
            self.overflow = Some(TotalOverflow {
                total,
                report_id: e.report_id.clone(),
                account_id: e.account_id.clone(),
                resource_type: e.resource_type.clone(),
                usage_count: e.usage_count,
            });
        }
        self.accounts.insert(&e.account_id);
    }

    pub fn account_count(&self) -> i64 {
        i64::try_from(self.accounts.len()).unwrap_or(i64::MAX)
    }

    /// The first entry that clipped a total, if any: the totals are then not exact.
    pub fn overflow(&self) -> Option<&TotalOverflow> {
        self.overflow.as_ref()
    }
}
