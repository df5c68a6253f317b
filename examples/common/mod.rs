//! Helpers shared by the examples: the command line, the runtime choice, a
//! seeded random number generator, a time-out, and table printing. None of it
//! is part of `taskgroup`; it only keeps the examples about the crate.
//!
//! Each example includes this file with `mod common;` (cargo does not build
//! `examples/common/mod.rs` as an example of its own).

// Every example compiles this whole module but uses only part of it
// (`latch_callbacks` picks no runtime and races no time-out, only some
// examples draw random numbers): what one example leaves unused is not dead.
#![allow(dead_code)]

use std::fmt::Display;
use std::future::Future;
use std::pin::pin;
use std::process;
use std::str::FromStr;
use std::time::Duration;

use futures::future::{select, Either};
use taskgroup::runtime::Runtime;

// ---------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------

/// What parsing the command line decided.
pub enum Command<A> {
    Run(A),
    Help,
}

/// One `--flag value` (or `--flag=value`) from the command line.
pub struct Flag {
    name: String,
    value: String,
}

impl Flag {
    /// The flag, as written: `--seed`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value, as written.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The error for a value that is not `what` the flag expects.
    pub fn bad(&self, what: &str) -> String {
        format!("`{}`: expected {what}, got `{}`", self.name, self.value)
    }

    /// The value parsed as a `T`, or an error that it is not `what`.
    pub fn parse<T: FromStr>(&self, what: &str) -> Result<T, String> {
        self.value.parse().map_err(|_| self.bad(what))
    }

    /// The value parsed as a `T` that passes `ok`, or an error that it is not
    /// `what`.
    pub fn parse_if<T: FromStr>(
        &self,
        ok: impl FnOnce(&T) -> bool,
        what: &str,
    ) -> Result<T, String> {
        self.value
            .parse()
            .ok()
            .filter(ok)
            .ok_or_else(|| self.bad(what))
    }

    /// The value as a runtime: `tokio`, `smol` or `async-std`.
    pub fn runtime(&self) -> Result<RuntimeKind, String> {
        match self.value.as_str() {
            "tokio" => Ok(RuntimeKind::Tokio),
            "smol" => Ok(RuntimeKind::Smol),
            "async-std" | "async_std" => Ok(RuntimeKind::AsyncStd),
            _ => Err(self.bad("tokio, smol or async-std")),
        }
    }
}

/// Parses `--flag value` and `--flag=value`, every flag in `flags` taking a
/// value, and `-h` / `--help`. Each flag goes to `set`, to be stored into
/// `args` (which starts as the defaults).
pub fn parse_flags<A>(
    mut argv: impl Iterator<Item = String>,
    mut args: A,
    flags: &[&str],
    mut set: impl FnMut(&mut A, &Flag) -> Result<(), String>,
) -> Result<Command<A>, String> {
    while let Some(arg) = argv.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        if !name.starts_with('-') {
            return Err(format!("unexpected argument `{name}`"));
        }
        if !flags.contains(&name.as_str()) {
            return Err(format!("unknown option `{name}`"));
        }
        let Some(value) = inline.or_else(|| argv.next()) else {
            return Err(format!("`{name}` needs a value"));
        };
        set(&mut args, &Flag { name, value })?;
    }
    Ok(Command::Run(args))
}

/// Parses this program's arguments with `parse`. On `--help` prints `usage`
/// and exits (status 0); on a bad command line says what is wrong and exits
/// with status 2. (Called first thing in `main`: nothing is running yet that
/// exiting could cut short.)
pub fn args_or_exit<A>(
    usage: &str,
    parse: impl FnOnce(std::iter::Skip<std::env::Args>) -> Result<Command<A>, String>,
) -> A {
    match parse(std::env::args().skip(1)) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            println!("{usage}");
            process::exit(0);
        }
        Err(message) => {
            eprintln!("error: {message}\n(run with --help for the options)");
            process::exit(2);
        }
    }
}

// ---------------------------------------------------------------------------
// The runtime
// ---------------------------------------------------------------------------

/// Which executor drives an example's `run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeKind {
    Tokio,
    Smol,
    AsyncStd,
}

impl RuntimeKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Tokio => "tokio",
            Self::Smol => "smol",
            Self::AsyncStd => "async-std",
        }
    }
}

