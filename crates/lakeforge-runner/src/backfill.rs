//! The dates of a backfill (`lakeforge backfill --start D1 --end D2 --step S`): from the first
//! to the last inclusive, every step of days, weeks or months. The CLI runs the selection once
//! per date, each a normal recorded run.

use chrono::{Days, Months, NaiveDate};

/// The distance between two dates of a backfill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Days(u32),
    Months(u32),
}

/// A `--step` that is not a positive number and a unit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("`{0}` is not a step: a positive number and a unit, such as 1d, 7d, 1w or 1mo")]
    NotAStep(String),
    #[error(
        "`{text}`: unknown unit `{unit}`; use d (days), w (weeks) or mo (months), e.g. 1d, 1w, 1mo"
    )]
    UnknownUnit { text: String, unit: String },
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Days(d) if d % 7 == 0 => write!(f, "{}w", d / 7),
            Step::Days(d) => write!(f, "{d}d"),
            Step::Months(m) => write!(f, "{m}mo"),
        }
    }
}

impl std::str::FromStr for Step {
    type Err = StepError;

    /// `1d`, `7d`, `2w`, `1mo` (and the long unit names `days`, `weeks`, `months`).
    fn from_str(s: &str) -> Result<Step, StepError> {
        let s = s.trim();
        let digits = s.chars().take_while(|c| c.is_ascii_digit()).count();
        let (n, unit) = s.split_at(digits);
        let n: u32 = n
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| StepError::NotAStep(s.into()))?;
        match unit {
            "d" | "day" | "days" => Ok(Step::Days(n)),
            "w" | "week" | "weeks" => Ok(Step::Days(n * 7)),
            "mo" | "month" | "months" => Ok(Step::Months(n)),
            _ => Err(StepError::UnknownUnit {
                text: s.into(),
                unit: unit.into(),
            }),
        }
    }
}

impl Step {
    /// The `k`th date from `start` (counted from the start, so that monthly steps from the
    /// 31st land on each month's last day rather than drift).
    fn nth(self, start: NaiveDate, k: u32) -> Option<NaiveDate> {
        match self {
            Step::Days(n) => start.checked_add_days(Days::new(u64::from(n) * u64::from(k))),
            Step::Months(n) => start.checked_add_months(Months::new(n.checked_mul(k)?)),
        }
    }
}

/// The dates from `start` to `end` inclusive, every `step`.
pub fn dates(start: NaiveDate, end: NaiveDate, step: Step) -> Vec<NaiveDate> {
    (0..)
        .map_while(|k| step.nth(start, k).filter(|day| *day <= end))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn dates_steps_and_errors() {
        assert_eq!(
            dates(d("2024-01-30"), d("2024-02-02"), Step::Days(1)),
            vec![
                d("2024-01-30"),
                d("2024-01-31"),
                d("2024-02-01"),
                d("2024-02-02")
            ]
        );
        assert_eq!(
            dates(d("2024-01-01"), d("2024-01-20"), "1w".parse().unwrap()),
            vec![d("2024-01-01"), d("2024-01-08"), d("2024-01-15")]
        );
        assert_eq!(
            dates(d("2024-01-31"), d("2024-04-30"), "1mo".parse().unwrap()),
            vec![
                d("2024-01-31"),
                d("2024-02-29"),
                d("2024-03-31"),
                d("2024-04-30")
            ]
        );
        assert_eq!(
            dates(d("2024-01-01"), d("2024-01-01"), Step::Days(1)).len(),
            1
        );
        assert!("0d".parse::<Step>().is_err());
        let unknown = "1h".parse::<Step>().unwrap_err().to_string();
        assert!(unknown.contains("unknown unit `h`"), "{unknown}");
        assert_eq!("14d".parse::<Step>().unwrap().to_string(), "2w");
    }
}
