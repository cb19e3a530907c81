//! A figure measured R times: its median, and the spread a reader should distrust it by.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// (max - min) / median: how far apart the runs were, relative to what is quoted.
    pub spread: f64,
    /// Every run, in the order measured.
    pub runs: Vec<f64>,
}

impl Stat {
    /// `None` for no runs: a figure nobody measured has no median.
    pub fn of(runs: Vec<f64>) -> Option<Stat> {
        if runs.is_empty() {
            return None;
        }
        let mut sorted = runs.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        let (min, max) = (sorted[0], sorted[n - 1]);
        let spread = if median == 0.0 {
            0.0
        } else {
            (max - min) / median
        };
        Some(Stat {
            median,
            min,
            max,
            spread,
            runs,
        })
    }
}

/// `value / baseline`, or `None` when the baseline is zero or missing.
pub fn ratio(value: Option<&Stat>, baseline: Option<&Stat>) -> Option<f64> {
    match (value, baseline) {
        (Some(v), Some(b)) if b.median > 0.0 => Some(v.median / b.median),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let s = Stat::of(vec![3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(s.runs, vec![3.0, 1.0, 2.0]);
        let s = Stat::of(vec![4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert_eq!(s.spread, 3.0 / 2.5);
        assert!(Stat::of(vec![]).is_none());
    }

    #[test]
    fn ratio_needs_a_nonzero_baseline() {
        let a = Stat::of(vec![5.0]).unwrap();
        let b = Stat::of(vec![10.0]).unwrap();
        let zero = Stat::of(vec![0.0]).unwrap();
        assert_eq!(ratio(Some(&a), Some(&b)), Some(0.5));
        assert_eq!(ratio(Some(&a), Some(&zero)), None);
        assert_eq!(ratio(None, Some(&b)), None);
    }
}
