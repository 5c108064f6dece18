-- ri_under_threshold.sql
-- Answers: which EC2 Reserved Instances are under-used? Per weekly digest, the
-- reservations whose utilization over the digest's last 7 days stayed under the
-- threshold (the digest's RI_UTILIZATION_ALERT_PERCENT, default 80), lowest first, with
-- the hours paid for and not used, the net savings Cost Explorer computed, and whether
-- the term ends within 30 days of the digest (renew or let go). Read from the
-- ri_utilization dataset the digest writes (DIGEST_RESERVATIONS=on).
-- Columns: report_date, region, owner_account_id, subscription_id, account_id,
--   account_name, instance_type, reservation_region, platform, number_of_instances,
--   utilization_percentage, purchased_hours, unused_hours, net_ri_savings,
--   end_date_time, ending_within_30_days
-- Parameters (literal defaults; edit in place):
--   T = 80 percent -> utilization_percentage < 80
--   N = 35 days -> interval '35' day (window on report_date, inclusive: 5 digests)
select
    report_date,
    region,
    owner_account_id,
    subscription_id,
    account_id,
    account_name,
    instance_type,
    reservation_region,
    platform,
    number_of_instances,
    utilization_percentage,
    purchased_hours,
    unused_hours,
    net_ri_savings,
    end_date_time,
    end_date_time < cast(digest_date as timestamp) + interval '30' day as ending_within_30_days
from ri_utilization
where period = 'last_7_days'
  and utilization_percentage < 80
  and report_date >= cast(cast(current_date - interval '35' day as date) as varchar)
order by report_date desc, region, utilization_percentage, subscription_id
