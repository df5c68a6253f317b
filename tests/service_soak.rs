//! A TCP service soak, on tokio (multi-thread), smol and async-std: a server
//! on 127.0.0.1 whose connections are tasks of a `discard_values()` group
//! (never joined while it runs) serves many short connections (one request,
//! one reply) from a bounded client loop (32 clients at a time), with its
//! live heap flat; then it stops gracefully with requests in flight, and
//! every one of them either completes within the grace period or is reported
//! as dropped: none is lost silently.
//!
//! * **Flat**: the process's live bytes (the counting allocator's global
//!   counter, `tests/support/counting_alloc.rs`) once the first tenth of the
//!   connections is served and once all of them are, each read when every
//!   connection has ended and the figure has stopped falling, differ by at
//!   most [`FLAT_SLACK`].
//! * **Nothing lost**: eight requests are in flight when the stop begins,
//!   four that need little time and four that need far longer than the
//!   grace period. Requests sent = replies received + tasks the stop
//!   reports as overrun, and every client without a reply is one of those.
//!
//! The number of connections per runtime is `TASKGROUP_SOAK_CONNECTIONS`
//! (default [`DEFAULT_CONNECTIONS`]). This file is a test binary of its own
//! (nothing else allocates while it measures); the runtimes run one after
//! the other.
//!
//! Run: `cargo test --all-features --test service_soak -- --nocapture`.
#![cfg(not(loom))]

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::{select, Either};
use taskgroup::runtime::{AsyncStdRuntime, SmolRuntime, TokioRuntime};
use taskgroup::{CancellationToken, ErrGroup, Spawner};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/hang.rs"]
mod hang;
#[path = "support/net.rs"]
mod net;

use counting_alloc::settled_global_live_bytes;
use net::Net;

/// Connections per runtime unless `TASKGROUP_SOAK_CONNECTIONS` says.
const DEFAULT_CONNECTIONS: usize = 100_000;
/// Clients connected at a time.
const CLIENTS: usize = 32;
/// How much the live heap may grow between the first tenth of the
/// connections and the end: runtime tables and queues that settle late. It
/// does not grow with the number of connections.
const FLAT_SLACK: isize = 256 * 1024;
/// The grace period of the final stop.
const GRACE: Duration = Duration::from_secs(1);
/// Work asked for by the in-flight requests that fit in the grace period...
const QUICK_MS: u64 = 20;
/// ...and by the ones that do not.
const SLOW_MS: u64 = 120_000;
/// In-flight requests of each kind at the stop.
const EACH: usize = 4;

fn connections() -> usize {
    match std::env::var("TASKGROUP_SOAK_CONNECTIONS") {
        Ok(n) => n
            .parse()
            .expect("TASKGROUP_SOAK_CONNECTIONS is a number of connections"),
        Err(_) => DEFAULT_CONNECTIONS,
    }
}

/// The server: an accept loop in `main`, each connection a task of
/// `connections` (a discarding child group of `main`).
struct Server<R: Net> {
    main: ErrGroup<(), io::Error, R>,
    connections: ErrGroup<(), io::Error, R>,
    accepting: CancellationToken,
    /// Requests being worked on now.
    in_flight: Arc<AtomicUsize>,
    /// Replies written.
    replied: Arc<AtomicUsize>,
}

impl<R: Net> Server<R> {
    async fn start(rt: &R) -> (Self, SocketAddr) {
        let main = ErrGroup::<(), io::Error, R>::new(rt.clone());
        let connections = main
            .child_builder::<(), io::Error>()
            .discard_values()
            .keep_going()
            .build();
        let listener = R::bind(([127, 0, 0, 1], 0).into()).await.expect("bind");
        let addr = R::local_addr(&listener).expect("the bound address");
        let server = Self {
            main,
            connections,
            accepting: CancellationToken::new(),
            in_flight: Arc::default(),
            replied: Arc::default(),
        };
        let (spawner, stop) = (server.connections.spawner(), server.accepting.clone());
        let (rt, in_flight, replied) =
            (rt.clone(), server.in_flight.clone(), server.replied.clone());
        server
            .main
            .spawn(async move {
                loop {
                    let accept = std::pin::pin!(R::accept(&listener));
                    let stream = match select(accept, stop.cancelled()).await {
                        Either::Left((stream, _)) => stream?,
                        Either::Right(((), _)) => return Ok(()),
                    };
                    let conn = serve(
                        rt.clone(),
                        stream,
                        spawner.clone(),
                        in_flight.clone(),
                        replied.clone(),
                    );
                    if spawner.spawn(conn).is_err() {
                        return Ok(());
                    }
                }
            })
            .unwrap();
        (server, addr)
    }
}

