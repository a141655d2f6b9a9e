// Benchmark upstream: a small, fast native gRPC server (gRPC C++ callback API) so that the
// proxies, not the backend, dominate what the benchmark measures.
//
//   upstream_server PORT
//
// Listens on 127.0.0.1:PORT (plaintext HTTP/2), prints "ready" once serving, and on SIGTERM or
// SIGINT shuts down and prints its call counters as one JSON line, which the harness uses to
// cross-check the clients' success counts.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "bench.grpc.pb.h"

namespace {

std::atomic<unsigned long long> echo_calls{0};
std::atomic<unsigned long long> streams_ok{0};
std::atomic<unsigned long long> streams_failed{0};
std::atomic<unsigned long long> chat_messages{0};

// Size of the varint that encodes n.
size_t VarintSize(size_t n) {
  size_t size = 1;
  while (n >= 0x80) {
    n >>= 7;
    ++size;
  }
  return size;
}

// Length of Blob.data such that the encoded Blob is exactly `encoded` bytes (or as close as the
// varint length allows), so the clients can ask for "64 KiB messages" and get them on the wire.
size_t DataLengthForEncodedSize(size_t encoded) {
  if (encoded < 2) return 0;
  size_t data = encoded - 2;
  while (data > 0 && 1 + VarintSize(data) + data > encoded) --data;
  return data;
}

// Writes one preallocated message over and over until the requested byte count is reached.
class StreamWriter final : public grpc::ServerWriteReactor<bench::Blob> {
 public:
  explicit StreamWriter(const bench::StreamRequest* request) {
    size_t message_bytes = request->message_bytes() == 0 ? 65536 : request->message_bytes();
    message_.mutable_data()->assign(DataLengthForEncodedSize(message_bytes), 'x');
    size_t encoded = message_.ByteSizeLong();
    remaining_messages_ = (request->total_bytes() + encoded - 1) / encoded;
    WriteNext();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      streams_failed.fetch_add(1, std::memory_order_relaxed);
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    WriteNext();
  }

  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    if (remaining_messages_ == 0) {
      streams_ok.fetch_add(1, std::memory_order_relaxed);
      Finish(grpc::Status::OK);
      return;
    }
    --remaining_messages_;
    StartWrite(&message_);
  }

  bench::Blob message_;
  unsigned long long remaining_messages_ = 0;
};

// Echoes each message of a bidirectional stream, one at a time (read, write, read, ...).
class ChatEcho final : public grpc::ServerBidiReactor<bench::Blob, bench::Blob> {
 public:
  ChatEcho() { StartRead(&message_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    chat_messages.fetch_add(1, std::memory_order_relaxed);
    StartWrite(&message_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    StartRead(&message_);
  }

  void OnDone() override { delete this; }

 private:
  bench::Blob message_;
};

class BenchService final : public bench::Bench::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context, const bench::Blob* request,
                                 bench::Blob* response) override {
    response->set_data(request->data());
    echo_calls.fetch_add(1, std::memory_order_relaxed);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerWriteReactor<bench::Blob>* Stream(grpc::CallbackServerContext*,
                                                const bench::StreamRequest* request) override {
    return new StreamWriter(request);
  }

  grpc::ServerBidiReactor<bench::Blob, bench::Blob>* Chat(grpc::CallbackServerContext*) override {
    return new ChatEcho();
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  // Block the stop signals before gRPC starts its threads, so only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  BenchService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(std::string("127.0.0.1:") + argv[1], grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(16 * 1024 * 1024);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "upstream: cannot listen on port %s\n", argv[1]);
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  std::printf("{\"echo_calls\": %llu, \"streams_ok\": %llu, \"streams_failed\": %llu, \"chat_messages\": %llu}\n",
              echo_calls.load(), streams_ok.load(), streams_failed.load(), chat_messages.load());
  std::fflush(stdout);
  return 0;
}
