import CYAML

/// One document of an input as a tree, before it is read as a kind.
struct RawDocument {
    /// The position in the input, counted from 1.
    var index: Int
    var root: SpecValue
}

/// Reads YAML (and JSON, a YAML flow document) into `SpecValue` trees through libyaml's
/// event parser, enforcing the nesting and alias limits while the events arrive.
///
/// Plain scalars are resolved with the YAML 1.2 core schema: `null`, `~` and nothing are
/// null, `true`/`false` are booleans, decimal, `0x` and `0o` integers, decimal floats. So
/// `yes`, `no`, `on` and `off` stay strings. Quoted scalars are always strings.
struct YAMLReader {
    var file: String
    var limits: SpecLimits

    func read(_ bytes: [UInt8]) -> (documents: [RawDocument], errors: [SpecError]) {
        guard bytes.count <= limits.maxInputBytes else {
            let error = SpecError(
                file: file,
                code: .inputTooLarge,
                message: "input is \(bytes.count) bytes, more than the limit of \(limits.maxInputBytes)"
            )
            return ([], [error])
        }
        guard !bytes.isEmpty else { return ([], []) }
        if let read = FastYAMLReader(file: file, limits: limits).read(bytes) { return read }
        return readWithLibYAML(bytes)
    }

    /// Reads `bytes` through libyaml, whatever they hold.
    func readWithLibYAML(_ bytes: [UInt8]) -> (documents: [RawDocument], errors: [SpecError]) {
        let input = JSONSurrogates.rewrite(bytes)
        var state = EventState(file: file, limits: limits)
        input.withUnsafeBufferPointer { buffer in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else {
                state.errors.append(
                    SpecError(file: file, code: .syntax, message: "yaml_parser_initialize failed: out of memory")
                )
                return
            }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)

            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    state.syntaxError(parser)
                    return
                }
                let type = event.type
                state.handle(&event)
                yaml_event_delete(&event)
                if type == YAML_STREAM_END_EVENT { return }
            }
        }
        return (state.documents, state.errors)
    }
}

/// The tree being built from the events of one input: libyaml's, or those of
/// `FastYAMLReader`, which calls the same methods.
struct EventState {
    /// A list or map still receiving its children.
    struct Container {
        /// A list's items, or a map's values.
        var items: [SpecValue] = []
        /// A map's keys, in order; nil for a list.
        var keys: [String]?
        /// A large map's positions by key, kept from its first key past the threshold at
        /// which the finished map hashes (so that each key is hashed once: checked for a
        /// duplicate and placed in one step), and handed to it.
        var positions: [String: Int]?
        var pendingKey: String?
        var mark: SourceMark
        var anchor: String?
        /// Nodes in this subtree, counting what aliases inside it produced.
        var size = 1
    }

    let file: String
    let limits: SpecLimits
    var documents: [RawDocument] = []
    var errors: [SpecError] = []

    var documentIndex = 0
    var stack: [Container] = []
    var root: SpecValue?
    var anchors: [String: (value: SpecValue, size: Int)] = [:]
    var openAnchors: Set<String> = []
    var expanded = 0
    /// Set when a limit stops the current document: its remaining events are ignored.
    var abandoned = false

    init(file: String, limits: SpecLimits) {
        self.file = file
        self.limits = limits
    }

    mutating func report(_ code: SpecError.Code, _ mark: SourceMark?, _ message: String) {
        errors.append(
            SpecError(
                file: file,
                document: SpecDocumentReference(index: documentIndex),
                path: currentPath.description,
                line: mark?.line,
                column: mark?.column,
                code: code,
                message: message
            )
        )
    }

    /// Where the next node goes, for error messages.
    var currentPath: SpecPath {
        var components: [SpecPath.Component] = []
        for container in stack {
            if let keys = container.keys {
                if let key = container.pendingKey {
                    components.append(.key(key))
                } else if let last = keys.last {
                    components.append(.key(last))
                }
            } else {
                components.append(.index(container.items.count))
            }
        }
        return SpecPath(components: components)
    }

    mutating func syntaxError(_ parser: yaml_parser_t) {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown error"
        var message = problem
        if let context = parser.context {
            message = "\(String(cString: context)): \(problem)"
        }
        let mark = SourceMark(line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1)
        errors.append(
            SpecError(
                file: file,
                document: SpecDocumentReference(index: max(documentIndex, 1)),
                line: mark.line,
                column: mark.column,
                code: .syntax,
                message: message
            )
        )
    }