/// One connection: one request (the milliseconds of work it asks for), one
/// reply (written in a shielded section), then the server hangs up.
async fn serve<R: Net>(
    rt: R,
    mut stream: R::Stream,
    group: Spawner<(), io::Error, R>,
    in_flight: Arc<AtomicUsize>,
    replied: Arc<AtomicUsize>,
) -> io::Result<()> {
    let mut request = [0; 8];
    R::read_exact(&mut stream, &mut request).await?;
    in_flight.fetch_add(1, Ordering::SeqCst);
    let work = u64::from_be_bytes(request);
    if work > 0 {
        rt.sleep(Duration::from_millis(work)).await;
    }
    in_flight.fetch_sub(1, Ordering::SeqCst);
    group.shield(R::write_all(&mut stream, &request)).await?;
    replied.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// One short connection: sends `work`, reads the reply.
async fn request<R: Net>(addr: SocketAddr, work: u64) -> io::Result<()> {
    let mut stream = R::connect(addr).await?;
    R::write_all(&mut stream, &work.to_be_bytes()).await?;
    let mut reply = [0; 8];
    R::read_exact(&mut stream, &mut reply).await?;
    assert_eq!(
        u64::from_be_bytes(reply),
        work,
        "the reply repeats the request"
    );
    Ok(())
}

/// [`CLIENTS`] clients, each taking the next connection number until
/// `next` reaches `until`.
async fn serve_until<R: Net>(rt: &R, addr: SocketAddr, next: &Arc<AtomicUsize>, until: usize) {
    let clients = ErrGroup::<(), io::Error, R>::new(rt.clone());
    for _ in 0..CLIENTS {
        let next = Arc::clone(next);
        clients
            .spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < until {
                    request::<R>(addr, 0).await?;
                }
                Ok(())
            })
            .unwrap();
    }
    clients
        .join()
        .await
        .expect("every short connection is served");
    next.store(until, Ordering::Relaxed);
}

/// Waits until no connection is open and the live bytes have stopped
/// falling; returns them.
async fn quiet_live_bytes<R: Net>(rt: &R, server: &Server<R>) -> isize {
    while !server.connections.is_empty() {
        rt.sleep(Duration::from_millis(1)).await;
    }
    settled_global_live_bytes(rt).await
}

/// What one runtime's soak measured.
#[derive(Debug)]
struct Soak {
    connections: usize,
    seconds: f64,
    growth: isize,
    sent: usize,
    completed: usize,
    reported: usize,
}

async fn soak<R: Net>(rt: R) -> Soak {
    let total = connections();
    let (server, addr) = Server::start(&rt).await;
    let began = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    serve_until(&rt, addr, &next, total / 10).await;
    let early = quiet_live_bytes(&rt, &server).await;
    serve_until(&rt, addr, &next, total).await;
    let seconds = began.elapsed().as_secs_f64();
    let end = quiet_live_bytes(&rt, &server).await;
    assert_eq!(server.replied.load(Ordering::SeqCst), total);

    // Requests in flight at the stop.
    let in_flight = ErrGroup::<(), io::Error, R>::builder(rt.clone())
        .keep_going()
        .build();
    for n in 0..2 * EACH {
        let work = if n < EACH { QUICK_MS } else { SLOW_MS };
        in_flight.spawn(request::<R>(addr, work)).unwrap();
    }
    while server.in_flight.load(Ordering::SeqCst) < 2 * EACH {
        rt.sleep(Duration::from_millis(1)).await;
    }
    server.accepting.cancel();
    let mut main = server.main;
    main.join_next()
        .await
        .expect("the accept loop")
        .expect("the accept loop ends cleanly");
    let report = server.connections.stop(GRACE).await;
    let clients = in_flight.join_all().await;
    let completed = clients.iter().filter(|c| c.is_ok()).count();
    let cut = clients.len() - completed;
    let failed = report.outcomes().iter().filter(|o| o.is_err()).count();
    assert_eq!(
        cut,
        report.overran().len(),
        "every client without a reply is a task the stop reports as overrun"
    );
    assert_eq!(failed, report.overran().len(), "no other connection failed");
    assert_eq!(
        server.replied.load(Ordering::SeqCst),
        total + completed,
        "every reply the server wrote reached its client"
    );
    Soak {
        connections: total,
        seconds,
        growth: end - early,
        sent: clients.len(),
        completed,
        reported: report.overran().len(),
    }
}

/// A runtime's name, and how to run [`soak`] on it.
type Contender = (&'static str, fn() -> Soak);

#[test]
fn tcp_service_heap_is_flat_and_a_graceful_stop_loses_no_request() {
    let runtimes: [Contender; 3] = [
        ("tokio multi-thread", || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(soak(TokioRuntime::from_handle(rt.handle().clone())))
        }),
        ("smol", || smol::block_on(soak(SmolRuntime::global()))),
        ("async-std", || {
            async_std::task::block_on(soak(AsyncStdRuntime))
        }),
    ];
    for (name, run) in runtimes {
        let soak = hang::finishes(name, run);
        eprintln!(
            "{name}: {} connections in {:.1} s ({:.0}/s), live heap {:+} B from the first tenth \
             to the end; stop with {} requests in flight: {} completed, {} reported as overrun",
            soak.connections,
            soak.seconds,
            soak.connections as f64 / soak.seconds,
            soak.growth,
            soak.sent,
            soak.completed,
            soak.reported,
        );
        assert_eq!(
            soak.sent,
            soak.completed + soak.reported,
            "{name}: a request was lost"
        );
        assert!(
            soak.growth <= FLAT_SLACK,
            "{name}: the live heap grew by {} B over {} connections",
            soak.growth,
            soak.connections * 9 / 10
        );
    }
}
