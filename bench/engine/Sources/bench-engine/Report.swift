import Foundation

/// A JSON value, written with keys in the order given.
enum JSON {
    case number(Double)
    case integer(Int)
    case string(String)
    case bool(Bool)
    case array([JSON])
    case object([(String, JSON)])

    var text: String {
        switch self {
        case .number(let value): value.isFinite ? String(format: "%.3f", value) : "null"
        case .integer(let value): String(value)
        case .bool(let value): value ? "true" : "false"
        case .string(let value): Self.quoted(value)
        case .array(let items): "[" + items.map(\.text).joined(separator: ",") + "]"
        case .object(let fields): "{" + fields.map { Self.quoted($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }

    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// The table the run prints, and the JSON lines it writes.
final class Report {
    /// One printed figure, with the target beside it when there is one.
    struct Row {
        var measurement: String
        var metric: String
        var value: String
        var target = ""
        /// nil when the row has no target.
        var met: Bool?
    }

    private(set) var rows: [Row] = []
    private var lines: [String] = []
    private let outputPath: String?

    init(outputPath: String?) { self.outputPath = outputPath }

    func add(_ row: Row) { rows.append(row) }

    /// Records one raw JSON line, written at once so that a failed run keeps what it had.
    func record(_ value: JSON) {
        lines.append(value.text)
        guard let outputPath else { return }
        let data = Data((value.text + "\n").utf8)
        if let handle = FileHandle(forWritingAtPath: outputPath) {
            handle.seekToEndOfFile()
            handle.write(data)
            handle.closeFile()
        } else {
            _ = FileManager.default.createFile(atPath: outputPath, contents: data)
        }
    }

    /// The table, columns padded to their widest cell.
    func table() -> String {
        let header = Row(measurement: "measurement", metric: "metric", value: "value", target: "target", met: nil)
        let all = [header] + rows
        func cells(_ row: Row, _ isHeader: Bool) -> [String] {
            [
                row.measurement, row.metric, row.value, row.target,
                isHeader ? "met" : row.met.map { $0 ? "yes" : "NO" } ?? "",
            ]
        }
        let table = all.enumerated().map { cells($0.element, $0.offset == 0) }
        let widths = (0..<5).map { column in table.map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            var text = cells.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column == 2 ? pad + cell : cell + pad
            }.joined(separator: "  ")
            while text.hasSuffix(" ") { text.removeLast() }
            return text
        }
        var out = [line(table[0]), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        var previous = ""
        for cells in table.dropFirst() {
            var shown = cells
            if cells[0] == previous { shown[0] = "" } else { previous = cells[0] }
            out.append(line(shown))
        }
        return out.joined(separator: "\n")
    }
}

/// Figures as the table shows them.
enum Format {
    /// `812 ms` or `1.62 s`.
    static func milliseconds(_ value: Double) -> String {
        if value >= 10_000 { return String(format: "%.1f s", value / 1_000) }
        if value >= 1_000 { return String(format: "%.2f s", value / 1_000) }
        if value >= 100 { return String(format: "%.0f ms", value) }
        return String(format: "%.1f ms", value)
    }

    /// A median with `±x%`, half the range over rounds relative to the median, when there
    /// was more than one round.
    static func spread(_ values: [Double], _ format: (Double) -> String) -> String {
        let median = Statistics.median(values)
        guard values.count > 1, median > 0 else { return format(median) }
        let half = (values.max()! - values.min()!) / 2 / median * 100
        return "\(format(median)) ±\(Int(half.rounded()))%"
    }

    /// `12,345`.
    static func count(_ value: Int) -> String {
        let digits = String(value)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out += "," }
            out.append(digit)
        }
        return out
    }

    static func cpus(_ value: Double) -> String { String(format: "%.2f CPUs", value) }

    static func mebibytes(_ kib: Int) -> String { String(format: "%.1f MiB", Double(kib) / 1_024) }
}

enum Statistics {
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
