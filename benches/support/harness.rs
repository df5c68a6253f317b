//! What the contention benches share around criterion: their `Criterion`
//! settings (each bench keeps its own values), the switch for the extras
//! they print after criterion, and the interleaved pass that times a group's
//! contenders round-robin (this 2-vCPU guest's speed drifts for seconds at a
//! time, so medians taken one contender after another mislead). Shared by
//! `benches/fan_out.rs`, `benches/wake.rs`, `benches/patterns.rs` and
//! `benches/err_group.rs`, included by each with `#[path]`; each bench
//! prints the medians in its own table.

// Each bench file uses only part of this file.
#![allow(dead_code)]

use std::time::Duration;

use criterion::Criterion;

/// The criterion settings of a bench.
pub fn config(sample_size: usize, warm_up: Duration, measurement: Duration) -> Criterion {
    Criterion::default()
        .sample_size(sample_size)
        .warm_up_time(warm_up)
        .measurement_time(measurement)
}

/// Whether to run the extras after criterion: only in `--bench` mode (not
/// when criterion only lists or tests the benches), and not when the
/// environment variable `var` is `0`.
pub fn extras_enabled(var: &str) -> bool {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|arg| arg == flag);
    has("--bench")
        && !has("--list")
        && !has("--test")
        && std::env::var(var).map_or(true, |v| v != "0")
}

/// Times the contenders of `list` round-robin: one warm-up call of
/// `warm_up` iterations each, then `rounds` rounds in which each contender
/// times one sample of `per_sample` iterations (the order rotated by one
/// every round). Returns each contender's median time per iteration, in
/// seconds times `unit` (`1e6` for µs, `1e9` for ns).
pub fn interleaved_medians<F: Fn(u64) -> Duration>(
    list: &[(&'static str, F)],
    warm_up: u64,
    rounds: usize,
    per_sample: u64,
    unit: f64,
) -> Vec<f64> {
    for (_, run) in list {
        run(warm_up);
    }
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); list.len()];
    for round in 0..rounds {
        for k in 0..list.len() {
            let at = (round + k) % list.len();
            let elapsed = (list[at].1)(per_sample);
            samples[at].push(elapsed.as_secs_f64() * unit / per_sample as f64);
        }
    }
    samples
        .iter_mut()
        .map(|s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}
