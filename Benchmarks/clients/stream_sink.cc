// stream_sink: one server-streaming gRPC-Web call over HTTP/1.1, read as fast as possible.
//
//   stream_sink HOST PORT PATH TOTAL_BYTES MESSAGE_BYTES
//
// Sends a binary gRPC-Web POST whose body asks the benchmark upstream's Stream method for
// TOTAL_BYTES in messages of MESSAGE_BYTES, then reads the (chunked or length-delimited)
// response with large reads, skipping message payloads without copying them anywhere, and
// checks the final 0x80 trailer frame. Prints one JSON line:
//   {"http": 200, "body_bytes": N, "messages": N, "grpc_status": 0, "seconds": S}
// grpc_status is -1 when no status was found (which the harness counts as an error).
// Written in C++ rather than Python so the client stays far from being the bottleneck.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

void AppendVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Parses "grpc-status: N" out of a header block (trailer frame or HTTP header section).
int FindGrpcStatus(const std::string& block) {
  std::string lower;
  lower.reserve(block.size());
  for (char c : block) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  size_t at = lower.find("grpc-status:");
  if (at == std::string::npos) return -1;
  at += 12;
  while (at < lower.size() && lower[at] == ' ') ++at;
  if (at >= lower.size() || lower[at] < '0' || lower[at] > '9') return -1;
  return std::atoi(lower.c_str() + at);
}

// gRPC-Web frame walker fed with de-chunked body bytes: skips data frames, keeps trailer frames.
struct FrameWalker {
  unsigned char header[5];
  size_t header_have = 0;
  uint64_t payload_left = 0;
  bool in_trailer = false;
  uint64_t messages = 0;
  std::string trailer;

  void Feed(const unsigned char* p, size_t n) {
    while (n > 0) {
      if (payload_left == 0 && header_have < 5) {
        header[header_have++] = *p++;
        --n;
        if (header_have == 5) {
          payload_left = (uint64_t(header[1]) << 24) | (uint64_t(header[2]) << 16) |
                         (uint64_t(header[3]) << 8) | uint64_t(header[4]);
          in_trailer = (header[0] & 0x80) != 0;
          if (!in_trailer) ++messages;
          if (payload_left == 0) header_have = 0;
        }
        continue;
      }
      size_t take = n < payload_left ? n : static_cast<size_t>(payload_left);
      if (in_trailer) trailer.append(reinterpret_cast<const char*>(p), take);
      p += take;
      n -= take;
      payload_left -= take;
      if (payload_left == 0) header_have = 0;
    }
  }
};

// HTTP/1.1 chunked-body decoder that hands payload bytes straight to the frame walker.
struct ChunkDecoder {
  enum State { kSize, kSizeExt, kSizeLF, kData, kDataCR, kDataLF, kTrailers, kDone } state = kSize;
  uint64_t size = 0;
  uint64_t left = 0;
  size_t trailer_line = 0;  // bytes on the current trailer line, to spot the empty line

  // Returns false on a framing error.
  bool Feed(const unsigned char* p, size_t n, FrameWalker& walker, uint64_t& body_bytes) {
    while (n > 0 && state != kDone) {
      unsigned char c = *p;
      switch (state) {
        case kSize:
          if (c >= '0' && c <= '9') size = size * 16 + (c - '0');
          else if (c >= 'a' && c <= 'f') size = size * 16 + (c - 'a' + 10);
          else if (c >= 'A' && c <= 'F') size = size * 16 + (c - 'A' + 10);
          else if (c == ';' || c == ' ') state = kSizeExt;
          else if (c == '\r') state = kSizeLF;
          else return false;
          ++p, --n;
          break;
        case kSizeExt:
          if (c == '\r') state = kSizeLF;
          ++p, --n;
          break;
        case kSizeLF:
          if (c != '\n') return false;
          ++p, --n;
          if (size == 0) {
            state = kTrailers;
            trailer_line = 0;
          } else {
            left = size;
            state = kData;
          }
          size = 0;
          break;
        case kData: {
          size_t take = n < left ? n : static_cast<size_t>(left);
          walker.Feed(p, take);
          body_bytes += take;
          p += take, n -= take, left -= take;
          if (left == 0) state = kDataCR;
          break;
        }
        case kDataCR:
          if (c != '\r') return false;
          state = kDataLF;
          ++p, --n;
          break;
        case kDataLF:
          if (c != '\n') return false;
          state = kSize;
          ++p, --n;
          break;
        case kTrailers:
          if (c == '\n') {
            if (trailer_line == 0) state = kDone;
            trailer_line = 0;
          } else if (c != '\r') {
            ++trailer_line;
          }
          ++p, --n;
          break;
        case kDone:
          break;
      }
    }
    return true;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s HOST PORT PATH TOTAL_BYTES MESSAGE_BYTES\n", argv[0]);
    return 2;
  }
  const char* host = argv[1];
  int port = std::atoi(argv[2]);
  std::string path = argv[3];
  uint64_t total = std::strtoull(argv[4], nullptr, 10);
  uint64_t message_bytes = std::strtoull(argv[5], nullptr, 10);

