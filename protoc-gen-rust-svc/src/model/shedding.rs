//! Validation of options.proto's `load_shedding`: the service's limits checked against one
//! another and the runtime's defaults, and a method's limited to turning it off.

use super::LoadShedding;
use super::policy::duration;
use crate::options;

/// The runtime's defaults, which a `LoadShedding` with some fields unset is checked against.
const DEFAULT_INITIAL_LIMIT: u32 = 20;
const DEFAULT_MIN_LIMIT: u32 = 4;
const DEFAULT_MAX_LIMIT: u32 = 1000;

pub(super) fn validate_shedding(shedding: &options::LoadShedding) -> Result<LoadShedding, String> {
    let set = |value: u32| (value != 0).then_some(value);
    let validated = LoadShedding {
        disabled: shedding.disabled,
        initial_limit: set(shedding.initial_limit),
        min_limit: set(shedding.min_limit),
        max_limit: set(shedding.max_limit),
        tolerance: (shedding.tolerance != 0.0).then_some(shedding.tolerance),
        max_queue_wait: shedding
            .max_queue_wait
            .as_ref()
            .map(|wait| duration(wait, "load_shedding.max_queue_wait"))
            .transpose()?,
    };
    let min = validated.min_limit.unwrap_or(DEFAULT_MIN_LIMIT);
    let max = validated.max_limit.unwrap_or(DEFAULT_MAX_LIMIT);
    let initial = validated.initial_limit.unwrap_or(DEFAULT_INITIAL_LIMIT);
    if max > 100_000 {
        return Err(format!(
            "load_shedding.max_limit is {max}; it must be at most 100000"
        ));
    }
    if min > max {
        return Err(format!(
            "load_shedding.min_limit ({min}) is above max_limit ({max})"
        ));
    }
    if !(min..=max).contains(&initial) {
        return Err(format!(
            "load_shedding.initial_limit ({initial}) must lie within min_limit..=max_limit \
             ({min}..={max})"
        ));
    }
    if let Some(tolerance) = validated.tolerance
        && !(tolerance >= 1.0 && tolerance.is_finite())
    {
        return Err(format!(
            "load_shedding.tolerance is {tolerance}; it must be at least 1.0 (the latency \
             allowed, as a multiple of the long-run latency)"
        ));
    }
    Ok(validated)
}

/// A method's `load_shedding` may only turn the service's off for the method.
pub(super) fn validate_method_shedding(
    shedding: &options::LoadShedding,
) -> Result<LoadShedding, String> {
    let only_disabled = options::LoadShedding {
        disabled: shedding.disabled,
        ..Default::default()
    };
    if *shedding != only_disabled {
        return Err(
            "load_shedding on a method may only set `disabled`; the limit is the service's \
             (set it in `option (rust_svc.v1.service)`)"
                .to_owned(),
        );
    }
    Ok(LoadShedding {
        disabled: shedding.disabled,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shedding(initial: u32, min: u32, max: u32) -> options::LoadShedding {
        options::LoadShedding {
            initial_limit: initial,
            min_limit: min,
            max_limit: max,
            ..Default::default()
        }
    }

    #[test]
    fn limits_are_checked_against_each_other_and_the_defaults() {
        let valid = validate_shedding(&shedding(0, 0, 0)).unwrap();
        assert_eq!(valid, LoadShedding::default(), "unset fields stay unset");
        let valid = validate_shedding(&shedding(50, 10, 200)).unwrap();
        assert_eq!(
            (valid.initial_limit, valid.min_limit, valid.max_limit),
            (Some(50), Some(10), Some(200))
        );
        let errors = [
            (shedding(0, 0, 10), "initial_limit (20) must lie within"),
            (shedding(0, 30, 0), "initial_limit (20) must lie within"),
            (
                shedding(0, 50, 40),
                "min_limit (50) is above max_limit (40)",
            ),
            (shedding(0, 0, 200_000), "at most 100000"),
        ];
        for (bad, message) in errors {
            let error = validate_shedding(&bad).unwrap_err();
            assert!(error.contains(message), "{error}");
        }
        let low_tolerance = options::LoadShedding {
            tolerance: 0.5,
            ..Default::default()
        };
        assert!(
            validate_shedding(&low_tolerance)
                .unwrap_err()
                .contains("at least 1.0")
        );
        let zero_wait = options::LoadShedding {
            max_queue_wait: Some(prost_types::Duration::default()),
            ..Default::default()
        };
        assert!(
            validate_shedding(&zero_wait)
                .unwrap_err()
                .contains("max_queue_wait must be greater than zero")
        );
    }

    #[test]
    fn a_method_may_only_turn_shedding_off() {
        let off = options::LoadShedding {
            disabled: true,
            ..Default::default()
        };
        assert!(validate_method_shedding(&off).unwrap().disabled);
        let error = validate_method_shedding(&shedding(0, 0, 10)).unwrap_err();
        assert!(error.contains("may only set `disabled`"), "{error}");
    }
}
