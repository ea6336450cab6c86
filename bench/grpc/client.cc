// bench-grpc-client: the gRPC C++ peer of the Trellis bench client.
//
//   bench-grpc-client --target 127.0.0.1:P --ca F --mode unary
//       [--payload 64] [--inflight K] [--seconds S] [--warmup W]
//   bench-grpc-client --target 127.0.0.1:P --ca F --mode stream [--size 64] [--count N]
//   bench-grpc-client --target 127.0.0.1:P --ca F --mode idle [--connections C]
//
// Each mode prints one JSON object on a line of stdout; bench/README.md gives the fields.
// Every mode first connects and completes one Echo call, so TLS handshakes are outside
// what is timed. Any failed call fails the run (exit 1) rather than skewing its figures.

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "flags.h"
#include "trellis/echo/v1/echo.grpc.pb.h"

namespace {

using trellis::echo::v1::EchoRequest;
using trellis::echo::v1::EchoResponse;
using trellis::echo::v1::EchoService;
using Clock = std::chrono::steady_clock;

const std::string kProgram = "bench-grpc-client";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::shared_ptr<grpc::Channel> OpenChannel(const std::string& target,
                                           const std::shared_ptr<grpc::ChannelCredentials>& tls,
                                           int index) {
    grpc::ChannelArguments args;
    // A channel of its own, with its own TCP+TLS connection: distinct arguments and a
    // local subchannel pool keep gRPC from sharing one connection between channels.
    args.SetInt("trellis.bench.channel", index);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    // Idle connections are the point of --mode idle; keep gRPC from closing them.
    args.SetInt(GRPC_ARG_CLIENT_IDLE_TIMEOUT_MS, INT32_MAX);
    return grpc::CreateCustomChannel(target, tls, args);
}

// Connects and makes one Echo call, so that the handshake is done before timing starts.
void WarmUp(const std::shared_ptr<grpc::Channel>& channel) {
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
        bench::Fail(kProgram, "cannot connect to the server within 10 s");
    }
    auto stub = EchoService::NewStub(channel);
    grpc::ClientContext context;
    EchoRequest request;
    EchoResponse response;
    grpc::Status status = stub->Echo(&context, request, &response);
    if (!status.ok()) bench::Fail(kProgram, "warm-up Echo failed: " + status.error_message());
}

double PercentileMicros(const std::vector<int64_t>& sorted_nanos, double p) {
    if (sorted_nanos.empty()) return 0;
    size_t rank = static_cast<size_t>(std::ceil(p * sorted_nanos.size()));
    rank = std::clamp<size_t>(rank, 1, sorted_nanos.size());
    return sorted_nanos[rank - 1] / 1000.0;
}

