//! A TCP service with the Go lifecycle — `Start`, `Wait`, `Close(deadline)`
//! — on any runtime, with a graceful drain.
//!
//! * **Start** binds a listener on `127.0.0.1:0` inside the service's task
//!   and returns only once it is bound, with the bound address (the
//!   handshake, [`ErrGroup::start`]), or with the error that stopped it.
//!   The task then runs the accept loop.
//! * Each connection is a task of a child group built with
//!   `discard_values().keep_going()`: the group keeps nothing for a
//!   connection that ended well (its memory is bounded by the open
//!   connections, however long the service runs), and one failed connection
//!   does not stop the others. Replies are written in a shielded section
//!   ([`ErrGroup::shield`]), so a stop never cuts one halfway.
//! * **Wait** returns when the accept loop has ended (after `Close`, or on an
//!   accept error).
//! * **Close(deadline)** stops accepting, then stops the connection group
//!   with a grace period of `deadline` ([`ErrGroup::stop`]): connections see
//!   the stop through the group's token, idle ones hang up at once, a request
//!   in flight finishes if it can; the ones still running when the grace
//!   period ends are dropped, and the stop reports them.
//!
//! `main` drives real clients against it: a few quick ones, then one request
//! that finishes within the grace period and one deliberately slow one that
//! overruns it; it closes the service while both are in flight and prints
//! the stop's report. It finishes by itself in well under a second.
//!
//! The protocol: a request is 8 bytes, the milliseconds of work it asks for
//! (big-endian); the reply repeats them once the work is done.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example service_lifecycle --all-features
//! cargo run --example service_lifecycle --all-features -- --runtime smol
//! cargo run --example service_lifecycle --all-features -- --runtime async-std --deadline-ms 200
//! ```

mod common;
#[path = "../tests/support/net.rs"]
mod net;

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{ms, timeout, Command};
use futures::future::{select, Either};
use net::Net;
use taskgroup::{CancellationToken, ErrGroup, GroupError, Spawner, StartError, StopReport};

const USAGE: &str = "\
A TCP service with a Start / Wait / Close(deadline) lifecycle: connections are
tasks of a discarding ErrGroup, and Close stops them with a grace period.

Usage: cargo run --example service_lifecycle --all-features -- [OPTIONS]

Options:
  --runtime NAME     tokio | smol | async-std                   (default: tokio)
  --deadline-ms MS   the grace period Close gives the requests in
                     flight, 150 to 2000                        (default: 300)
  -h, --help         print this help";

/// The request in flight at `Close` that finishes within the grace period.
const QUICK_MS: u64 = 50;
/// The request in flight at `Close` that overruns it.
const SLOW_MS: u64 = 60_000;

struct Args {
    runtime: common::RuntimeKind,
    deadline: Duration,
}

fn parse_args(argv: impl Iterator<Item = String>) -> Result<Command<Args>, String> {
    let defaults = Args {
        runtime: common::RuntimeKind::Tokio,
        deadline: Duration::from_millis(300),
    };
    common::parse_flags(
        argv,
        defaults,
        &["--runtime", "--deadline-ms"],
        |args, flag| {
            match flag.name() {
                "--runtime" => args.runtime = flag.runtime()?,
                _ => {
                    let ms: u64 = flag.parse("a number of milliseconds")?;
                    if !(150..=2000).contains(&ms) {
                        return Err(flag.bad("150 to 2000 milliseconds"));
                    }
                    args.deadline = Duration::from_millis(ms);
                }
            }
            Ok(())
        },
    )
}

/// The running service.
struct Service<R: Net> {
    /// The accept loop.
    main: ErrGroup<(), io::Error, R>,
    /// The connections: a child of `main`, values discarded.
    connections: ErrGroup<(), io::Error, R>,
    /// Cancelled by `close`: the accept loop ends.
    accepting: CancellationToken,
    /// Requests being worked on now.
    in_flight: Arc<AtomicUsize>,
}

impl<R: Net> Service<R> {
    /// Binds a listener on `127.0.0.1:0` and starts accepting; returns once
    /// the listener is bound, with its address ([`ErrGroup::start`]: the
    /// task runs here until it reports ready, then goes on in the group), or
    /// with the error that stopped it first.
    async fn start(rt: R) -> Result<(Self, SocketAddr), StartError<io::Error>> {
        let main = ErrGroup::<(), io::Error, R>::new(rt.clone());
        let connections = main
            .child_builder::<(), io::Error>()
            .discard_values()
            .keep_going()
            .build();
        let accepting = CancellationToken::new();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let (spawner, stop, counter) =
            (connections.spawner(), accepting.clone(), in_flight.clone());
        let (_, addr) = main
            .start(|ready| async move {
                let listener = R::bind(([127, 0, 0, 1], 0).into()).await?;
                ready.ready(R::local_addr(&listener)?);
                accept_loop(&rt, &listener, &spawner, &stop, &counter).await
            })
            .await?;
        let service = Self {
            main,
            connections,
            accepting,
            in_flight,
        };
        Ok((service, addr))
    }

    /// Waits until the accept loop has ended: `Ok` after `close`, or the
    /// error that ended it.
    async fn wait(&mut self) -> Result<(), GroupError<io::Error>> {
        self.main.join_next().await.unwrap_or(Ok(()))
    }

    /// Stops accepting, then stops the connections with a grace period of
    /// `deadline`, and reports what became of them.
    async fn close(mut self, deadline: Duration) -> StopReport<(), io::Error> {
        self.accepting.cancel();
        if let Err(error) = self.wait().await {
            println!("the accept loop failed: {error}");
        }
        let report = self.connections.stop(deadline).await;
        // Nothing is left in the main group; a bounded stop all the same.
        let _ = self.main.stop(deadline).await;
        report
    }
}

