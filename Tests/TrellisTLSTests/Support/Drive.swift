import Glibc
import TrellisTLS

/// Where one side of a test exchange stands after a step.
enum Step: Equatable {
    case done, wantRead, wantWrite, failed

    init(_ result: TLSHandshakeResult) {
        switch result {
        case .complete: self = .done
        case .wantRead: self = .wantRead
        case .wantWrite: self = .wantWrite
        case .failed: self = .failed
        }
    }

    var isFinished: Bool { self == .done || self == .failed }
}

/// How long a test waits for a socket to become ready before giving up on the exchange.
let readinessTimeoutMilliseconds: Int32 = 5_000

/// Steps two endpoints until both are finished, waiting with poll() for the readiness
/// each one asked for. Returns `false` if neither socket became ready in time.
@discardableResult
func drive(
    _ firstDescriptor: Int32, _ first: () -> Step,
    _ secondDescriptor: Int32, _ second: () -> Step
) -> Bool {
    var firstStep = Step.wantRead
    var secondStep = Step.wantRead
    var firstFresh = true
    var secondFresh = true
    while true {
        if !firstStep.isFinished, firstFresh { firstStep = first() }
        if !secondStep.isFinished, secondFresh { secondStep = second() }
        if firstStep.isFinished, secondStep.isFinished { return true }

        var descriptors = [
            pollfd(fd: firstStep.isFinished ? -1 : firstDescriptor, events: events(for: firstStep), revents: 0),
            pollfd(fd: secondStep.isFinished ? -1 : secondDescriptor, events: events(for: secondStep), revents: 0),
        ]
        let ready = poll(&descriptors, 2, readinessTimeoutMilliseconds)
        if ready <= 0 { return false }
        firstFresh = descriptors[0].revents != 0
        secondFresh = descriptors[1].revents != 0
    }
}

/// Waits until `descriptor` is ready for what `step` asks; `false` on timeout.
@discardableResult
func waitUntilReady(_ descriptor: Int32, for step: Step) -> Bool {
    var descriptors = [pollfd(fd: descriptor, events: events(for: step), revents: 0)]
    return poll(&descriptors, 1, readinessTimeoutMilliseconds) > 0
}

private func events(for step: Step) -> Int16 {
    Int16(step == .wantWrite ? POLLOUT : POLLIN)
}

/// The two handshake results of an exchange between a server and a client connection.
struct HandshakeOutcome {
    var server: TLSHandshakeResult
    var client: TLSHandshakeResult
}

/// Runs the handshake of `server` and `client` over `sockets` to its end.
func handshake(
    _ server: inout TLSConnection,
    _ client: inout TLSConnection,
    over sockets: borrowing LoopbackSockets
) -> HandshakeOutcome {
    var outcome = HandshakeOutcome(server: .wantRead, client: .wantRead)
    drive(
        sockets.server,
        {
            outcome.server = server.handshake()
            return Step(outcome.server)
        },
        sockets.client,
        {
            outcome.client = client.handshake()
            return Step(outcome.client)
        })
    return outcome
}

/// Runs the handshake of a Trellis `server` and a raw OpenSSL `client` to its end.
func handshake(
    _ server: inout TLSConnection,
    _ client: inout RawOpenSSLClient,
    over sockets: borrowing LoopbackSockets
) -> (server: TLSHandshakeResult, client: Step) {
    var serverResult = TLSHandshakeResult.wantRead
    var clientStep = Step.wantRead
    drive(
        sockets.server,
        {
            serverResult = server.handshake()
            return Step(serverResult)
        },
        sockets.client,
        {
            clientStep = client.handshake()
            return clientStep
        })
    return (serverResult, clientStep)
}

/// The error of a failed result, or `nil`.
func failure(_ result: TLSHandshakeResult) -> TLSError? {
    if case .failed(let error) = result { return error }
    return nil
}

/// The error of a failed read, or `nil`.
func failure(_ result: TLSReadResult) -> TLSError? {
    if case .failed(let error) = result { return error }
    return nil
}
