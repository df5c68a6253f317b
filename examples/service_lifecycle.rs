//! A TCP echo service with a start/close lifecycle, on any runtime: every
//! connection is a task of a group, and `close` stops accepting, drains the
//! connections under a deadline, cancels what is left and reports how each
//! connection ended.
//!
//! This is the Go service pattern (a listener, a `WaitGroup` of connection
//! handlers, and `Close()` that stops the listener and waits for the handlers)
//! built on [`ErrGroup`]:
//!
//! * `Service::start` binds a `std::net::TcpListener` on `127.0.0.1:0`. The
//!   accept loop runs on a dedicated std thread (a blocking `accept()`, no
//!   polling) and hands each connection to the group through a
//!   [`Spawner`](taskgroup::Spawner). The service's main group holds a
//!   supervisor task that ends when the accept thread does (and fails if
//!   `accept()` fails); the connections live in a child group
//!   ([`ErrGroup::child`]) of the main one, which `keep_going`s (one bad
//!   connection must not cancel the others) and captures panics.
//! * taskgroup has no async I/O, so a connection's blocking reads run on a
//!   std thread of their own, which reports back through a
//!   `futures::channel::oneshot`. If the group cancels the connection's task,
//!   a guard in the task shuts the socket down, so the thread's blocking read
//!   returns at once. Those threads are counted in a [`WaitGroup`].
//! * `close(deadline)` sets a stop flag and connects to the listener once to
//!   unblock `accept()`; takes the supervisor's outcome with `join_next`
//!   (cancel-safe, so it can be raced against a time-out); waits up to the
//!   deadline for the open connections to finish by themselves; then cancels
//!   the main group (`group.cancel()`), which cancels the child group and so
//!   every connection still open; and joins everything, each wait bounded.
//!
//! `main` starts the service and drives real clients against it from std
//! threads: `--clients` echo clients (each sends a few lines, reads the
//! echoes and hangs up), one client that sends an over-long line (the server
//! rejects it: a per-connection error), and one that goes idle after its
//! first line (cut off by the shutdown deadline). Then it closes the service
//! and prints how each connection ended. Nothing waits without a deadline.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example service_lifecycle --all-features
//! cargo run --example service_lifecycle --all-features -- --runtime smol
//! cargo run --example service_lifecycle --all-features -- --runtime async-std --clients 2 --deadline-ms 100
//! ```

mod common;

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::pin::pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{ms, timeout, Align, Command, RuntimeKind, Table};
use futures::channel::oneshot;
use futures::future::{select, Either};
use taskgroup::runtime::Runtime;
use taskgroup::{CancelCause, ErrGroup, GroupError, PanicPolicy, Spawner, WaitGroup};

const USAGE: &str = "\
A TCP echo service with a start/close lifecycle: connections are tasks of an
ErrGroup, and close() drains them under a deadline, then cancels the rest.

Usage: cargo run --example service_lifecycle --all-features -- [OPTIONS]

Options:
  --runtime NAME     tokio | smol | async-std                    (default: tokio)
  --clients N        echo clients, 1 to 8 (plus one over-long-line
                     client and one idle client)                 (default: 3)
  --deadline-ms MS   how long close() lets connections finish,
                     0 to 2000                                   (default: 300)
  -h, --help         print this help";

/// The longest line the server echoes (without its `\n`).
const MAX_LINE: usize = 1024;
/// Server side: a connection silent this long is closed. A backstop only:
/// shutdown cuts idle connections long before.
const SERVER_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Client side: connect, read and write time-outs.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// The bound on every wait that has no deadline of its own.
const STEP_TIMEOUT: Duration = Duration::from_secs(3);

/// The command line, parsed.
#[derive(Clone, Debug)]
struct Args {
    runtime: RuntimeKind,
    clients: usize,
    deadline: Duration,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            runtime: RuntimeKind::Tokio,
            clients: 3,
            deadline: Duration::from_millis(300),
        }
    }
}

