-- family_adoption.sql
-- Answers: how fast do consumers move from one AMI of a family to its successor?
-- One row per (report_date, region, family, AMI) with that AMI's usage and its share
-- of the whole family's usage on that day.
-- Family: the AMI's 'Family' tag if set, else its name with the trailing
--   version/date stripped ('app-2025.01.15' -> 'app'). Tag your AMIs with Family
--   for reliable grouping; the name rule is only a heuristic.
-- Columns: report_date, region, family, image_id, image_name, image_creation_date,
--   generation (1 = oldest AMI of the family seen in the window, by creation date),
--   total_usage, account_count, family_usage (sum over the family that day),
--   usage_share (total_usage / family_usage, null when the family has no usage).
-- Parameters (literal defaults; edit in place):
--   N   = 90 days  -> interval '90' day (window on report_date, inclusive; appears twice)
--   tag = 'Family' -> element_at(image.tags, 'Family')
--   To follow one family only, wrap the query: select * from (...) where family = 'app'.
-- Notes: an AMI's name and tags come from its latest archived description in the
--   window (image_info reads the same days as the usage, so partition projection
--   opens nothing older however long the history), so a deregistered AMI that is
--   still in use keeps its family: its reports from before its deregistration
--   described it. An AMI whose every report in the window was collected after its
--   deregistration (possible on the window's first days only) has no description
--   there and is left out. Only the latest available report per AMI and day is
--   counted.
with image_info as (
    select
        region,
        image_id,
        max_by(image, report_creation_time) as image
    from reports
    where image is not null
      and report_date >= cast(cast(current_date - interval '90' day as date) as varchar)
    group by region, image_id
),
families as (
    select
        region,
        image_id,
        coalesce(
            element_at(image.tags, 'Family'),
            regexp_replace(image.name, '[-_. ]*v?[0-9][-0-9._:TZ]*$', '')
        ) as family,
        image.name as image_name,
        image.creation_date as image_creation_date
    from image_info
),
daily as (
    select
        region,
        image_id,
        report_date,
        total_usage,
        account_count,
        row_number() over (
            partition by region, image_id, report_date
            order by report_creation_time desc, report_id desc
        ) as recency
    from reports
    where state = 'available'
      and report_date >= cast(cast(current_date - interval '90' day as date) as varchar)
)
select
    d.report_date as report_date,
    d.region as region,
    f.family as family,
    d.image_id as image_id,
    f.image_name as image_name,
    f.image_creation_date as image_creation_date,
    dense_rank() over (
        partition by d.region, f.family
        order by f.image_creation_date, d.image_id
    ) as generation,
    d.total_usage as total_usage,
    d.account_count as account_count,
    sum(d.total_usage) over (partition by d.region, f.family, d.report_date) as family_usage,
    round(
        cast(d.total_usage as double)
        / nullif(sum(d.total_usage) over (partition by d.region, f.family, d.report_date), 0),
        4
    ) as usage_share
from daily d
join families f
  on f.region = d.region
 and f.image_id = d.image_id
where d.recency = 1
order by region, family, report_date, generation
