-- report_problems.sql
-- Answers: which AMI usage reports failed? EC2 sometimes finishes a report in state
-- 'error' (state_reason says why); the reporter archives such reports too, with
-- zero entries, so that a gap in usage data is visible instead of looking like
-- "no usage".
-- Columns: report_date, region, report_id, image_id, image_name, state_reason,
--   report_creation_time, collected_at, errors_for_image (error reports of the same
--   AMI in the window; a high count means a persistent problem, not a blip).
-- Parameters (literal defaults; edit in place):
--   N = 30 days -> interval '30' day (window on report_date, inclusive)
select
    report_date,
    region,
    report_id,
    image_id,
    image.name as image_name,
    state_reason,
    report_creation_time,
    collected_at,
    count(*) over (partition by region, image_id) as errors_for_image
from reports
where state = 'error'
  and report_date >= cast(cast(current_date - interval '30' day as date) as varchar)
order by report_date desc, region, image_id, report_id