fn parse_args(argv: impl Iterator<Item = String>) -> Result<Command<Args>, String> {
    let flags = ["--runtime", "--clients", "--deadline-ms"];
    common::parse_flags(argv, Args::default(), &flags, |args, flag| {
        match flag.name() {
            "--runtime" => args.runtime = flag.runtime()?,
            "--clients" => {
                args.clients =
                    flag.parse_if(|n| (1..=8).contains(n), "a number of clients from 1 to 8")?;
            }
            "--deadline-ms" => {
                let ms =
                    flag.parse_if(|&ms| ms <= 2_000, "a number of milliseconds from 0 to 2000")?;
                args.deadline = Duration::from_millis(ms);
            }
            _ => unreachable!("flag checked above"),
        }
        Ok(())
    })
}

/// Time since the program started, for log lines from any thread.
#[derive(Clone, Copy, Debug)]
struct Clock(Instant);

impl Clock {
    fn ms(self) -> u128 {
        self.0.elapsed().as_millis()
    }
}

/// `say!(clock, "...")`: one time-stamped log line.
macro_rules! say {
    ($clock:expr, $($arg:tt)*) => {
        println!("[{:>5} ms] {}", $clock.ms(), format_args!($($arg)*))
    };
}

// ---------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------

/// Why the service itself (not one connection) failed.
#[derive(Debug)]
enum ServiceError {
    /// `accept()` failed: the listener is unusable.
    Accept(io::Error),
    /// The accept thread ended without reporting (it panicked).
    AcceptThreadDied,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accept(error) => write!(f, "accept failed: {error}"),
            Self::AcceptThreadDied => f.write_str("the accept thread died"),
        }
    }
}

impl std::error::Error for ServiceError {}

/// Why one connection failed.
#[derive(Debug)]
enum ConnError {
    Io(io::Error),
    LineTooLong,
    IdleTimeout,
    EchoThreadDied,
}

impl From<io::Error> for ConnError {
    fn from(error: io::Error) -> Self {
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Self::IdleTimeout,
            _ => Self::Io(error),
        }
    }
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(error) => write!(f, "i/o error: {error}"),
            Self::LineTooLong => write!(f, "line longer than {MAX_LINE} bytes"),
            Self::IdleTimeout => f.write_str("idle for too long"),
            Self::EchoThreadDied => f.write_str("the echo thread died"),
        }
    }
}

impl std::error::Error for ConnError {}

/// What the accept loop reports when it stops.
#[derive(Debug)]
struct AcceptSummary {
    accepted: usize,
}

/// What a connection reports when the client hung up.
#[derive(Debug)]
struct ConnReport {
    lines: usize,
}

/// What the service knows of each connection, by id (= spawn order).
struct ConnInfo {
    peer: SocketAddr,
    /// Bytes echoed so far, updated by the echo thread as it goes, so that a
    /// cancelled connection still tells how far it got.
    echoed: Arc<AtomicU64>,
}

/// A running echo service.
struct Service<R: Runtime> {
    addr: SocketAddr,
    rt: R,
    clock: Clock,
    /// The service's own tasks: the accept supervisor.
    main: ErrGroup<AcceptSummary, ServiceError, R>,
    /// One task per connection; a child of `main`.
    conns: ErrGroup<ConnReport, ConnError, R>,
    stopping: Arc<AtomicBool>,
    registry: Arc<Mutex<Vec<ConnInfo>>>,
    /// The accept thread and the connections' echo threads.
    threads: WaitGroup,
}

/// How one connection ended, as `close` saw it.
struct ConnOutcome {
    id: usize,
    peer: SocketAddr,
    echoed: u64,
    /// `None` if the drain gave up before this connection reported.
    result: Option<Result<ConnReport, GroupError<ConnError>>>,
}

/// What `close` reports.
struct ShutdownReport {
    accept: Result<AcceptSummary, String>,
    deadline_passed: bool,
    connections: Vec<ConnOutcome>,
    conns_cause: Option<CancelCause>,
    main_join: Result<(), String>,
    main_cause: Option<CancelCause>,
    threads_left: usize,
    took: Duration,
}

impl<R: Runtime> Service<R> {
    /// Binds `127.0.0.1:0` and starts accepting.
    fn start(rt: R, clock: Clock) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let main = ErrGroup::new(rt.clone());
        // A connection's error is that connection's business: `keep_going`,
        // and keep a handler's panic as that connection's outcome.
        let conns = main
            .child_builder()
            .keep_going()
            .panic_policy(PanicPolicy::Capture)
            .build();
        let stopping = Arc::new(AtomicBool::new(false));
        let registry = Arc::new(Mutex::new(Vec::new()));
        let threads = WaitGroup::new();

