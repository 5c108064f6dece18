-- usage_by_account.sql
-- Answers: which consumer accounts still use which AMI, day by day? One row per
-- (report_date, region, AMI, consumer account) that had usage in that day's report.
-- An account that stopped using the AMI simply has no row from that day on.
-- Columns: report_date, region, image_id, image_name, account_id, instance_usage
--   (ec2:Instance count), launch_template_usage (ec2:LaunchTemplate count),
--   total_usage.
-- Parameters (literal defaults; edit in place):
--   N = 90 days -> interval '90' day (window on report_date, inclusive; appears twice)
-- Notes: when an AMI has several available reports on the same report_date (e.g. a
--   re-run of the create phase), only the latest one of that day is counted, so
--   usage is never double counted.
with latest_report_per_day as (
    select
        region,
        report_date,
        image_id,
        report_id,
        image,
        row_number() over (
            partition by region, image_id, report_date
            order by report_creation_time desc, report_id desc
        ) as recency
    from reports
    where state = 'available'
      and report_date >= cast(cast(current_date - interval '90' day as date) as varchar)
)
select
    r.report_date as report_date,
    r.region as region,
    r.image_id as image_id,
    r.image.name as image_name,
    e.account_id as account_id,
    sum(case when e.resource_type = 'ec2:Instance' then e.usage_count else 0 end) as instance_usage,
    sum(case when e.resource_type = 'ec2:LaunchTemplate' then e.usage_count else 0 end) as launch_template_usage,
    sum(e.usage_count) as total_usage
from latest_report_per_day r
join entries e
  on e.region = r.region
 and e.report_date = r.report_date
 and e.report_id = r.report_id
where r.recency = 1
  and e.report_date >= cast(cast(current_date - interval '90' day as date) as varchar)
group by r.report_date, r.region, r.image_id, r.image.name, e.account_id
order by region, image_id, account_id, report_date
