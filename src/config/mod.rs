//! Configuration: raw strings from the environment (the Lambda way) or CLI flags
//! (which override them), validated into a typed [`Config`] before any AWS call.
//!
//! Every error names the environment variable, its flag, what was wrong and what a
//! valid value looks like, because the person reading it is usually looking at a
//! Lambda console, not at this code.

mod digest;
mod error;
mod lists;
mod raw;
mod retire;
mod settings;
mod values;

pub use digest::DigestSettings;
pub use error::{ConfigError, check_env_is_utf8};
pub use lists::{parse_account_ids, parse_member_probes, parse_probe_owners, parse_resource_types, parse_tag_filters};
pub use raw::{RawConfig, RawNotifyConfig, RawRetire};
pub use settings::{Config, DEFAULT_PREFIX, Ec2Rates, Rate};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod props;