        let acceptor = Acceptor {
            listener,
            spawner: conns.spawner(),
            stopping: Arc::clone(&stopping),
            registry: Arc::clone(&registry),
            threads: threads.clone(),
            clock,
        };
        let (exit_tx, exit_rx) = oneshot::channel();
        let guard = threads.enter();
        thread::Builder::new()
            .name("accept".to_owned())
            .spawn(move || {
                let _guard = guard;
                let _ = exit_tx.send(acceptor.run());
            })?;
        // The supervisor: the main group's task lives as long as the accept
        // thread; an accept error fails it, which cancels the main group and
        // with it every connection.
        main.spawn(async move { exit_rx.await.unwrap_or(Err(ServiceError::AcceptThreadDied)) })
            .unwrap();

        Ok(Self {
            addr,
            rt,
            clock,
            main,
            conns,
            stopping,
            registry,
            threads,
        })
    }

    /// Stops accepting, lets open connections finish for up to `deadline`,
    /// then cancels the rest; reports how every connection ended.
    async fn close(self, deadline: Duration) -> ShutdownReport {
        let Self {
            addr,
            rt,
            clock,
            mut main,
            conns,
            stopping,
            registry,
            threads,
        } = self;
        let began = Instant::now();
        say!(
            clock,
            "close: stop accepting, drain for up to {} ms",
            ms(deadline)
        );

        // 1. Stop the accept thread: set the flag, then connect once so that
        //    its blocking `accept()` returns and sees it. (A blocking connect
        //    to our own loopback listener: it completes at once.)
        stopping.store(true, Ordering::Release);
        if let Err(error) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            say!(clock, "close: could not wake the accept thread: {error}");
        }
        // The supervisor reports when the thread is out of its loop.
        // `join_next` is cancel-safe: if the time-out wins, nothing is lost.
        let accept = match timeout(&rt, STEP_TIMEOUT, main.join_next()).await {
            Some(Some(Ok(summary))) => Ok(summary),
            Some(Some(Err(error))) => Err(error.to_string()),
            Some(None) => Err("the supervisor task is gone".to_owned()),
            None => Err("the accept thread did not stop in time".to_owned()),
        };
        match &accept {
            Ok(summary) => say!(
                clock,
                "accept loop stopped after {} connections",
                summary.accepted
            ),
            Err(error) => say!(clock, "accept loop: {error}"),
        }

        // 2. Drain: give the open connections until the deadline to finish.
        //    `join_all` consumes the child group, so keep a spawner to read
        //    its cause afterwards.
        let conns_watch = conns.spawner();
        let main_watch = main.spawner();
        let mut deadline_passed = false;
        let mut drain = pin!(conns.join_all());
        let remaining = deadline.saturating_sub(began.elapsed());
        let results = match select(drain.as_mut(), pin!(rt.sleep(remaining))).await {
            Either::Left((results, _sleep)) => Some(results),
            Either::Right(((), unfinished)) => {
                // 3. Deadline: cancel the service. The child group's token is
                //    a child of main's, so every open connection is cancelled;
                //    each handler's guard shuts its socket down, which wakes
                //    its echo thread.
                deadline_passed = true;
                let open = threads.count();
                say!(
                    clock,
                    "close: deadline passed with {open} connection(s) open: group.cancel()"
                );
                main.cancel();
                timeout(&rt, STEP_TIMEOUT, unfinished).await
            }
        };
        if results.is_none() {
            say!(clock, "close: gave up draining the connections");
        }

        // 4. The main group: its supervisor already reported, and its join
        //    also waits for the child group to be gone.
        let main_join = match timeout(&rt, STEP_TIMEOUT, main.join()).await {
            Some(Ok(_)) => Ok(()),
            Some(Err(error)) => Err(error.to_string()),
            None => Err("timed out".to_owned()),
        };
        // 5. The echo threads end once their sockets are shut down.
        let threads_left = match timeout(&rt, STEP_TIMEOUT, threads.wait()).await {
            Some(()) => 0,
            None => threads.count(),
        };

        // `join_all` gives outcomes in spawn order, and the accept thread (the
        // only spawner) numbered connections in spawn order.
        let infos = std::mem::take(&mut *registry.lock().unwrap());
        let mut results = results.map(Vec::into_iter);
        let connections = infos
            .into_iter()
            .enumerate()
            .map(|(id, info)| ConnOutcome {
                id,
                peer: info.peer,
                echoed: info.echoed.load(Ordering::Relaxed),
                result: results.as_mut().and_then(Iterator::next),
            })
            .collect();
        ShutdownReport {
            accept,
            deadline_passed,
            connections,
            conns_cause: conns_watch.cause(),
            main_join,
            main_cause: main_watch.cause(),
            threads_left,
            took: began.elapsed(),
        }
    }
}