/// `block_on!(kind, |rt| run(rt, args))`: builds the runtime `kind` names,
/// and runs the future `run(rt, args)` to completion in its `block_on`, with
/// `rt` its [`Runtime`] handle; gives back what the future returns.
///
/// A macro, not a function: the body is generic over the runtime, and it is
/// instantiated once per runtime. (And `latch_callbacks`, which is built
/// without the runtime features, never expands it: hence the `allow`s.)
#[allow(unused_macros)]
macro_rules! block_on {
    ($kind:expr, |$rt:ident| $body:expr) => {
        match $kind {
            $crate::common::RuntimeKind::Tokio => {
                let tokio = ::tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .expect("failed to build the tokio runtime");
                // `current()` must be called inside the runtime, so inside
                // `block_on`.
                tokio.block_on(async {
                    let $rt = ::taskgroup::runtime::TokioRuntime::current();
                    $body.await
                })
            }
            $crate::common::RuntimeKind::Smol => {
                let $rt = ::taskgroup::runtime::SmolRuntime::global();
                ::smol::block_on($body)
            }
            $crate::common::RuntimeKind::AsyncStd => {
                let $rt = ::taskgroup::runtime::AsyncStdRuntime;
                ::async_std::task::block_on($body)
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use block_on;

/// Runs `future` for at most `limit`, using the runtime's own timer.
/// `None` means the time-out won; `future` is dropped unfinished.
pub async fn timeout<R: Runtime, F: Future>(
    rt: &R,
    limit: Duration,
    future: F,
) -> Option<F::Output> {
    match select(pin!(future), pin!(rt.sleep(limit))).await {
        Either::Left((output, _sleep)) => Some(output),
        Either::Right(((), _unfinished)) => None,
    }
}

// ---------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------

/// A tiny seeded xorshift64 generator: enough to vary the simulation, not
/// for anything that matters.
pub struct XorShift64(u64);

impl XorShift64 {
    pub fn new(seed: u64) -> Self {
        // Xorshift gets stuck at zero, and nearby seeds give nearby first
        // outputs: scramble the seed once with splitmix64 first.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Self(if z == 0 { 1 } else { z })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> u128 {
    d.as_millis()
}

// ---------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------

/// How a column lines its cells up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A text table: a title line, a rule of dashes, then the rows. Every column
/// but the last is padded to its width; the last is left as it is (no
/// trailing blanks), with a rule `last_rule` dashes long.
pub struct Table {
    columns: Vec<(&'static str, Align, usize)>,
    last: &'static str,
    last_rule: usize,
    separator: (&'static str, &'static str),
    fit: bool,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns of fixed widths, `(title, align, width)`, two blanks apart;
    /// a longer cell pushes the rest of its own row right.
    pub fn new(
        columns: &[(&'static str, Align, usize)],
        last: &'static str,
        last_rule: usize,
    ) -> Self {
        Self {
            columns: columns.to_vec(),
            last,
            last_rule,
            separator: ("  ", "  "),
            fit: false,
            rows: Vec::new(),
        }
    }

    /// Columns as wide as their widest cell (or title), ` | ` apart.
    pub fn fitted(columns: &[(&'static str, Align)], last: &'static str, last_rule: usize) -> Self {
        Self {
            columns: columns
                .iter()
                .map(|&(title, align)| (title, align, 0))
                .collect(),
            last,
            last_rule,
            separator: (" | ", "-+-"),
            fit: true,
            rows: Vec::new(),
        }
    }

    /// Adds a row: one cell per column, the last column's included.
    pub fn row(&mut self, cells: &[&dyn Display]) {
        assert_eq!(cells.len(), self.columns.len() + 1, "one cell per column");
        self.rows
            .push(cells.iter().map(ToString::to_string).collect());
    }

    /// Prints the title line, the rule and the rows.
    pub fn print(&self) {
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, &(title, _, width))| {
                let cells = self.rows.iter().map(|row| row[i].chars().count());
                let widest = if self.fit {
                    cells.max().unwrap_or(0)
                } else {
                    0
                };
                width.max(widest).max(title.chars().count())
            })
            .collect();
        let line = |cells: &[String], last: &str| {
            let mut line = String::new();
            for ((cell, &(_, align, _)), &width) in cells.iter().zip(&self.columns).zip(&widths) {
                match align {
                    Align::Left => line += &format!("{cell:<width$}"),
                    Align::Right => line += &format!("{cell:>width$}"),
                }
                line += self.separator.0;
            }
            line + last
        };
        let titles: Vec<String> = self.columns.iter().map(|c| c.0.to_owned()).collect();
        println!("{}", line(&titles, self.last));
        let mut rule = String::new();
        for &width in &widths {
            rule += &"-".repeat(width);
            rule += self.separator.1;
        }
        println!("{rule}{}", "-".repeat(self.last_rule));
        for row in &self.rows {
            println!(
                "{}",
                line(&row[..self.columns.len()], &row[self.columns.len()])
            );
        }
    }
}
