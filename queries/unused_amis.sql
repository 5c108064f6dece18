-- unused_amis.sql
-- Answers: which AMIs are deregistration candidates right now? Exactly the
-- product's verdicts: the rows of the `verdicts` table with verdict = 'candidate',
-- decided by the same rules as the alert (usage reports over UNUSED_MIN_DAYS with
-- MIN_REPORTS and no gap, reports in error/pending/missing make the AMI unknown,
-- owner-account use, exclusion tag, MIN_AGE_DAYS, KEEP_NEWEST per GROUP_TAG, the
-- circuit breaker). The rules and reason codes are documented in docs/verdicts.md,
-- "Verdicts: which AMIs can go". This query decides nothing itself; for the raw
-- report evidence see zero_usage_in_reports.sql, and run billing_products.sql
-- before deregistering any of them.
-- "Latest" = the latest verdicts object of each owner account and Region: the rows
--   whose evaluated_at is the greatest of that account and Region in the window.
--   Every object holds the verdict of every selected AMI of its run (collect runs
--   hourly and writes an object when a verdict changes and at least once a UTC day),
--   so those rows are the current verdicts, the ones the alert used. An AMI absent
--   from the latest object (deregistered, no longer selected) has no current verdict
--   and is not listed, even if an older object called it a candidate; an AMI that was
--   a candidate in an earlier run and in_use/unknown/excluded in a later one is not
--   listed either. A Region with no verdicts object in the window (collect not
--   running) lists nothing: its last verdicts are too old to act on.
-- Columns: owner_account_id, region, image_id, name, evaluated_at (the run that
--   decided), age_days, unused_since (first zero-usage report of the streak),
--   days_unused, reports_in_window, zero_usage_reports, snapshot_size_gib_total,
--   estimated_snapshot_usd_month (sizes * SNAPSHOT_GB_MONTH_USD, an upper bound),
--   has_billing_codes (never deregister one blindly), deregistration_protection
--   (AMI attribute), not_checked (reference kinds this verdict could not check),
--   reasons (reason codes). Values are as of evaluated_at. Rows written before a
--   column existed read it as NULL.
-- Parameters (literal defaults; edit in place):
--   window = 2 days -> interval '2' day (report_date of the verdicts objects, UTC,
--            inclusive: today and the two days before, enough to find the latest
--            object of every Region collecting at least daily; partition projection
--            reads only these days)
with recent as (
    select
        owner_account_id,
        region,
        image_id,
        name,
        verdict,
        evaluated_at,
        age_days,
        unused_since,
        days_unused,
        reports_in_window,
        zero_usage_reports,
        snapshot_size_gib_total,
        estimated_snapshot_usd_month,
        has_billing_codes,
        deregistration_protection,
        not_checked,
        reasons,
        max(evaluated_at) over (partition by owner_account_id, region) as latest_run
    from verdicts
    where report_date >= cast(cast(current_date - interval '2' day as date) as varchar)
)
select
    owner_account_id,
    region,
    image_id,
    name,
    evaluated_at,
    age_days,
    unused_since,
    days_unused,
    reports_in_window,
    zero_usage_reports,
    snapshot_size_gib_total,
    estimated_snapshot_usd_month,
    has_billing_codes,
    deregistration_protection,
    not_checked,
    reasons
from recent
where evaluated_at = latest_run
  and verdict = 'candidate'
order by estimated_snapshot_usd_month desc, days_unused desc, owner_account_id, region, image_id