  // StreamRequest{total_bytes=1, message_bytes=2}, then the 5-byte gRPC-Web frame header.
  std::string message;
  message.push_back(0x08);
  AppendVarint(message, total);
  message.push_back(0x10);
  AppendVarint(message, message_bytes);
  std::string body;
  body.push_back(0);
  uint32_t len = static_cast<uint32_t>(message.size());
  body.push_back(static_cast<char>(len >> 24));
  body.push_back(static_cast<char>(len >> 16));
  body.push_back(static_cast<char>(len >> 8));
  body.push_back(static_cast<char>(len));
  body += message;
  std::string request = "POST " + path + " HTTP/1.1\r\nHost: " + host + ":" + argv[2] +
                        "\r\nContent-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n"
                        "Accept: application/grpc-web+proto\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body;

  double start = Now();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host, &addr.sin_addr);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::printf("{\"error\": \"connect: %s\"}\n", std::strerror(errno));
    return 1;
  }
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    std::printf("{\"error\": \"short write\"}\n");
    return 1;
  }

  std::vector<unsigned char> buffer(1 << 20);
  std::string head;
  int http_status = 0;
  bool chunked = false;
  long long content_left = -1;  // -1: read to EOF
  int header_status = -1;
  FrameWalker walker;
  ChunkDecoder chunks;
  uint64_t body_bytes = 0;
  bool headers_done = false;
  bool framing_error = false;

  for (;;) {
    ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    const unsigned char* p = buffer.data();
    size_t left = static_cast<size_t>(n);
    if (!headers_done) {
      head.append(reinterpret_cast<const char*>(p), left);
      size_t end = head.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      headers_done = true;
      std::string fields = head.substr(0, end + 2);
      std::string rest = head.substr(end + 4);
      if (fields.size() > 12) http_status = std::atoi(fields.c_str() + 9);
      std::string lower;
      for (char c : fields) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
      chunked = lower.find("transfer-encoding: chunked") != std::string::npos;
      size_t cl = lower.find("content-length:");
      if (!chunked && cl != std::string::npos) content_left = std::atoll(lower.c_str() + cl + 15);
      header_status = FindGrpcStatus(fields);  // trailers-only responses carry it here
      p = reinterpret_cast<const unsigned char*>(rest.data());
      left = rest.size();
      if (chunked) {
        framing_error |= !chunks.Feed(p, left, walker, body_bytes);
      } else {
        walker.Feed(p, left);
        body_bytes += left;
        if (content_left >= 0) content_left -= static_cast<long long>(left);
      }
    } else if (chunked) {
      framing_error |= !chunks.Feed(p, left, walker, body_bytes);
    } else {
      walker.Feed(p, left);
      body_bytes += left;
      if (content_left >= 0) content_left -= static_cast<long long>(left);
    }
    if (framing_error) break;
    if (chunked && chunks.state == ChunkDecoder::kDone) break;
    if (!chunked && content_left == 0) break;
  }
  double seconds = Now() - start;
  close(fd);

  int grpc_status = FindGrpcStatus(walker.trailer);
  if (grpc_status < 0) grpc_status = header_status;
  if (framing_error) grpc_status = -1;
  std::printf("{\"http\": %d, \"body_bytes\": %llu, \"messages\": %llu, \"grpc_status\": %d, \"seconds\": %.6f}\n",
              http_status, static_cast<unsigned long long>(body_bytes),
              static_cast<unsigned long long>(walker.messages), grpc_status, seconds);
  return 0;
}
