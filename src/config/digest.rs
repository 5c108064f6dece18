//! What is published and to whom: the weekly digest's settings (whether it asks Cost
//! Explorer about Reserved Instances, an opt-in since Cost Explorer charges per call;
//! the utilization below which a reservation is flagged; how long its lists run before
//! they are cut) and the routing tag.

use super::error::{ConfigError, err, integer, present, shown};
use super::raw::RawConfig;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DigestSettings {
    /// `DIGEST_RESERVATIONS=on`: the Reserved Instance part (Cost Explorer).
    pub reservations: bool,
    /// `RI_UTILIZATION_ALERT_PERCENT`: reservations used less are listed first.
    pub ri_utilization_alert_percent: u32,
    /// `DIGEST_LIST_LIMIT`: items per list before "… and N more".
    pub list_limit: usize,
}

impl Default for DigestSettings {
    fn default() -> Self {
        Self { reservations: false, ri_utilization_alert_percent: 80, list_limit: 20 }
    }
}

/// `off` or `on` (any case): a switch with a name that says what it switches.
fn on_off(var: &'static str, raw: &Option<String>, default: bool) -> Result<bool, ConfigError> {
    let Some(s) = present(raw) else {
        return Ok(default);
    };
    match s.to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(err(var, format!("{} is neither off nor on", shown(s)), "Set it to off or on, or unset it for off.")),
    }
}

impl RawConfig {
    pub(super) fn digest_settings(&self) -> Result<DigestSettings, ConfigError> {
        let d = DigestSettings::default();
        Ok(DigestSettings {
            reservations: on_off("DIGEST_RESERVATIONS", &self.notify.digest_reservations, d.reservations)?,
            ri_utilization_alert_percent: integer(
                "RI_UTILIZATION_ALERT_PERCENT",
                &self.notify.ri_utilization_alert_percent,
                d.ri_utilization_alert_percent,
                1,
                100,
            )?,
            list_limit: integer("DIGEST_LIST_LIMIT", &self.notify.digest_list_limit, d.list_limit, 1, 1000)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(f: impl FnOnce(&mut RawConfig)) -> Result<DigestSettings, String> {
        let mut raw = RawConfig::default();
        f(&mut raw);
        raw.validate().map(|c| c.digest).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_accepted_values() {
        assert_eq!(settings(|_| ()), Ok(DigestSettings::default()));
        let on = settings(|r| {
            r.notify.digest_reservations = Some("ON".into());
            r.notify.ri_utilization_alert_percent = Some("95".into());
            r.notify.digest_list_limit = Some("1000".into());
        });
        assert_eq!(on, Ok(DigestSettings { reservations: true, ri_utilization_alert_percent: 95, list_limit: 1000 }));
    }

    type Setter = fn(&mut RawConfig);

    #[test]
    fn every_refusal_names_the_variable_its_flag_and_the_fix() {
        let cases: [(Setter, &str); 5] = [
            (|r| r.notify.digest_reservations = Some("true".into()), "DIGEST_RESERVATIONS (--digest-reservations)"),
            (
                |r| r.notify.ri_utilization_alert_percent = Some("0".into()),
                "RI_UTILIZATION_ALERT_PERCENT (--ri-utilization-alert-percent)",
            ),
            (|r| r.notify.ri_utilization_alert_percent = Some("101".into()), "from 1 to 100"),
            (|r| r.notify.digest_list_limit = Some("1001".into()), "DIGEST_LIST_LIMIT (--digest-list-limit)"),
            (|r| r.notify.route_tag = Some("a".repeat(129)), "ROUTE_TAG (--route-tag)"),
        ];
        for (set, needle) in cases {
            let e = settings(set).unwrap_err();
            assert!(e.contains(needle), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