// K calls stay in flight on one channel: each completion on the completion queue records
// the call's latency and starts the next call in the same slot, until the window ends.
// Calls that complete during the warm-up are counted in calls_total but not measured.
void RunUnary(const bench::Flags& flags, const std::string& target,
              const std::shared_ptr<grpc::ChannelCredentials>& tls) {
    const long payload = flags.Int("payload");
    const long inflight = flags.Int("inflight");
    const double seconds = flags.Double("seconds");
    const double warmup = flags.Double("warmup");
    if (inflight < 1 || seconds <= 0) bench::Fail(kProgram, "--inflight and --seconds > 0", 2);

    auto channel = OpenChannel(target, tls, 0);
    WarmUp(channel);
    auto stub = EchoService::NewStub(channel);
    EchoRequest request;
    request.set_payload(std::string(payload, 'p'));

    struct Slot {
        std::unique_ptr<grpc::ClientContext> context;
        std::unique_ptr<grpc::ClientAsyncResponseReader<EchoResponse>> reader;
        EchoResponse response;
        grpc::Status status;
        Clock::time_point started;
    };
    grpc::CompletionQueue queue;
    std::vector<Slot> slots(inflight);
    auto start_call = [&](Slot& slot) {
        slot.context = std::make_unique<grpc::ClientContext>();
        slot.started = Clock::now();
        slot.reader = stub->AsyncEcho(slot.context.get(), request, &queue);
        slot.reader->Finish(&slot.response, &slot.status, &slot);
    };

    std::vector<int64_t> latencies;
    latencies.reserve(1 << 20);
    const Clock::time_point begin = Clock::now();
    const auto window_start = begin + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(warmup));
    const auto window_end = window_start + std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(seconds));
    for (Slot& slot : slots) start_call(slot);

    long outstanding = inflight;
    long calls_total = 0;
    void* tag = nullptr;
    bool ok = false;
    while (outstanding > 0 && queue.Next(&tag, &ok)) {
        Slot& slot = *static_cast<Slot*>(tag);
        const Clock::time_point now = Clock::now();
        if (!ok || !slot.status.ok()) {
            bench::Fail(kProgram, "Echo failed: " + slot.status.error_message());
        }
        if (slot.response.payload().size() != static_cast<size_t>(payload)) {
            bench::Fail(kProgram, "Echo answered with the wrong payload size");
        }
        calls_total++;
        if (slot.started >= window_start && now <= window_end) {
            latencies.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    now - slot.started)
                                    .count());
        }
        if (now < window_end) {
            start_call(slot);
        } else {
            outstanding--;
        }
    }
    queue.Shutdown();
    while (queue.Next(&tag, &ok)) {
    }

    // Calls are measured when they both start and end inside the window, so the rate is
    // taken over the window less the tail in which no measured call could start.
    std::sort(latencies.begin(), latencies.end());
    const double window = Seconds(window_end - window_start);
    std::printf(
        "{\"impl\":\"grpc\",\"bench\":\"unary\",\"payload\":%ld,\"inflight\":%ld,"
        "\"seconds\":%.3f,\"calls\":%zu,\"calls_total\":%ld,\"qps\":%.1f,"
        "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f}\n",
        payload, inflight, window, latencies.size(), calls_total, latencies.size() / window,
        PercentileMicros(latencies, 0.50), PercentileMicros(latencies, 0.90),
        PercentileMicros(latencies, 0.99), PercentileMicros(latencies, 0.999),
        PercentileMicros(latencies, 1.0));
}

// One Expand call read to its end with the blocking API; the clock runs from starting
// the call to its status.
void RunStream(const bench::Flags& flags, const std::string& target,
               const std::shared_ptr<grpc::ChannelCredentials>& tls) {
    const long size = flags.Int("size");
    const long count = flags.Int("count");

    auto channel = OpenChannel(target, tls, 0);
    WarmUp(channel);
    auto stub = EchoService::NewStub(channel);
    EchoRequest request;
    request.set_count(static_cast<uint32_t>(count));
    request.set_response_size(static_cast<uint32_t>(size));

    grpc::ClientContext context;
    EchoResponse response;
    long received = 0;
    long bytes = 0;
    const Clock::time_point begin = Clock::now();
    std::unique_ptr<grpc::ClientReader<EchoResponse>> reader = stub->Expand(&context, request);
    while (reader->Read(&response)) {
        received++;
        bytes += static_cast<long>(response.payload().size());
    }
    grpc::Status status = reader->Finish();
    const double elapsed = Seconds(Clock::now() - begin);
    if (!status.ok()) bench::Fail(kProgram, "Expand failed: " + status.error_message());
    if (received != count || bytes != count * size) {
        bench::Fail(kProgram, "Expand answered " + std::to_string(received) + " of " +
                                  std::to_string(count) + " messages");
    }
    std::printf(
        "{\"impl\":\"grpc\",\"bench\":\"stream\",\"size\":%ld,\"count\":%ld,"
        "\"seconds\":%.3f,\"calls_total\":2,\"msgs_per_s\":%.1f,\"mb_per_s\":%.2f}\n",
        size, count, elapsed, count / elapsed, bytes / elapsed / 1e6);
}

