import TrellisAPI
import TrellisCommandLine
import TrellisDomain
import TrellisRPC

/// `trellis join-token create [--ttl DURATION] [--label k=v ...]`: prints a single-use join
/// token, alone on stdout, for `trellis-agent --join-token`.
enum JoinTokenCommand {
    static let usage = "usage: trellis join-token create [--ttl DURATION] [--label k=v ...]"

    static func run(_ scanner: inout ArgumentScanner) async throws -> Int32 {
        let ttlText = try scanner.value("--ttl")
        let labelTexts = try scanner.values("--label")
        let connection = try ConnectionOptions(scanning: &scanner)
        try scanner.finish(allowPositionals: true)
        guard scanner.positionals == ["create"] else { throw UsageError(usage) }
        var ttlSeconds: UInt64 = 0
        if let ttlText {
            guard let ttl = SpecDuration.parse(ttlText), ttl >= .seconds(1) else {
                throw UsageError("--ttl: expected a duration of at least 1s such as 30m or 24h, got \(ttlText)")
            }
            ttlSeconds = UInt64(ttl.components.seconds)
        }
        var labels: [String: String] = [:]
        for text in labelTexts {
            guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                throw UsageError("--label: expected KEY=VALUE, got \(text)")
            }
            labels[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        let response = try await connection.withClient { client in
            try await client.unary(
                TrellisV1.AdminService.createJoinToken,
                TrellisV1.CreateJoinTokenRequest(ttlSeconds: ttlSeconds, labels: labels))
        }
        Output.write(response.token, to: 1)
        return 0
    }
}
