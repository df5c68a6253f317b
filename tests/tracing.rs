//! Feature `tracing`: a span per group and per task (with the task's name),
//! events when a group is cancelled, a task fails or panics, and a waiter is
//! woken — on every runtime.
//!
//! One global `fmt` subscriber writes every line into a buffer; each test
//! runs under its own `test{rt=...}` span and looks only at its own lines.

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use taskgroup::runtime::{AsyncStdRuntime, Runtime, SmolRuntime, TokioRuntime};
use taskgroup::{ErrGroup, Latch, PanicPolicy, WaitGroup};
use tracing::Instrument;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The captured output, installed once for the whole binary.
fn output() -> &'static Buffer {
    static OUTPUT: OnceLock<Buffer> = OnceLock::new();
    OUTPUT.get_or_init(|| {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        buffer
    })
}

/// The captured lines of the test labelled `rt`.
fn lines_of(rt: &str) -> Vec<String> {
    let marker = format!("test{{rt=\"{rt}\"}}");
    let text = String::from_utf8(output().0.lock().unwrap().clone()).unwrap();
    text.lines()
        .filter(|line| line.contains(&marker))
        .map(str::to_owned)
        .collect()
}

fn assert_has(lines: &[String], parts: &[&str]) {
    assert!(
        lines
            .iter()
            .any(|line| parts.iter().all(|part| line.contains(part))),
        "no line contains all of {parts:?}; lines:\n{}",
        lines.join("\n")
    );
}

/// The scenario every runtime runs: a named task that logs, one that fails
/// (cancelling a parked sibling), a panicking task in a second group, and a
/// WaitGroup waiter that parks and is woken.
async fn scenario<R: Runtime>(rt: R) {
    let group = ErrGroup::<u32, &str, _>::new(rt.clone());
    let gate = Latch::new(1);
    group
        .spawn_named("logger", async {
            tracing::info!("hello from inside");
            Ok(1)
        })
        .unwrap();
    let waiting = gate.clone();
    group
        .spawn_named("doomed sibling", async move {
            waiting.wait().await;
            Ok(2)
        })
        .unwrap();
    group.spawn_named("failing", async { Err("boom") }).unwrap();
    assert!(group.join().await.is_err());

    let panicking = ErrGroup::<(), (), _>::builder(rt.clone())
        .panic_policy(PanicPolicy::Capture)
        .build();
    panicking
        .spawn_named("panicker", async { panic!("on purpose") })
        .unwrap();
    assert!(panicking.join().await.is_err());

    let wg = WaitGroup::new();
    let guard = wg.enter();
    let sleeper = rt.clone();
    rt.spawn(async move {
        sleeper.sleep(Duration::from_millis(20)).await;
        drop(guard);
    });
    wg.wait().await;
    gate.count_down();
}

fn check(
    rt: &str,
    block_on: impl FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>),
    run: impl Future<Output = ()> + Send + 'static,
) {
    output();
    let span = tracing::info_span!("test", rt);
    block_on(Box::pin(run.instrument(span)));
    let lines = lines_of(rt);
    assert_has(
        &lines,
        &["group:task{", "name=\"logger\"", "hello from inside"],
    );
    assert_has(&lines, &["group:", "task failed", "task=2"]);
    assert_has(&lines, &["group cancelled: a task failed"]);
    assert_has(&lines, &["task cancelled", "task=1"]);
    assert_has(&lines, &["WARN", "task panicked", "task=0"]);
    assert_has(&lines, &["count waiter woken"]);
    assert!(
        !lines.iter().any(|line| line.contains("task lost")),
        "nothing was lost: {lines:#?}"
    );
}

#[test]
fn tokio_current_thread() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rt = TokioRuntime::from_handle(runtime.handle().clone());
    check(
        "tokio_current_thread",
        |f| runtime.block_on(f),
        scenario(rt),
    );
}

#[test]
fn tokio_multi_thread() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rt = TokioRuntime::from_handle(runtime.handle().clone());
    check("tokio_multi_thread", |f| runtime.block_on(f), scenario(rt));
}

#[test]
fn smol() {
    check("smol", smol::block_on, scenario(SmolRuntime::global()));
}

#[test]
fn async_std() {
    check(
        "async_std",
        async_std::task::block_on,
        scenario(AsyncStdRuntime),
    );
}