/// The accept loop's state, moved onto its thread.
struct Acceptor<R: Runtime> {
    listener: TcpListener,
    spawner: Spawner<ConnReport, ConnError, R>,
    stopping: Arc<AtomicBool>,
    registry: Arc<Mutex<Vec<ConnInfo>>>,
    threads: WaitGroup,
    clock: Clock,
}

impl<R: Runtime> Acceptor<R> {
    /// Accepts until the stop flag is set (or `accept()` fails).
    fn run(self) -> Result<AcceptSummary, ServiceError> {
        let mut accepted = 0;
        loop {
            let (stream, peer) = match self.listener.accept() {
                Ok(pair) => pair,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) if error.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(error) => return Err(ServiceError::Accept(error)),
            };
            if self.stopping.load(Ordering::Acquire) {
                // The wake-up connection from `close` (or a late client):
                // dropping it closes it.
                return Ok(AcceptSummary { accepted });
            }
            // Number and spawn under the registry lock, so that ids follow
            // spawn order and `close` never reads a half-registered one.
            let mut registry = self.registry.lock().unwrap();
            let id = registry.len();
            let echoed = Arc::new(AtomicU64::new(0));
            let handler = handle(
                id,
                stream,
                Arc::clone(&echoed),
                self.threads.clone(),
                self.clock,
            );
            match self.spawner.spawn(handler) {
                Ok(_) => {
                    registry.push(ConnInfo { peer, echoed });
                    accepted += 1;
                    say!(self.clock, "conn {id}: accepted from {peer}");
                }
                // The group was joined or dropped: the service is closing.
                Err(refused) => {
                    drop(refused);
                    say!(self.clock, "refused {peer}: the service is closing");
                    return Ok(AcceptSummary { accepted });
                }
            }
        }
    }
}

/// Shuts the socket down when dropped: a handler cancelled by the group
/// thereby wakes its echo thread's blocking read.
struct HangUp {
    id: usize,
    socket: TcpStream,
    finished: bool,
    clock: Clock,
}

impl Drop for HangUp {
    fn drop(&mut self) {
        // Harmless on a socket that is already closed.
        let _ = self.socket.shutdown(Shutdown::Both);
        if !self.finished {
            say!(self.clock, "conn {}: cancelled, socket shut down", self.id);
        }
    }
}

/// One connection's task: echoes lines until the client hangs up. The
/// blocking reads and writes run on a thread; this task waits for its report.
async fn handle(
    id: usize,
    stream: TcpStream,
    echoed: Arc<AtomicU64>,
    threads: WaitGroup,
    clock: Clock,
) -> Result<ConnReport, ConnError> {
    stream.set_read_timeout(Some(SERVER_IDLE_TIMEOUT))?;
    let mut hang_up = HangUp {
        id,
        socket: stream.try_clone()?,
        finished: false,
        clock,
    };
    let (report_tx, report_rx) = oneshot::channel();
    let guard = threads.enter();
    thread::Builder::new()
        .name(format!("conn-{id}"))
        .spawn(move || {
            let _guard = guard;
            let _ = report_tx.send(echo_lines(stream, &echoed));
        })?;
    let result = report_rx.await.unwrap_or(Err(ConnError::EchoThreadDied));
    hang_up.finished = true;
    match &result {
        Ok(report) => say!(
            clock,
            "conn {id}: client hung up after {} line(s)",
            report.lines
        ),
        Err(error) => say!(clock, "conn {id}: failed: {error}"),
    }
    result
}

