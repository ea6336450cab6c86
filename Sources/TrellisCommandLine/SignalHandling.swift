import Dispatch
import Glibc

/// Maps SIGTERM and SIGINT to a callback, once each delivery, on a Dispatch queue.
public final class SignalHandling: @unchecked Sendable {
    // @unchecked Sendable: `sources` is set once in init and only cancelled in deinit;
    // Dispatch sources are themselves safe to use from any thread.
    private let sources: [any DispatchSourceSignal]

    /// Starts handling; keep the value alive for as long as handling should last.
    public init(signals: [Int32] = [SIGTERM, SIGINT], _ handler: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "trellis.signals")
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }

    deinit {
        for source in sources { source.cancel() }
    }
}