/// Accepts connections until `stop` is cancelled, each a task of the
/// connection group.
async fn accept_loop<R: Net>(
    rt: &R,
    listener: &R::Listener,
    connections: &Spawner<(), io::Error, R>,
    stop: &CancellationToken,
    in_flight: &Arc<AtomicUsize>,
) -> io::Result<()> {
    loop {
        let stream = match select(std::pin::pin!(R::accept(listener)), stop.cancelled()).await {
            Either::Left((stream, _)) => stream?,
            Either::Right(((), _)) => return Ok(()),
        };
        let conn = serve(
            rt.clone(),
            stream,
            connections.clone(),
            Arc::clone(in_flight),
        );
        if connections.spawn_named("connection", conn).is_err() {
            return Ok(()); // the connection group is stopping
        }
    }
}

/// Serves one connection: requests one after the other, until the client
/// hangs up or the group is stopped while the connection is idle.
async fn serve<R: Net>(
    rt: R,
    mut stream: R::Stream,
    group: Spawner<(), io::Error, R>,
    in_flight: Arc<AtomicUsize>,
) -> io::Result<()> {
    let stop = group.cancellation_token();
    loop {
        let mut request = [0; 8];
        let read = R::read_exact(&mut stream, &mut request);
        match select(std::pin::pin!(read), stop.cancelled()).await {
            Either::Left((Ok(()), _)) => {}
            Either::Left((Err(e), _)) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Either::Left((Err(e), _)) => return Err(e),
            Either::Right(((), _)) => return Ok(()), // idle at the stop: hang up
        }
        in_flight.fetch_add(1, Ordering::SeqCst);
        // The work: not cut by the stop's request, only by the grace end.
        rt.sleep(Duration::from_millis(u64::from_be_bytes(request)))
            .await;
        in_flight.fetch_sub(1, Ordering::SeqCst);
        // A reply is never cut halfway.
        group.shield(R::write_all(&mut stream, &request)).await?;
    }
}

/// A client: sends one request per entry of `work` (milliseconds), reads
/// each reply.
async fn client<R: Net>(addr: SocketAddr, work: &[u64]) -> io::Result<()> {
    let mut stream = R::connect(addr).await?;
    for &ms in work {
        R::write_all(&mut stream, &ms.to_be_bytes()).await?;
        let mut reply = [0; 8];
        R::read_exact(&mut stream, &mut reply).await?;
        assert_eq!(
            u64::from_be_bytes(reply),
            ms,
            "the reply repeats the request"
        );
    }
    Ok(())
}

async fn run<R: Net>(rt: R, args: Args) -> bool {
    // Start.
    let (service, addr) = match Service::start(rt.clone()).await {
        Ok(started) => started,
        Err(error) => {
            println!("the service did not start: {error}");
            return false;
        }
    };
    println!("started: listening on {addr} ({})", args.runtime.name());

    // A few quick clients, each served to the end.
    let clients = ErrGroup::<(), io::Error, R>::new(rt.clone());
    for _ in 0..3 {
        clients.spawn(client::<R>(addr, &[5, 5])).unwrap();
    }
    let quick = timeout(&rt, Duration::from_secs(5), clients.join()).await;
    println!("3 quick clients: {quick:?}");

    // Two requests in flight at Close: one finishes within the grace period,
    // one overruns it.
    let in_flight = ErrGroup::<(), io::Error, R>::builder(rt.clone())
        .keep_going()
        .build();
    let finishing = in_flight.spawn(client::<R>(addr, &[QUICK_MS])).unwrap();
    let slow = in_flight.spawn(client::<R>(addr, &[SLOW_MS])).unwrap();
    let mut waited = 0;
    while service.in_flight.load(Ordering::SeqCst) < 2 && waited < 1000 {
        rt.sleep(Duration::from_millis(1)).await;
        waited += 1;
    }

    // Close(deadline), which also ends Wait.
    let began = Instant::now();
    let report = service.close(args.deadline).await;
    println!(
        "closed in {} ms (grace period {} ms)",
        ms(began.elapsed()),
        ms(args.deadline)
    );
    println!(
        "  connections kept by the group: {} (each ended well, so none)",
        report
            .outcomes()
            .iter()
            .filter(|outcome| outcome.is_ok())
            .count()
    );
    for outcome in report.outcomes() {
        if let Err(error) = outcome {
            println!("  a connection ended with: {error}");
        }
    }
    let overran: Vec<String> = report.overran().iter().map(ToString::to_string).collect();
    println!(
        "  overran the grace period (dropped): {}",
        overran.join(", ")
    );

    let ends = timeout(&rt, Duration::from_secs(5), in_flight.join_all()).await;
    let Some(ends) = ends else {
        println!("a client hung");
        return false;
    };
    let (finished, cut) = (&ends[finishing.index()], &ends[slow.index()]);
    println!("client of the {QUICK_MS} ms request: {finished:?}");
    println!("client of the {SLOW_MS} ms request: {cut:?}");
    matches!(quick, Some(Ok(_))) && finished.is_ok() && cut.is_err() && report.overran().len() == 1
}

fn main() -> ExitCode {
    let args = common::args_or_exit(USAGE, parse_args);
    let start = Instant::now();
    let clean = common::block_on!(args.runtime, |rt| run(rt, args));
    println!("{} ms in all", ms(start.elapsed()));
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