    /// Builds the tree from one of libyaml's events.
    mutating func handle(_ event: inout yaml_event_t) {
        let mark = SourceMark(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            startDocument()
        case YAML_DOCUMENT_END_EVENT:
            endDocument(mark: mark)
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            self.scalar(
                string(scalar.value, Int(scalar.length)), plain: scalar.style == YAML_PLAIN_SCALAR_STYLE,
                tag: optionalString(scalar.tag), anchor: optionalString(scalar.anchor), mark: mark)
        case YAML_ALIAS_EVENT:
            alias(optionalString(event.data.alias.anchor) ?? "", mark: mark)
        case YAML_SEQUENCE_START_EVENT:
            let start = event.data.sequence_start
            startCollection(
                isMap: false, tag: optionalString(start.tag), anchor: optionalString(start.anchor), mark: mark)
        case YAML_MAPPING_START_EVENT:
            let start = event.data.mapping_start
            startCollection(
                isMap: true, tag: optionalString(start.tag), anchor: optionalString(start.anchor), mark: mark)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            endCollection()
        default:
            break
        }
    }

    mutating func startDocument() {
        documentIndex += 1
        stack = []
        root = nil
        anchors = [:]
        openAnchors = []
        expanded = 0
        abandoned = false
    }

    mutating func endDocument(mark: SourceMark) {
        if !abandoned {
            documents.append(RawDocument(index: documentIndex, root: root ?? SpecValue(.null, mark: mark)))
        }
    }

    /// A scalar: a map's key when the innermost container awaits one, else a value.
    mutating func scalar(_ text: String, plain: Bool, tag: String?, anchor: String?, mark: SourceMark) {
        guard !abandoned else { return }
        if awaitsKey {
            takeKey(text, mark: mark)
            if let anchor { anchors[anchor] = (.string(text), 1) }
            return
        }
        let value = resolveScalar(text, plain: plain, tag: tag, mark: mark)
        if let anchor { anchors[anchor] = (value, 1) }
        add(value, size: 1)
    }

    mutating func alias(_ name: String, mark: SourceMark) {
        guard !abandoned else { return }
        expandAlias(name, mark: mark)
    }

    mutating func startCollection(isMap: Bool, tag: String?, anchor name: String?, mark: SourceMark) {
        guard !abandoned else { return }
        if awaitsKey {
            report(.invalidKey, mark, "a map key must be a scalar, not a \(isMap ? "map" : "list")")
            abandon()
            return
        }
        if let tag, !Self.collectionTags.contains(tag) {
            report(.unsupportedTag, mark, "unsupported tag \(quoted(tag))")
        }
        guard stack.count < limits.maxNestingDepth else {
            report(
                .nestingTooDeep,
                mark,
                "lists and maps nest deeper than the limit of \(limits.maxNestingDepth)"
            )
            abandon()
            return
        }
        if let name { openAnchors.insert(name) }
        // Most lists and maps of a spec are small: room for four saves regrowing.
        var container = Container(keys: isMap ? [] : nil, mark: mark, anchor: name)
        container.items.reserveCapacity(4)
        container.keys?.reserveCapacity(4)
        stack.append(container)
    }

    mutating func endCollection() {
        guard !abandoned, let container = stack.popLast() else { return }
        let value: SpecValue
        if let keys = container.keys {
            value = SpecValue(
                .map(SpecMap(keys: keys, values: container.items, positions: container.positions)),
                mark: container.mark)
        } else {
            value = SpecValue(.list(container.items), mark: container.mark)
        }
        if let anchor = container.anchor {
            openAnchors.remove(anchor)
            anchors[anchor] = (value, container.size)
        }
        add(value, size: container.size)
    }

    /// Ignores the rest of the current document after a limit stopped it.
    mutating func abandon() {
        abandoned = true
        stack = []
        root = nil
    }

    /// Whether the next scalar is a key of the innermost container, a map.
    var awaitsKey: Bool {
        guard let position = stack.indices.last else { return false }
        return stack[position].keys != nil && stack[position].pendingKey == nil
    }

    mutating func takeKey(_ key: String, mark: SourceMark) {
        let position = stack.count - 1
        let next = stack[position].items.count
        let duplicate: Bool
        if stack[position].positions != nil {
            if let earlier = stack[position].positions!.updateValue(next, forKey: key) {
                stack[position].positions![key] = earlier
                duplicate = true
            } else {
                duplicate = false
            }
        } else {
            duplicate = stack[position].keys!.contains(key)
        }
        if duplicate {
            stack[position].pendingKey = key
            report(.duplicateKey, mark, "duplicate key \(quoted(key))")
            // The first value is kept; the duplicate's value is read and dropped.
            stack[position].pendingKey = "\u{0}duplicate"
            return
        }
        stack[position].pendingKey = key
    }

