// ws_pingpong: bidi ping-pong over grpc-websockets (improbable-eng's subprotocol) through a proxy.
//
//   ws_pingpong HOST PORT PATH CONNECTIONS SECONDS
//
// Each connection upgrades to a WebSocket with subprotocol "grpc-websockets", sends the request
// header block, then for SECONDS sends one 16-byte gRPC message (0x00 + gRPC-Web frame) and
// waits for its echo, again and again; then half-closes (a lone 0x01) and expects a trailer frame
// with grpc-status 0. One thread and epoll drive all connections, so that this client, which
// shares a core with the upstream, stays cheap next to the proxy. Prints one JSON line:
//   {"round_trips": N, "per_s": R, "p50_us": A, "p99_us": B, "failed_calls": F,
//    "client_cpu_s": C, "seconds": S}
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
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

const std::string kMessage = std::string("\x0a\x0e", 2) + "0123456789abcd";  // bench.Blob, 16 bytes
const unsigned char kMask[4] = {0x37, 0xa1, 0x5c, 0x0e};

// One client-to-server binary WebSocket frame (clients must mask; the key is fixed because the
// proxy's unmasking work does not depend on its value).
std::string ClientFrame(const std::string& payload) {
  std::string out;
  out.push_back(static_cast<char>(0x82));  // FIN + binary
  if (payload.size() < 126) {
    out.push_back(static_cast<char>(0x80 | payload.size()));
  } else {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(payload.size() >> 8));
    out.push_back(static_cast<char>(payload.size() & 0xff));
  }
  out.append(reinterpret_cast<const char*>(kMask), 4);
  for (size_t i = 0; i < payload.size(); ++i) out.push_back(static_cast<char>(payload[i] ^ kMask[i % 4]));
  return out;
}

std::string GrpcWebFrame(const std::string& message) {
  std::string out(5, '\0');
  uint32_t len = static_cast<uint32_t>(message.size());
  out[1] = static_cast<char>(len >> 24);
  out[2] = static_cast<char>(len >> 16);
  out[3] = static_cast<char>(len >> 8);
  out[4] = static_cast<char>(len);
  return out + message;
}

struct Connection {
  int fd = -1;
  std::string in;          // unparsed bytes from the socket (WebSocket frames)
  std::string stream;      // concatenated binary message payloads (gRPC-Web frames)
  double sent_at = 0;
  bool half_closed = false;
  bool done = false;
  bool ok = false;
};

bool WriteAll(int fd, const std::string& data) {
  size_t at = 0;
  while (at < data.size()) {
    ssize_t n = write(fd, data.data() + at, data.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {  // tiny frames on an idle socket: practically never
      usleep(50);
      continue;
    }
    if (n <= 0) return false;
    at += static_cast<size_t>(n);
  }
  return true;
}

int Connect(const char* host, int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host, &addr.sin_addr);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  std::string upgrade = "GET " + path + " HTTP/1.1\r\nHost: " + std::string(host) + ":" + std::to_string(port) +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: YmVuY2gtd2Vic29ja2V0cw==\r\nSec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Protocol: grpc-websockets\r\nOrigin: http://bench.example\r\n\r\n";
  if (!WriteAll(fd, upgrade)) {
    close(fd);
    return -1;
  }
  // Read the 101 response byte by byte so no WebSocket bytes after it are consumed here.
  std::string head;
  char c;
  while (head.size() < 8192 && head.find("\r\n\r\n") == std::string::npos) {
    if (read(fd, &c, 1) != 1) {
      close(fd);
      return -1;
    }
    head.push_back(c);
  }
  if (head.compare(0, 12, "HTTP/1.1 101") != 0) {
    std::fprintf(stderr, "ws_pingpong: upgrade refused: %s\n", head.substr(0, head.find("\r\n")).c_str());
    close(fd);
    return -1;
  }
  return fd;
}

