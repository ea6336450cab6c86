/// An error from the state store: a failed database call, a conflict, a missing record.
///
/// The ``message`` is complete on its own and names the store, the operation and what
/// failed, for example
/// `store: upsert resource: sqlite3_step: FOREIGN KEY constraint failed (sqlite 787)`.
/// A failure inside SQLite keeps SQLite's extended result code in ``sqliteCode``.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; switch with a default.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String

        private init(_ name: String) {
            self.name = name
        }

        /// The database could not be opened or configured.
        public static let open = Code("open")
        /// The file exists but is not a database of this kind.
        public static let notADatabase = Code("not-a-database")
        /// The database file is damaged.
        public static let corrupt = Code("corrupt")
        /// The database was written by a newer version of Trellis than this one.
        public static let schemaTooNew = Code("schema-too-new")
        /// A schema migration failed; the database is left at the previous version.
        public static let migration = Code("migration")
        /// An optimistic write found a different revision than the one it expected.
        public static let conflict = Code("conflict")
        /// The record a write refers to does not exist.
        public static let notFound = Code("not-found")
        /// The record a write creates exists already.
        public static let alreadyExists = Code("already-exists")
        /// A constraint of the schema was violated (a foreign key, a uniqueness rule).
        public static let constraint = Code("constraint")
        /// A join token is not known, or the secret presented with it does not match. The
        /// two are one code so that a guess learns nothing about which ids exist.
        public static let tokenUnknown = Code("token-unknown")
        /// A join token was used already; each admits one agent.
        public static let tokenUsed = Code("token-used")
        /// A join token's expiry time has passed.
        public static let tokenExpired = Code("token-expired")
        /// Another connection holds the database locked longer than the busy timeout.
        public static let busy = Code("busy")
        /// Reading or writing the database file failed, or the disk is full.
        public static let io = Code("io")
        /// The store was closed.
        public static let closed = Code("closed")
        /// Any other failure of the database engine.
        public static let database = Code("database")

        /// The code's name, e.g. `conflict`.
        public var description: String { name }
    }

    /// What kind of failure this is.
    public var code: Code
    /// The human-readable message, naming the store, the operation and what failed.
    public var message: String
    /// SQLite's extended result code, when SQLite reported the failure.
    public var sqliteCode: Int32?

    /// Creates an error; most callers receive these rather than create them.
    public init(code: Code, message: String, sqliteCode: Int32? = nil) {
        self.code = code
        self.message = message
        self.sqliteCode = sqliteCode
    }

    /// The ``message``.
    public var description: String { message }
}
