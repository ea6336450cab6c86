import Testing
import TrellisTestSupport

@testable import TrellisCoordinator

@Suite("Shared writes")
struct SharedWriteTests {
    @Test("one claimant at a time; an open write is reported open, a done one done")
    func claims() async {
        let write = SharedWrite()
        #expect(await write.written() == false)
        #expect(write.claim())
        #expect(!write.claim())
        #expect(!write.isWritten)
        write.end(written: true)
        #expect(!write.claim())
        #expect(write.isWritten)
        #expect(await write.written() == true)
    }

    @Test("tasks waiting for the claimant hear that it wrote")
    func waitersHearSuccess() async {
        let write = SharedWrite()
        #expect(write.claim())
        let waiters = (0..<8).map { _ in Task { await write.written() } }
        #expect(await eventually { write.waiting == 8 })
        write.end(written: true)
        for waiter in waiters { #expect(await waiter.value) }
        #expect(write.waiting == 0)
    }

    @Test("a claimant that fails hands the write back: a waiter claims it and writes it")
    func failureReopens() async {
        let write = SharedWrite()
        #expect(write.claim())
        let waiter = Task { () -> Bool in
            guard await !write.written() else { return false }
            // Told the write is open again, the waiter takes it over.
            guard write.claim() else { return false }
            write.end(written: true)
            return true
        }
        #expect(await eventually { write.waiting == 1 })
        write.end(written: false)
        #expect(await waiter.value)
        #expect(write.isWritten)
        #expect(await write.written() == true)
        #expect(!write.claim())
    }
}
