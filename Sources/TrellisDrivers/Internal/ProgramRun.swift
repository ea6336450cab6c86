import Glibc
import TrellisThreads

/// One run of a program: what to start and how long it may take.
struct ProgramInvocation: Sendable {
    /// The absolute path of the executable (already looked up in `PATH`).
    var executable: String
    /// The arguments, `argv[0]` first.
    var arguments: [String]
    /// `NAME=value` entries; nothing else is inherited.
    var environment: [String]
    var workingDirectory: String
    /// Written to the program's stdin, which is then closed.
    var input: [UInt8]
    var timeout: Duration
    /// How long after SIGTERM the process group gets SIGKILL.
    var killGrace: Duration = .seconds(2)
    /// Stdout beyond this is read and dropped, and the result says so.
    var outputLimit: Int = 1 << 20
    /// Called on the run's own thread for each complete stderr line; must not block.
    var onStderrLine: @Sendable (String) -> Void = { _ in }
}

/// How a run ended, and what it wrote.
struct ProgramResult: Sendable {
    enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
    }

    var termination: Termination
    /// Whether the timeout (or the task's cancellation) ended the run.
    var timedOut = false
    var cancelled = false
    var output: [UInt8] = []
    var outputTruncated = false
    /// The last lines of stderr, oldest first.
    var errorTail: [String] = []
}

/// Runs programs with `posix_spawn`, each on a thread of its own, so that waiting for them
/// never holds a thread of Swift's cooperative pool.
///
/// The program starts in a new process group, with default signal dispositions and an
/// empty signal mask, its stdin, stdout and stderr on pipes, and no other descriptor. On
/// timeout or cancellation the whole group gets SIGTERM, then SIGKILL after the grace.
enum ProgramRunner {
    /// Writing to a pipe whose reader has gone must fail with EPIPE, not kill the process;
    /// evaluate once before such a write.
    static let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// Runs `invocation` to its end; throws only when the program cannot be started.
    static func run(_ invocation: ProgramInvocation) async throws(SystemCallError) -> ProgramResult {
        _ = ignoreBrokenPipes
        let cancel = try CancelPipe()
        let outcome: Result<ProgramResult, SystemCallError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                startThread {
                    continuation.resume(
                        returning: Result { () throws(SystemCallError) in
                            try runBlocking(invocation, cancel: cancel)
                        })
                }
            }
        } onCancel: {
            cancel.signal()
        }
        return try outcome.get()
    }

    /// Starts `body` on a new detached thread.
    private static func startThread(_ body: @escaping @Sendable () -> Void) {
        let result = DetachedThread.start(body)
        // Without a thread nothing can run the program; this is resource exhaustion.
        precondition(result == 0, systemCallFailure("pthread_create", errno: result))
    }
}

/// A pipe that wakes a running program's thread when its task is cancelled.
///
/// Sendable: after `init` it holds only two descriptors, written once and closed in
/// `deinit`, when no run uses them any more.
final class CancelPipe: Sendable {
    let readEnd: Int32
    let writeEnd: Int32

    init() throws(SystemCallError) {
        let (read, write) = try makePipe(nonBlocking: .write)
        readEnd = read
        writeEnd = write
    }

    func signal() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }
}

/// A pipe whose descriptors are close-on-exec from the start (so no program spawned
/// meanwhile by another thread inherits them), with `nonBlocking` end made non-blocking.
///
/// Only the parent's end may be non-blocking: the flag belongs to the open file, which the
/// child's duplicate shares, and a program reading an empty stdin expects to wait.
func makePipe(nonBlocking: PipeEnd? = nil) throws(SystemCallError) -> (read: Int32, write: Int32) {
    var ends: [Int32] = [-1, -1]
    let result = ends.withUnsafeMutableBufferPointer { buffer in
        GNUExtensions.pipe2(buffer.baseAddress!, O_CLOEXEC)
    }
    guard result == 0 else { throw SystemCallError(function: "pipe2", errno: errno) }
    if let nonBlocking {
        let end = nonBlocking == .read ? ends[0] : ends[1]
        guard fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK) == 0 else {
            let code = errno
            close(ends[0])
            close(ends[1])
            throw SystemCallError(function: "fcntl O_NONBLOCK", errno: code)
        }
    }
    return (ends[0], ends[1])
}

/// One end of a pipe.
enum PipeEnd {
    case read
    case write
}

/// glibc functions the Swift Glibc module does not import (it is built without
/// `_GNU_SOURCE`), found with `dlsym` once.
enum GNUExtensions {
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    private typealias AddChdir =
        @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    private nonisolated(unsafe) static let process = dlopen(nil, RTLD_NOW)

    private static func symbol<Function>(_ name: String, as type: Function.Type) -> Function? {
        guard let address = dlsym(process, name) else { return nil }
        return unsafeBitCast(address, to: type)
    }

    private static let pipe2Function = symbol("pipe2", as: Pipe2.self)
    private static let addChdirFunction = symbol("posix_spawn_file_actions_addchdir_np", as: AddChdir.self)
    private static let addCloseFromFunction = symbol("posix_spawn_file_actions_addclosefrom_np", as: AddCloseFrom.self)

    static func pipe2(_ ends: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32 {
        guard let pipe2Function else {
            errno = ENOSYS
            return -1
        }
        return pipe2Function(ends, flags)
    }

    /// glibc 2.29 and later.
    static func addChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: String) -> Int32 {
        guard let addChdirFunction else { return ENOSYS }
        return addChdirFunction(actions, path)
    }

    /// glibc 2.34 and later; without it, descriptors opened with close-on-exec (all of
    /// this module's) still stay out of the child.
    static func addCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ lowest: Int32) -> Int32 {
        guard let addCloseFromFunction else { return 0 }
        return addCloseFromFunction(actions, lowest)
    }
}