/// The blocking echo loop, on the connection's own thread.
fn echo_lines(stream: TcpStream, echoed: &AtomicU64) -> Result<ConnReport, ConnError> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = Vec::with_capacity(128);
    let mut lines = 0;
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(ConnReport { lines });
        }
        if n > MAX_LINE && !line.ends_with(b"\n") {
            return Err(ConnError::LineTooLong);
        }
        writer.write_all(&line)?;
        echoed.fetch_add(n as u64, Ordering::Relaxed);
        lines += 1;
    }
}

// ---------------------------------------------------------------------------
// The clients
// ---------------------------------------------------------------------------

/// What a client reports: its local address (the server's peer address) and
/// a summary, or what went wrong.
type ClientResult = io::Result<(SocketAddr, String)>;

/// A client's name and its report, as its thread sends them back.
type ClientReport = (String, ClientResult);

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, CLIENT_TIMEOUT)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    Ok(stream)
}

/// Sends `lines` lines, checks each echo, then hangs up.
fn echo_client(addr: SocketAddr, name: &str, lines: usize) -> ClientResult {
    let stream = connect(addr)?;
    let local = stream.local_addr()?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut echoed = 0;
    for n in 1..=lines {
        let line = format!("{name} says hello #{n}\n");
        writer.write_all(line.as_bytes())?;
        let mut back = String::new();
        reader.read_line(&mut back)?;
        if back != line {
            return Err(io::Error::other(format!(
                "sent {line:?}, got back {back:?}"
            )));
        }
        echoed += back.len();
    }
    // Done: half-close, and read until the server closes its side.
    writer.shutdown(Shutdown::Write)?;
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest)?;
    Ok((
        local,
        format!("{lines} line(s) echoed intact, {echoed} bytes"),
    ))
}

/// Sends a line longer than the server accepts, then waits for the server to
/// hang up.
fn flood_client(addr: SocketAddr) -> ClientResult {
    let mut stream = connect(addr)?;
    let local = stream.local_addr()?;
    let sent = match stream.write_all(&[b'x'; 4 * MAX_LINE]) {
        Ok(()) => format!("sent {} bytes without a newline", 4 * MAX_LINE),
        Err(error) => format!("sending failed ({})", error.kind()),
    };
    let mut rest = Vec::new();
    let hung_up = match stream.read_to_end(&mut rest) {
        Ok(_) => "server closed the connection".to_owned(),
        Err(error) => format!("server hung up ({})", error.kind()),
    };
    Ok((local, format!("{sent}; {hung_up}")))
}

/// Sends one line, reports `ready`, then stays silent until the server hangs
/// up.
fn idle_client(addr: SocketAddr, ready: oneshot::Sender<SocketAddr>) -> ClientResult {
    let stream = connect(addr)?;
    let local = stream.local_addr()?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    writer.write_all(b"idle client checking in\n")?;
    let mut back = String::new();
    reader.read_line(&mut back)?;
    let _ = ready.send(local);
    let idle_since = Instant::now();
    let mut rest = Vec::new();
    let how = match reader.read_to_end(&mut rest) {
        Ok(_) => "the server closed the connection".to_owned(),
        Err(error) => format!("the connection ended ({})", error.kind()),
    };
    Ok((
        local,
        format!(
            "1 line echoed, then idle; after {} ms {how}",
            ms(idle_since.elapsed())
        ),
    ))
}

/// Runs a client on a std thread; its report comes back on the receiver.
fn spawn_client<F>(name: String, body: F) -> oneshot::Receiver<ClientReport>
where
    F: FnOnce(&str) -> ClientResult + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let spawned = thread::Builder::new().name(name.clone()).spawn(move || {
        let report = body(&name);
        let _ = tx.send((name, report));
    });
    if let Err(error) = spawned {
        eprintln!("could not start a client thread: {error}");
    }
    rx
}

// ---------------------------------------------------------------------------
// The program
// ---------------------------------------------------------------------------

