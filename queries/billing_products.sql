-- billing_products.sql
-- Answers: which AMIs carry billing products or product codes? Such an AMI must
-- not be deregistered blindly: an AMI re-registered from its snapshots loses its
-- billing products and product codes (licensed OS, AWS Marketplace), so the
-- original cannot be rebuilt once it is gone.
-- Columns: region, image_id, image_name, platform_details, usage_operation,
--   billing_products, product_codes (as archived), billing_product_count,
--   product_code_count, latest_report_date, latest_report_state, latest_total_usage.
--   DescribeImages never returns RegisterImage's billing product codes (bp-...), so
--   billing_products holds their visible trace: the AMI's usage operation when it is
--   not plain 'RunInstances' (e.g. 'RunInstances:0010' = Red Hat Enterprise Linux).
-- Uses each AMI's latest report in the window; an AMI that no longer exists at its
--   latest collection (image is null) is left out.
-- Parameters (literal defaults; edit in place):
--   N = 30 days -> interval '30' day (window on report_date, inclusive)
with latest as (
    select
        region,
        image_id,
        report_date,
        state,
        total_usage,
        image,
        row_number() over (
            partition by region, image_id
            order by report_creation_time desc, report_id desc
        ) as recency
    from reports
    where report_date >= cast(cast(current_date - interval '30' day as date) as varchar)
)
select
    region,
    image_id,
    image.name as image_name,
    image.platform_details as platform_details,
    image.usage_operation as usage_operation,
    image.billing_products as billing_products,
    image.product_codes as product_codes,
    cardinality(image.billing_products) as billing_product_count,
    cardinality(image.product_codes) as product_code_count,
    report_date as latest_report_date,
    state as latest_report_state,
    total_usage as latest_total_usage
from latest
where recency = 1
  and image is not null
  and (cardinality(image.billing_products) > 0 or cardinality(image.product_codes) > 0)
order by region, image_id
