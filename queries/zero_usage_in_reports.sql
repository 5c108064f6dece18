-- zero_usage_in_reports.sql
-- Answers: which AMIs had ZERO usage (no instance, no launch template, in any
-- reported account) in EVERY usage report of the last N days, with at least one
-- report in that window? Evidence from the usage reports only.
-- This is NOT the verdict and NOT a list of deregistration candidates: it does not
--   check the owner account (usage reports only cover other accounts; an instance,
--   launch template, SSM parameter or recent launch in the owner account is
--   invisible here), skips reports in 'error' and knows nothing of reports still
--   'pending', missing or not archived, where the verdict says unknown, requires no
--   minimum report count or coverage of the window, and applies no exclusion tag,
--   minimum age, keep-newest group or circuit breaker rule. For deregistration
--   candidates run unused_amis.sql (the product's verdicts, same rules as the alert).
-- Columns: region, image_id, image_name, age_days (since the AMI's creation),
--   snapshot_size_gib (sum of its EBS snapshots), snapshot_usd_per_month
--   (snapshot_size_gib * price), report_count (available reports in the window),
--   first_report_date, last_report_date.
-- Parameters (literal defaults; edit in place):
--   N     = 30 days  -> interval '30' day (window on report_date, inclusive)
--   price = 0.05     -> USD per GB-month of snapshot storage (SNAPSHOT_GB_MONTH_USD)
-- Notes: reports in state 'error' carry no entries and are ignored here (see
--   report_problems.sql); an AMI whose latest report says it no longer exists
--   (image is null) is left out; a report restricted to REPORT_ACCOUNT_IDS only
--   covers those accounts.
with window_reports as (
    select
        region,
        image_id,
        report_id,
        report_date,
        total_usage,
        image,
        row_number() over (
            partition by region, image_id
            order by report_creation_time desc, report_id desc
        ) as recency
    from reports
    where state = 'available'
      and report_date >= cast(cast(current_date - interval '30' day as date) as varchar)
),
per_image as (
    select
        region,
        image_id,
        count(*) as report_count,
        max(total_usage) as max_total_usage,
        min(report_date) as first_report_date,
        max(report_date) as last_report_date
    from window_reports
    group by region, image_id
)
select
    p.region as region,
    p.image_id as image_id,
    w.image.name as image_name,
    date_diff('day', cast(w.image.creation_date as date), current_date) as age_days,
    w.image.snapshot_size_gib_total as snapshot_size_gib,
    round(w.image.snapshot_size_gib_total * 0.05, 2) as snapshot_usd_per_month,
    p.report_count as report_count,
    p.first_report_date as first_report_date,
    p.last_report_date as last_report_date
from per_image p
join window_reports w
  on w.region = p.region
 and w.image_id = p.image_id
 and w.recency = 1
where p.max_total_usage = 0
  and w.image is not null
order by snapshot_size_gib desc, age_days desc, region, image_id