// Finds grpc-status in a trailer block; -1 when absent.
int GrpcStatus(const std::string& block) {
  std::string lower = block;
  for (char& ch : lower) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
  size_t at = lower.find("grpc-status:");
  if (at == std::string::npos) return -1;
  at += 12;
  while (at < lower.size() && lower[at] == ' ') ++at;
  return at < lower.size() && lower[at] >= '0' && lower[at] <= '9' ? std::atoi(lower.c_str() + at) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s HOST PORT PATH CONNECTIONS SECONDS\n", argv[0]);
    return 2;
  }
  const char* host = argv[1];
  int port = std::atoi(argv[2]);
  std::string path = argv[3];
  int count = std::atoi(argv[4]);
  double seconds = std::atof(argv[5]);

  const std::string header_frame = ClientFrame("content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n");
  const std::string ping_frame = ClientFrame(std::string(1, '\0') + GrpcWebFrame(kMessage));
  const std::string finish_frame = ClientFrame(std::string(1, '\x01'));

  int epoll = epoll_create1(0);
  std::vector<Connection> conns(count);
  std::vector<uint32_t> latencies;
  latencies.reserve(1 << 20);
  int failed = 0;
  int open = 0;
  double start = Now();
  double deadline = start + seconds;
  for (int i = 0; i < count; ++i) {
    Connection& c = conns[i];
    c.fd = Connect(host, port, path);
    if (c.fd < 0) {
      c.done = true;
      ++failed;
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(epoll, EPOLL_CTL_ADD, c.fd, &ev);
    c.sent_at = Now();
    if (!WriteAll(c.fd, header_frame + ping_frame)) {
      c.done = true;
      ++failed;
      close(c.fd);
      continue;
    }
    ++open;
  }

  auto finish = [&](Connection& c, bool ok) {
    c.done = true;
    c.ok = ok;
    if (!ok) ++failed;
    epoll_ctl(epoll, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    --open;
  };

  std::vector<epoll_event> events(256);
  char buffer[65536];
  double hard_stop = deadline + 10;
  while (open > 0 && Now() < hard_stop) {
    int n = epoll_wait(epoll, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < n; ++e) {
      Connection& c = conns[events[e].data.u32];
      if (c.done) continue;
      ssize_t got = read(c.fd, buffer, sizeof buffer);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got <= 0) {
        finish(c, false);
        continue;
      }
      c.in.append(buffer, static_cast<size_t>(got));
      // WebSocket frames from the server (unmasked).
      size_t at = 0;
      bool closed = false;
      while (c.in.size() - at >= 2) {
        unsigned char b0 = c.in[at], b1 = c.in[at + 1];
        size_t header = 2;
        uint64_t len = b1 & 0x7f;
        if (len == 126) {
          if (c.in.size() - at < 4) break;
          len = (uint64_t(uint8_t(c.in[at + 2])) << 8) | uint8_t(c.in[at + 3]);
          header = 4;
        } else if (len == 127) {
          if (c.in.size() - at < 10) break;
          len = 0;
          for (int k = 0; k < 8; ++k) len = (len << 8) | uint8_t(c.in[at + 2 + k]);
          header = 10;
        }
        if (c.in.size() - at < header + len) break;
        int opcode = b0 & 0x0f;
        if (opcode == 0x8) closed = true;
        if (opcode == 0x2 || opcode == 0x0) c.stream.append(c.in, at + header, len);
        at += header + len;
      }
      c.in.erase(0, at);
      // gRPC-Web frames in the reassembled stream.
      size_t pos = 0;
      bool echoed = false;
      int status = -1;
      while (c.stream.size() - pos >= 5) {
        unsigned char flags = c.stream[pos];
        uint32_t len = (uint32_t(uint8_t(c.stream[pos + 1])) << 24) | (uint32_t(uint8_t(c.stream[pos + 2])) << 16) |
                       (uint32_t(uint8_t(c.stream[pos + 3])) << 8) | uint8_t(c.stream[pos + 4]);
        if (c.stream.size() - pos < 5 + len) break;
        if (flags & 0x80) {
          int s = GrpcStatus(c.stream.substr(pos + 5, len));
          if (s >= 0) status = s;
        } else if (c.stream.compare(pos + 5, len, kMessage) == 0) {
          echoed = true;
        }
        pos += 5 + len;
      }
      c.stream.erase(0, pos);
      if (status >= 0) {  // trailers: the end of the call (early if we have not half-closed)
        finish(c, c.half_closed && status == 0);
        continue;
      }
      if (closed) {
        finish(c, false);
        continue;
      }
      if (echoed && !c.half_closed) {
        double now = Now();
        latencies.push_back(static_cast<uint32_t>((now - c.sent_at) * 1e6));
        if (now < deadline) {
          c.sent_at = now;
          if (!WriteAll(c.fd, ping_frame)) finish(c, false);
        } else {
          c.half_closed = true;
          if (!WriteAll(c.fd, finish_frame)) finish(c, false);
        }
      }
    }
  }
  for (Connection& c : conns) {
    if (!c.done) finish(c, false);
  }
  double elapsed = std::min(Now(), deadline) - start;
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) -> double {
    if (latencies.empty()) return 0;
    size_t i = static_cast<size_t>(p / 100 * latencies.size());
    return latencies[std::min(i, latencies.size() - 1)];
  };
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  std::printf("{\"round_trips\": %zu, \"per_s\": %.1f, \"p50_us\": %.0f, \"p99_us\": %.0f, \"failed_calls\": %d, "
              "\"client_cpu_s\": %.3f, \"seconds\": %.3f, \"sample_errors\": []}\n",
              latencies.size(), latencies.size() / elapsed, pct(50), pct(99), failed, cpu, elapsed);
  return 0;
}
