import Testing
import TrellisTestSupport

@testable import TrellisCoordinator

@Suite("Shared writes")
struct SharedWriteTests {
    @Test("the first carrier claims it, the next writes alongside, and once announced it is done")
    func parts() async {
        let write = SharedWrite()
        #expect(await write.written() == false)
        #expect(write.take() == .claimed)
        #expect(write.take() == .alongside)
        #expect(!write.isWritten)
        #expect(write.announce())
        #expect(write.take() == .done)
        #expect(!write.isWritten)
        write.published()
        #expect(write.take() == .done)
        #expect(write.isWritten)
        #expect(await write.written() == true)
    }

    @Test("of two carriers whose writes succeed, only the first to end announces it")
    func oneAnnouncement() {
        let write = SharedWrite()
        #expect(write.take() == .claimed)
        #expect(write.take() == .alongside)
        // The carrier alongside ends first: it publishes; the claimant then does not.
        #expect(write.announce())
        write.published()
        #expect(!write.announce())
        #expect(write.isWritten)
    }

    @Test("tasks waiting while it is announced go on once it is published")
    func waitersHearPublication() async {
        let write = SharedWrite()
        #expect(write.take() == .claimed)
        #expect(write.announce())
        let waiters = (0..<8).map { _ in Task { await write.written() } }
        #expect(await eventually { write.waiting == 8 })
        write.published()
        for waiter in waiters { #expect(await waiter.value) }
        #expect(write.waiting == 0)
    }

    @Test("a claimant that fails hands the write back: a waiter claims it and writes it")
    func failureReopens() async {
        let write = SharedWrite()
        #expect(write.take() == .claimed)
        let waiter = Task { () -> Bool in
            guard await !write.written() else { return false }
            // Told the write is open again, the waiter takes it over.
            guard write.take() == .claimed else { return false }
            guard write.announce() else { return false }
            write.published()
            return true
        }
        #expect(await eventually { write.waiting == 1 })
        write.failed()
        #expect(await waiter.value)
        #expect(write.isWritten)
        #expect(await write.written() == true)
        #expect(write.take() == .done)
    }

    @Test("a claimant that fails after a carrier alongside made it durable changes nothing")
    func failureAfterAlongside() {
        let write = SharedWrite()
        #expect(write.take() == .claimed)
        #expect(write.take() == .alongside)
        #expect(write.announce())
        write.failed()
        write.published()
        #expect(write.isWritten)
        #expect(write.take() == .done)
    }

    @Test("a carrier alongside whose write succeeds after the claimant failed announces it")
    func alongsideAfterFailure() {
        let write = SharedWrite()
        #expect(write.take() == .claimed)
        #expect(write.take() == .alongside)
        write.failed()
        #expect(write.announce())
        write.published()
        #expect(write.isWritten)
    }
}
