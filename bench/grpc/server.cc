// bench-grpc-server: the gRPC C++ peer of the Trellis bench server.
//
//   bench-grpc-server --port P --cert F --key F [--api callback|sync] [--threads N]
//
// Serves trellis.echo.v1.EchoService (Echo and Expand) over TLS on 127.0.0.1:P and prints
// `ready port=P api=A` on stdout once it is listening. SIGTERM or SIGINT shut it down.
//
// Two of gRPC C++'s server APIs are offered, since both are what its users deploy:
// `callback` (the default; the reactor API gRPC recommends for new asynchronous servers,
// run on gRPC's own threads) and `sync` (a handler per call on a pool of up to --threads
// threads). --threads applies to `sync` only; the callback API sizes its threads itself.

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "flags.h"
#include "trellis/echo/v1/echo.grpc.pb.h"

namespace {

using trellis::echo::v1::EchoRequest;
using trellis::echo::v1::EchoResponse;
using trellis::echo::v1::EchoService;

constexpr uint32_t kMaxResponseSize = 4 << 20;

grpc::Status ValidateExpand(const EchoRequest& request) {
    if (request.response_size() > kMaxResponseSize) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "response_size is larger than 4 MiB");
    }
    return grpc::Status::OK;
}

// The reactor API: Echo answers inline; Expand keeps one write outstanding at a time and
// issues the next from OnWriteDone, which is how the API bounds a stream's buffering.
class CallbackEcho final : public EchoService::CallbackService {
    grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                   const EchoRequest* request,
                                   EchoResponse* response) override {
        grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
        response->set_payload(request->payload());
        if (request->delay_ms() == 0) {
            reactor->Finish(grpc::Status::OK);
        } else {
            // Not on any measured path; a sleeping thread keeps the example short.
            std::thread([reactor, delay = request->delay_ms()] {
                std::this_thread::sleep_for(std::chrono::milliseconds(delay));
                reactor->Finish(grpc::Status::OK);
            }).detach();
        }
        return reactor;
    }

    class ExpandWriter final : public grpc::ServerWriteReactor<EchoResponse> {
      public:
        explicit ExpandWriter(const EchoRequest& request) : remaining_(request.count()) {
            grpc::Status valid = ValidateExpand(request);
            if (!valid.ok()) {
                Finish(valid);
                return;
            }
            response_.set_payload(std::string(request.response_size(), 'x'));
            WriteNext();
        }

        void OnWriteDone(bool ok) override {
            if (!ok) {
                Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
                return;
            }
            WriteNext();
        }

        void OnDone() override { delete this; }

      private:
        void WriteNext() {
            if (remaining_ == 0) {
                Finish(grpc::Status::OK);
                return;
            }
            remaining_--;
            response_.set_sequence(sequence_++);
            StartWrite(&response_);
        }

        EchoResponse response_;
        uint32_t remaining_;
        uint32_t sequence_ = 0;
    };

    grpc::ServerWriteReactor<EchoResponse>* Expand(grpc::CallbackServerContext*,
                                                   const EchoRequest* request) override {
        return new ExpandWriter(*request);
    }
};

// The synchronous API: each call runs on a thread from the server's pool.
class SyncEcho final : public EchoService::Service {
    grpc::Status Echo(grpc::ServerContext*, const EchoRequest* request,
                      EchoResponse* response) override {
        if (request->delay_ms() > 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(request->delay_ms()));
        }
        response->set_payload(request->payload());
        return grpc::Status::OK;
    }

    grpc::Status Expand(grpc::ServerContext*, const EchoRequest* request,
                        grpc::ServerWriter<EchoResponse>* writer) override {
        grpc::Status valid = ValidateExpand(*request);
        if (!valid.ok()) return valid;
        EchoResponse response;
        response.set_payload(std::string(request->response_size(), 'x'));
        for (uint32_t i = 0; i < request->count(); i++) {
            response.set_sequence(i);
            if (!writer->Write(response)) {
                return grpc::Status(grpc::StatusCode::CANCELLED, "write failed");
            }
        }
        return grpc::Status::OK;
    }
};

}  // namespace

int main(int argc, char** argv) {
    const std::string program = "bench-grpc-server";
    bench::Flags flags(program, argc, argv,
                       {{"port", ""}, {"cert", ""}, {"key", ""}, {"api", "callback"},
                        {"threads", "0"}});
    long port = flags.Int("port");
    std::string api = flags.String("api");
    long threads = flags.Int("threads");
    if (api != "callback" && api != "sync") {
        bench::Fail(program, "--api wants callback or sync, got '" + api + "'", 2);
    }

    // Block the shutdown signals before gRPC starts its threads, so that only sigwait
    // below receives them.
    sigset_t shutdown_signals;
    sigemptyset(&shutdown_signals);
    sigaddset(&shutdown_signals, SIGTERM);
    sigaddset(&shutdown_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);

    grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back({flags.ReadFile("key"), flags.ReadFile("cert")});

    CallbackEcho callback_service;
    SyncEcho sync_service;
    grpc::ServerBuilder builder;
    int bound_port = 0;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port),
                             grpc::SslServerCredentials(tls), &bound_port);
    if (api == "callback") {
        builder.RegisterService(&callback_service);
    } else {
        builder.RegisterService(&sync_service);
        if (threads > 0) {
            builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                                        static_cast<int>(threads));
        }
    }
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (server == nullptr || bound_port == 0) {
        bench::Fail(program, "cannot listen on 127.0.0.1:" + std::to_string(port));
    }
    std::printf("ready port=%d api=%s\n", bound_port, api.c_str());
    std::fflush(stdout);

    int received = 0;
    sigwait(&shutdown_signals, &received);
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server->Wait();
    return 0;
}