// C channels, each connected and warmed by one Echo call (up to 64 being set up at a
// time), then held open and idle until stdin reaches end of file.
void RunIdle(const bench::Flags& flags, const std::string& target,
             const std::shared_ptr<grpc::ChannelCredentials>& tls) {
    const long connections = flags.Int("connections");
    constexpr long kConcurrentSetups = 64;

    struct Connection {
        std::shared_ptr<grpc::Channel> channel;
        std::unique_ptr<EchoService::Stub> stub;
        std::unique_ptr<grpc::ClientContext> context;
        std::unique_ptr<grpc::ClientAsyncResponseReader<EchoResponse>> reader;
        EchoResponse response;
        grpc::Status status;
    };
    std::vector<Connection> pool(connections);
    grpc::CompletionQueue queue;
    EchoRequest request;
    long next = 0;
    auto start_setup = [&](Connection& connection) {
        connection.channel = OpenChannel(target, tls, static_cast<int>(next));
        connection.stub = EchoService::NewStub(connection.channel);
        connection.context = std::make_unique<grpc::ClientContext>();
        connection.context->set_wait_for_ready(true);
        connection.context->set_deadline(std::chrono::system_clock::now() +
                                         std::chrono::seconds(30));
        connection.reader = connection.stub->AsyncEcho(connection.context.get(), request, &queue);
        connection.reader->Finish(&connection.response, &connection.status, &connection);
    };

    const Clock::time_point begin = Clock::now();
    long outstanding = 0;
    while (next < connections && outstanding < kConcurrentSetups) {
        start_setup(pool[next++]);
        outstanding++;
    }
    void* tag = nullptr;
    bool ok = false;
    while (outstanding > 0 && queue.Next(&tag, &ok)) {
        Connection& done = *static_cast<Connection*>(tag);
        if (!ok || !done.status.ok()) {
            bench::Fail(kProgram, "connection setup failed: " + done.status.error_message());
        }
        done.reader.reset();
        done.context.reset();
        outstanding--;
        if (next < connections) {
            start_setup(pool[next++]);
            outstanding++;
        }
    }
    const double connect_seconds = Seconds(Clock::now() - begin);

    std::printf("connected n=%ld\n", connections);
    std::fflush(stdout);
    char buffer[256];
    while (read(STDIN_FILENO, buffer, sizeof buffer) > 0) {
    }

    long still_ready = 0;
    for (Connection& connection : pool) {
        if (connection.channel->GetState(false) == GRPC_CHANNEL_READY) still_ready++;
    }
    std::printf(
        "{\"impl\":\"grpc\",\"bench\":\"idle\",\"connections\":%ld,\"still_open\":%ld,"
        "\"connect_seconds\":%.3f,\"calls_total\":%ld}\n",
        connections, still_ready, connect_seconds, connections);
    std::fflush(stdout);
    // Tearing down thousands of channels one by one measures nothing; the server sees the
    // connections close either way.
    std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
    bench::Flags flags(kProgram, argc, argv,
                       {{"target", ""},
                        {"ca", ""},
                        {"mode", ""},
                        {"payload", "64"},
                        {"inflight", "1"},
                        {"seconds", "5"},
                        {"warmup", "1"},
                        {"size", "64"},
                        {"count", "100000"},
                        {"connections", "1000"}});
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = flags.ReadFile("ca");
    auto tls = grpc::SslCredentials(options);
    const std::string target = flags.String("target");
    const std::string mode = flags.String("mode");

    if (mode == "unary") {
        RunUnary(flags, target, tls);
    } else if (mode == "stream") {
        RunStream(flags, target, tls);
    } else if (mode == "idle") {
        RunIdle(flags, target, tls);
    } else {
        bench::Fail(kProgram, "--mode wants unary, stream or idle, got '" + mode + "'", 2);
    }
    std::fflush(stdout);
    return 0;
}
