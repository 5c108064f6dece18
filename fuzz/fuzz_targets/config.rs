//! Every configuration value through its parser: whatever the text, a value or one line
//! naming the variable and its flag.
#![no_main]

use ami_usage_reporter::config::{RawConfig, RawNotifyConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let one = Some(text.to_string());
    let configs = [
        RawConfig { archive_bucket: one.clone(), ..Default::default() },
        RawConfig { archive_bucket_region: one.clone(), ..Default::default() },
        RawConfig { archive_prefix: one.clone(), ..Default::default() },
        RawConfig { alert_topic_arn: one.clone(), ..Default::default() },
        RawConfig { ami_tag_filters: one.clone(), ..Default::default() },
        RawConfig { report_account_ids: one.clone(), ..Default::default() },
        RawConfig { exclude_tag: one.clone(), ..Default::default() },
        RawConfig { group_tag: one.clone(), ..Default::default() },
        RawConfig { snapshot_gb_month_usd: one.clone(), ..Default::default() },
        RawConfig { athena_database: one.clone(), ..Default::default() },
        RawConfig { notify: RawNotifyConfig { route_tag: one.clone(), ..Default::default() }, ..Default::default() },
        RawConfig {
            notify: RawNotifyConfig { digest_reservations: one.clone(), ..Default::default() },
            ..Default::default()
        },
        RawConfig {
            notify: RawNotifyConfig { ri_utilization_alert_percent: one.clone(), ..Default::default() },
            ..Default::default()
        },
        RawConfig { unused_min_days: one, ..Default::default() },
    ];
    for config in configs {
        match config.validate() {
            Ok(c) => {
                let _ = c.check_function_region("eu-west-1");
            }
            Err(e) => {
                let text = e.to_string();
                assert!(!text.contains('\n') && text.contains(" (--"), "{text}");
            }
        }
    }
});
