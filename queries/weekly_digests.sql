-- weekly_digests.sql
-- Answers: what did the weekly digests say? One row per digest run (owner account,
-- Region, digest date) with its numbers: deregistration candidates new this week and
-- still standing, their snapshot-cost upper bound, AMIs used again, non-newest family
-- versions still run, report problems, and the Reserved Instance part (how many
-- reservations, how many under the utilization threshold or ending within 30 days,
-- and whether Cost Explorer answered: off | ok | no_access: <reason>). The lists behind
-- the numbers are the row's arrays (candidates, used_again_amis, families, problems).
-- Columns: report_date, region, owner_account_id, week_start, week_end,
--   candidates_new, candidates_standing, snapshot_cost_usd_upper_bound, used_again,
--   versions_still_used, report_problems, reservations, reservations_under_threshold,
--   reservations_ending_soon, reservations_status
-- Parameters (literal defaults; edit in place):
--   N = 90 days -> interval '90' day (window on report_date, inclusive)
select
    report_date,
    region,
    owner_account_id,
    week_start,
    week_end,
    candidates_new,
    candidates_standing,
    snapshot_cost_usd_upper_bound,
    used_again,
    versions_still_used,
    report_problems,
    reservations,
    reservations_under_threshold,
    reservations_ending_soon,
    reservations_status
from digests
where report_date >= cast(cast(current_date - interval '90' day as date) as varchar)
order by report_date desc, owner_account_id, region
