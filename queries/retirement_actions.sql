-- retirement_actions.sql
-- Answers: what did the retirement pipeline do this month? Every decision and action
-- of the staged retirement (RETIRE_MODE dry-run or enforce): deprecate, disable,
-- deregister, the undos (cancel_deprecation, enable) and the holds (why it waited),
-- with the exact AWS CLI command that undoes each one. Dry-run rows say 'would'.
-- Columns: action_time, region, owner_account_id, image_id, image_name, mode, action,
--   outcome, stage_before, stage_after, reason, detail, recycle_bin_rule,
--   undo_command, actions_for_image (rows of the same AMI this month: an AMI that
--   goes back and forth between use and retirement shows a high count).
-- Parameters (literal defaults; edit in place):
--   the month -> date_trunc('month', current_date) (UTC; report_date is the run's date)
select
    action_time,
    region,
    owner_account_id,
    image_id,
    image_name,
    mode,
    action,
    outcome,
    stage_before,
    stage_after,
    reason,
    detail,
    recycle_bin_rule,
    undo_command,
    count(*) over (partition by owner_account_id, region, image_id) as actions_for_image
from actions
where report_date >= cast(cast(date_trunc('month', current_date) as date) as varchar)
order by action_time desc, region, image_id, action
