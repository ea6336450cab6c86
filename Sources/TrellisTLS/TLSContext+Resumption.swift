import COpenSSL
import Synchronization

/// The key a server encrypts its TLS 1.3 session tickets with: 16 bytes of key name,
/// 32 of HMAC-SHA256 secret and 32 of AES-256 key, OpenSSL's layout.
///
/// A server that keeps its key across restarts lets clients resume after a restart: the
/// handshake then skips both certificates and their signatures, and only the key exchange
/// is done afresh (TLS 1.3 `psk_dhe_ke`, so every connection still has forward secrecy).
/// Anyone holding the key can decrypt the tickets it made: store it like a private key
/// and replace it now and then (tickets made with an older key are refused, and those
/// clients do a full handshake).
public struct SessionTicketKey: Sendable, Equatable {
    /// The length of a key in bytes.
    public static let byteCount = 80

    /// The key's bytes.
    public let bytes: [UInt8]

    /// A key from stored bytes.
    ///
    /// - Throws: ``TLSError`` with code `.configuration` unless there are exactly
    ///   ``byteCount`` bytes.
    public init(bytes: [UInt8]) throws(TLSError) {
        guard bytes.count == Self.byteCount else {
            throw TLSError(
                code: .configuration,
                message: "a session ticket key has \(Self.byteCount) bytes, not \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// A key from its ``hexRepresentation``.
    ///
    /// - Throws: ``TLSError`` with code `.configuration` unless `hex` is ``byteCount``
    ///   bytes in hexadecimal.
    public init(hex: String) throws(TLSError) {
        let digits = Array(hex.utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index + 1 < digits.count {
            guard let high = Self.nibble(digits[index]), let low = Self.nibble(digits[index + 1]) else {
                throw TLSError(code: .configuration, message: "a session ticket key is hexadecimal")
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        guard index == digits.count else {
            throw TLSError(code: .configuration, message: "a session ticket key has an odd number of digits")
        }
        try self.init(bytes: bytes)
    }

    /// The key in lowercase hexadecimal, for storing.
    public var hexRepresentation: String { Digests.hex(bytes) }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A new random key.
    public static func generate() throws(TLSError) -> SessionTicketKey {
        var bytes = [UInt8](repeating: 0, count: byteCount)
        ERR_clear_error()
        guard RAND_bytes(&bytes, Int32(byteCount)) == 1 else {
            throw .openSSL(.configuration, "generating a session ticket key", function: "RAND_bytes")
        }
        return try SessionTicketKey(bytes: bytes)
    }
}

extension TLSContext {
    /// How long a session ticket stays valid. A resumed connection is not checked against
    /// the certificates again, so this bounds how long a session outlives a change to them.
    static let sessionTicketLifetimeSeconds = 24 * 60 * 60

    /// Lets clients resume sessions with tickets encrypted under `key`: one ticket after
    /// each handshake, TLS 1.3 only (a TLS 1.2 ticket resumes without a fresh key
    /// exchange, so those are refused).
    static func enableSessionTickets(_ key: SessionTicketKey, in context: OpaquePointer) throws(TLSError) {
        let what = "enabling session tickets"
        ERR_clear_error()
        _ = SSL_CTX_clear_options(context, trellis_SSL_OP_NO_TICKET())
        guard SSL_CTX_set_num_tickets(context, 1) == 1 else {
            throw .openSSL(.configuration, what, function: "SSL_CTX_set_num_tickets")
        }
        // OpenSSL refuses to resume a session with a verified client certificate unless
        // the session belongs to a named context.
        let contextID = Array("trellis".utf8)
        guard SSL_CTX_set_session_id_context(context, contextID, UInt32(contextID.count)) == 1 else {
            throw .openSSL(.configuration, what, function: "SSL_CTX_set_session_id_context")
        }
        _ = SSL_CTX_set_timeout(context, sessionTicketLifetimeSeconds)
        var bytes = key.bytes
        guard SSL_CTX_ctrl(context, SSL_CTRL_SET_TLSEXT_TICKET_KEYS, bytes.count, &bytes) == 1 else {
            throw .openSSL(.configuration, what, function: "SSL_CTX_set_tlsext_ticket_keys")
        }
        guard
            SSL_CTX_set_session_ticket_cb(
                context, nil,
                { ssl, _, _, _, status, _ in
                    guard SSL_version(ssl) == TLS1_3_VERSION else { return SSL_TICKET_RETURN_IGNORE }
                    switch status {
                    case SSL_TICKET_SUCCESS: return SSL_TICKET_RETURN_USE
                    case SSL_TICKET_SUCCESS_RENEW: return SSL_TICKET_RETURN_USE_RENEW
                    // None, empty or undecryptable: a full handshake, and a fresh ticket.
                    default: return SSL_TICKET_RETURN_IGNORE_RENEW
                    }
                }, nil) == 1
        else {
            throw .openSSL(.configuration, what, function: "SSL_CTX_set_session_ticket_cb")
        }
    }

    /// Keeps the newest session a server gives a client context, for the context's next
    /// connection to offer.
    static func enableClientSessionReuse(in context: OpaquePointer, slot: ClientSessionSlot) {
        // A client that disables tickets does not announce that it takes them, and a
        // server then sends none.
        _ = SSL_CTX_clear_options(context, trellis_SSL_OP_NO_TICKET())
        _ = trellis_SSL_CTX_set_session_cache_mode(
            context, Int(SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE))
        SSL_CTX_set_ex_data(context, ClientSessionSlot.index, Unmanaged.passUnretained(slot).toOpaque())
        SSL_CTX_sess_set_new_cb(context) { ssl, session in
            guard let ssl, let session,
                let pointer = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ClientSessionSlot.index)
            else { return 0 }
            // A copy: OpenSSL marks the connection's own session unusable when the
            // connection ends without a close_notify, as it does when the server dies.
            guard let copy = SSL_SESSION_dup(session) else { return 0 }
            Unmanaged<ClientSessionSlot>.fromOpaque(pointer).takeUnretainedValue().keep(copy)
            return 0
        }
    }
}

/// The newest session a client context was given, offered by its next connections.
///
/// A client reconnecting to the same server resumes with it: after a server restart
/// every agent of a fleet comes back at the cost of a key exchange, not of two
/// certificate verifications and signatures. The ticket is offered again until a newer
/// one replaces it, so that attempts that fail before a new ticket arrives do not fall
/// back to full handshakes; an agent identifies itself with its certificate anyway, so
/// reusing a ticket tells an observer nothing new.
final class ClientSessionSlot: Sendable {
    /// The `SSL_CTX` ex-data index under which client contexts keep their slot.
    static let index: Int32 = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL_CTX, 0, nil, nil, nil, nil)

    private let session = Mutex<SessionReference?>(nil)

    /// Takes over the reference to `new`, releasing the session it replaces.
    func keep(_ new: OpaquePointer) {
        session.withLock { $0 = SessionReference(new) }
    }

    /// Sets the kept session, if any, as the one `ssl` offers.
    func offer(on ssl: OpaquePointer) {
        session.withLock { kept in
            guard let current = kept else { return }
            guard SSL_SESSION_is_resumable(current.pointer) == 1 else {
                kept = nil
                return
            }
            _ = SSL_set_session(ssl, current.pointer)
        }
    }
}

/// One reference to an `SSL_SESSION`, released with the value.
private final class SessionReference: @unchecked Sendable {
    // @unchecked Sendable: the session is immutable once made and OpenSSL reference-counts
    // it atomically; only the slot's mutex-protected field points to this object.
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { SSL_SESSION_free(pointer) }
}
