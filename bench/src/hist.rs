//! A small log-linear latency histogram (microseconds, about 0.1% precision).

/// Sub-buckets per power of two above 2,048 µs.
const SUB_BITS: u32 = 10;
const SUB: usize = 1 << SUB_BITS;
/// Values are clamped to this (about 4.6 hours).
const MAX_VALUE: u64 = 1 << 34;

/// Counts of values in log-linear buckets.
#[derive(Clone)]
pub struct Hist {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

fn index(v: u64) -> usize {
    let v = v.min(MAX_VALUE);
    if v < (2 * SUB) as u64 {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - SUB_BITS;
    let sub = (v >> shift) as usize; // in [SUB, 2 * SUB)
    shift as usize * SUB + sub
}

/// The middle of bucket `i`.
fn value(i: usize) -> u64 {
    if i < 2 * SUB {
        return i as u64;
    }
    let shift = (i / SUB - 1) as u32;
    let sub = (i % SUB + SUB) as u64;
    (sub << shift) + (1u64 << shift) / 2
}

impl Default for Hist {
    fn default() -> Self {
        Hist {
            counts: vec![0; index(MAX_VALUE) + 1],
            total: 0,
            max: 0,
        }
    }
}

impl Hist {
    pub fn record(&mut self, v: u64) {
        self.counts[index(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0..=1), or 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return value(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_precise() {
        let mut last = 0;
        for v in [
            0u64,
            1,
            2047,
            2048,
            2049,
            3000,
            65_535,
            1_000_000,
            250_000,
            10_000_000_000,
        ] {
            let i = index(v);
            let back = value(i);
            let err = back.abs_diff(v) as f64 / (v.max(1)) as f64;
            assert!(err < 0.002, "{v} -> {i} -> {back}");
            if v >= last {
                last = v;
            }
        }
        assert!(index(4096) > index(4095));
    }

    #[test]
    fn quantiles() {
        let mut h = Hist::default();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let p99 = h.quantile(0.99);
        assert!((985_000..=995_000).contains(&p99), "{p99}");
        assert_eq!(h.total, 1000);
        assert_eq!(h.max(), 1_000_000);
        assert_eq!(Hist::default().quantile(0.99), 0);
    }
}