    mutating func expandAlias(_ name: String, mark: SourceMark) {
        if openAnchors.contains(name) {
            report(.recursiveAlias, mark, "alias *\(name) refers to a node that contains it")
            addOrKey(SpecValue(.null, mark: mark), size: 1, mark: mark)
            return
        }
        guard let anchored = anchors[name] else {
            report(.unknownAlias, mark, "alias *\(name) refers to no anchor")
            addOrKey(SpecValue(.null, mark: mark), size: 1, mark: mark)
            return
        }
        expanded += anchored.size
        guard expanded <= limits.maxAliasExpansion else {
            report(
                .aliasExpansionLimit,
                mark,
                "aliases expand to more than \(limits.maxAliasExpansion) nodes"
            )
            abandon()
            return
        }
        addOrKey(anchored.value, size: anchored.size, mark: mark)
    }

    /// Adds an alias's value, which may stand in a key's place.
    mutating func addOrKey(_ value: SpecValue, size: Int, mark: SourceMark) {
        if awaitsKey {
            switch value.content {
            case .list, .map:
                report(.invalidKey, mark, "a map key must be a scalar, not a \(value.typeName)")
                abandon()
            case .string(let text):
                takeKey(text, mark: mark)
            default:
                takeKey(value.canonicalJSON, mark: mark)
            }
            return
        }
        add(value, size: size)
    }

    mutating func add(_ value: SpecValue, size: Int) {
        guard !stack.isEmpty else {
            root = value
            return
        }
        let position = stack.count - 1
        stack[position].size += size
        if stack[position].keys != nil {
            let key = stack[position].pendingKey!
            stack[position].pendingKey = nil
            if key != "\u{0}duplicate" {
                stack[position].keys!.append(key)
                stack[position].items.append(value)
                if stack[position].positions == nil && stack[position].items.count > SpecMap.hashingThreshold {
                    var positions = [String: Int](minimumCapacity: 2 * SpecMap.hashingThreshold)
                    for (index, key) in stack[position].keys!.enumerated() { positions[key] = index }
                    stack[position].positions = positions
                }
            }
        } else {
            stack[position].items.append(value)
        }
    }

    static let collectionTags: Set<String> = ["tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "!"]

    mutating func resolveScalar(_ text: String, plain: Bool, tag: String?, mark: SourceMark) -> SpecValue {
        switch tag {
        case nil:
            guard plain else { return SpecValue(.string(text), mark: mark) }
            return resolvePlain(text, mark: mark)
        case "!", "tag:yaml.org,2002:str":
            return SpecValue(.string(text), mark: mark)
        case "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
            "tag:yaml.org,2002:null":
            let value = resolvePlain(text, mark: mark)
            let expected = String(tag!.dropFirst("tag:yaml.org,2002:".count))
            let matches =
                switch (expected, value.content) {
                case ("int", .int), ("float", .double), ("bool", .bool), ("null", .null): true
                case ("float", .int(let number)): Double(exactly: number) != nil
                default: false
                }
            guard matches else {
                report(.wrongType, mark, "\(quoted(text)) is not a valid !!\(expected)")
                return SpecValue(.string(text), mark: mark)
            }
            if expected == "float", let number = value.intValue {
                return SpecValue(.double(Double(number)), mark: mark)
            }
            return value
        case let tag?:
            report(.unsupportedTag, mark, "unsupported tag \(quoted(tag))")
            return plain ? resolvePlain(text, mark: mark) : SpecValue(.string(text), mark: mark)
        }
    }

    mutating func resolvePlain(_ text: String, mark: SourceMark) -> SpecValue {
        switch PlainScalar.classify(text) {
        case .null: return SpecValue(.null, mark: mark)
        case .bool(let value): return SpecValue(.bool(value), mark: mark)
        case .int(let value): return SpecValue(.int(value), mark: mark)
        case .double(let value): return SpecValue(.double(value), mark: mark)
        case .string: return SpecValue(.string(text), mark: mark)
        case .invalidNumber(let reason):
            report(.invalidNumber, mark, "\(text): \(reason)")
            return SpecValue(.string(text), mark: mark)
        }
    }

    func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?, _ length: Int) -> String {
        guard let pointer else { return "" }
        return String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
    }

    func optionalString(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }
}
