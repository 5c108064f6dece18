//! The weekly digest (a **contract**: the Glue table `digests` and people read it): the
//! week's candidates, AMIs used again, family versions still in use, report problems and
//! Reserved Instance utilization, computed from the archive alone, split per team with
//! `ROUTE_TAG`, and rendered for e-mail and Slack.

mod chat;
mod compute;
mod lines;
mod model;
mod numbers;
mod page;
mod render;
mod ri;
mod teams;

pub use compute::{
    DigestContext, DigestInput, WEEK_DAYS, digest, digest_object, partition_days, progress_object, ri_object, week,
};
pub use lines::DigestRenderContext;
pub use model::{DigestCandidate, DigestCounts, DigestProblem, DigestRow, DigestUsedAgain, FamilyVersion};
pub use page::Page;
pub use render::{render, render_page, subject};
pub use ri::{
    CeGroup, MAX_COST_EXPLORER_CALLS, PeriodRange, ReservationsPart, RiContext, RiPeriod, RiRow, RiTotals,
    is_no_ri_access, ri_periods, ri_rows,
};
pub use teams::{DigestProgress, TeamNumbers, TeamSplit, groups_of, split};