/// The whole program, on any runtime. Returns whether the shutdown was clean.
async fn run<R: Runtime>(rt: R, args: Args) -> bool {
    let clock = Clock(Instant::now());
    let service = match Service::start(rt.clone(), clock) {
        Ok(service) => service,
        Err(error) => {
            eprintln!("error: could not start the service: {error}");
            return false;
        }
    };
    let addr = service.addr;
    say!(
        clock,
        "runtime {}: echo service listening on {addr}",
        args.runtime.name()
    );

    // Clients on std threads: echo clients, one over-long line, one idle.
    let mut clients = Vec::new();
    for i in 0..args.clients {
        clients.push(spawn_client(format!("echo-{i}"), move |name| {
            echo_client(addr, name, i + 1)
        }));
    }
    clients.push(spawn_client("flood".to_owned(), move |_| {
        flood_client(addr)
    }));
    let (ready_tx, ready_rx) = oneshot::channel();
    let idle = spawn_client("idle".to_owned(), move |_| idle_client(addr, ready_tx));

    // Who is who: a client's local address is the server's peer address.
    let mut names: HashMap<SocketAddr, String> = HashMap::new();
    let mut clean = true;
    let mut collect = |report: Option<Result<ClientReport, oneshot::Canceled>>| match report {
        Some(Ok((name, Ok((local, summary))))) => {
            say!(clock, "client {name} ({local}): {summary}");
            names.insert(local, name);
        }
        Some(Ok((name, Err(error)))) => {
            say!(clock, "client {name}: FAILED: {error}");
            clean = false;
        }
        Some(Err(oneshot::Canceled)) => {
            say!(clock, "a client thread died");
            clean = false;
        }
        None => {
            say!(clock, "a client did not finish in time");
            clean = false;
        }
    };
    for client in clients {
        collect(timeout(&rt, STEP_TIMEOUT, client).await);
    }
    match timeout(&rt, STEP_TIMEOUT, ready_rx).await {
        Some(Ok(local)) => say!(clock, "client idle ({local}): got its echo, now silent"),
        _ => say!(clock, "client idle: never got going"),
    }

    let report = service.close(args.deadline).await;
    collect(timeout(&rt, STEP_TIMEOUT, idle).await);

    print_report(&report, &names, args.deadline);
    clean
        && report.accept.is_ok()
        && report.main_join.is_ok()
        && report.threads_left == 0
        && report.connections.iter().all(|c| c.result.is_some())
}

fn print_report(report: &ShutdownReport, names: &HashMap<SocketAddr, String>, deadline: Duration) {
    let mut table = Table::new(
        &[
            ("conn", Align::Right, 4),
            ("client", Align::Left, 6),
            ("peer", Align::Left, 15),
            ("echoed", Align::Right, 6),
        ],
        "outcome",
        44,
    );
    for conn in &report.connections {
        let outcome = match &conn.result {
            Some(Ok(done)) => format!("completed: {} line(s), client hung up", done.lines),
            Some(Err(GroupError::Task(error))) => format!("error: {error}"),
            Some(Err(GroupError::Cancelled(cause))) => format!("cancelled: {cause}"),
            Some(Err(other)) => other.to_string(),
            None => "unknown: the drain gave up".to_owned(),
        };
        let name = names.get(&conn.peer).map_or("?", String::as_str);
        table.row(&[&conn.id, &name, &conn.peer, &conn.echoed, &outcome]);
    }
    println!();
    table.print();
    println!();
    let show_cause = |cause: Option<CancelCause>| match cause {
        Some(cause) => format!("Some({cause:?})"),
        None => "None".to_owned(),
    };
    match &report.accept {
        Ok(summary) => println!(
            "accept loop:  stopped cleanly, {} accepted",
            summary.accepted
        ),
        Err(error) => println!("accept loop:  {error}"),
    }
    println!(
        "connections:  drain {} the {} ms deadline; child group cause() = {}",
        if report.deadline_passed {
            "hit"
        } else {
            "finished within"
        },
        ms(deadline),
        show_cause(report.conns_cause)
    );
    println!(
        "main group:   join -> {}; cause() = {}",
        match &report.main_join {
            Ok(()) => "Ok".to_owned(),
            Err(error) => format!("Err({error})"),
        },
        show_cause(report.main_cause)
    );
    println!(
        "threads:      {}",
        if report.threads_left == 0 {
            "accept and echo threads all finished".to_owned()
        } else {
            format!("{} still running", report.threads_left)
        }
    );
    println!("shutdown took {} ms", ms(report.took));
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
