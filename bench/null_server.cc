// null_server: an HTTP/1.1 server that does no work, for bench/run.sh. It answers every request
// with the same bytes — Cairn's own answer to a point select, captured by run.sh — so that wrk,
// with the same script, connections and threads, measures what this machine and this client
// allow an HTTP server that parses no JSON and runs no SQL: the ceiling any server's point select
// is measured against (docs/benchmarks.md, "The machine's ceiling").
//
//   null_server --port N --body FILE [--threads T]
//
// It is built to cost as little as an HTTP server can: one thread per core (as Cairn's network
// threads), each with its own SO_REUSEPORT listener and a level-triggered epoll loop; a request is
// framed by its head's end and Content-Length, nothing else is parsed; every answer is one
// send() of prepared bytes. POST gets the body from FILE with Cairn's header fields; any other
// method gets an empty 200 (what Cairn answers to GET /health). Listens on 127.0.0.1 only; runs
// until killed. Prints "listening on PORT" once every thread accepts.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

constexpr size_t kMaxRequestBytes = 1 << 20;  // a connection sending more without a request ends

std::string post_answer;  // prepared once, sent for every POST
std::string other_answer;

std::string Answer(std::string_view content_type, std::string_view body) {
  std::string a = "HTTP/1.1 200 OK\r\nServer: cairn\r\n";
  if (!content_type.empty()) a += "Content-Type: " + std::string(content_type) + "\r\n";
  a += "x-request-id: 0000000000000000-1\r\nAccess-Control-Allow-Origin: *\r\n";
  a += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  a += body;
  return a;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// The length of the first complete request in `buf`: 0 if incomplete, -1 if unreadable.
long RequestLength(std::string_view buf, bool* post) {
  const size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) return buf.size() > kMaxRequestBytes ? -1 : 0;
  const std::string_view head = buf.substr(0, end + 2);
  *post = head.starts_with("POST ");
  size_t body = 0;
  for (size_t at = head.find("\r\n"); at != std::string_view::npos && at + 2 < head.size();
       at = head.find("\r\n", at + 2)) {
    const std::string_view line = head.substr(at + 2);
    if (StartsWithIgnoreCase(line, "content-length:")) {
      body = std::strtoul(line.data() + 15, nullptr, 10);
    } else if (StartsWithIgnoreCase(line, "transfer-encoding:")) {
      return -1;  // wrk never sends chunked bodies
    }
  }
  if (body > kMaxRequestBytes) return -1;
  const size_t total = end + 4 + body;
  return buf.size() >= total ? static_cast<long>(total) : 0;
}

struct Conn {
  int fd;
  std::string in;
};

void Close(int ep, Conn* c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
  close(c->fd);
  delete c;
}

// Sends all of `bytes`. The socket is non-blocking; a full send buffer (not expected with these
// small answers and one request in flight per connection) waits for room, at most a second.
bool SendAll(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, 1000) != 1) return false;
    } else {
      return false;
    }
  }
  return true;
}

int Listen(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 1024) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void Serve(int listener) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the listener
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  std::vector<epoll_event> events(256);
  std::vector<char> chunk(64 << 10);
  for (;;) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0 && errno != EINTR) return;
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Conn*>(events[static_cast<size_t>(i)].data.ptr);
      if (c == nullptr) {
        const int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) continue;
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        epoll_event cev{};
        cev.events = EPOLLIN | EPOLLRDHUP;
        cev.data.ptr = new Conn{fd, {}};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        continue;
      }
      const ssize_t got = recv(c->fd, chunk.data(), chunk.size(), 0);
      if (got <= 0) {
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        Close(ep, c);
        continue;
      }
      c->in.append(chunk.data(), static_cast<size_t>(got));
      bool ok = true;
      size_t used = 0;
      for (;;) {
        bool post = false;
        const long len = RequestLength(std::string_view(c->in).substr(used), &post);
        if (len < 0) ok = false;
        if (len <= 0) break;
        used += static_cast<size_t>(len);
        if (!SendAll(c->fd, post ? post_answer : other_answer)) {
          ok = false;
          break;
        }
      }
      if (!ok) {
        Close(ep, c);
        continue;
      }
      c->in.erase(0, used);
    }
  }
}

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr, "null_server: %s\nusage: null_server --port N --body FILE [--threads T]\n",
               why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  int port = -1;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  std::string body_file;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 >= argc) Usage("every option takes a value");
    if (a == "--port") {
      port = std::atoi(argv[++i]);
    } else if (a == "--threads") {
      threads = std::atoi(argv[++i]);
    } else if (a == "--body") {
      body_file = argv[++i];
    } else {
      Usage("unknown option");
    }
  }
  if (port <= 0 || port > 65535) Usage("--port must be 1..65535");
  if (body_file.empty()) Usage("--body is required");
  if (threads <= 0) threads = 2;
  std::ifstream f(body_file, std::ios::binary);
  if (!f) Usage("cannot read the --body file");
  std::stringstream body;
  body << f.rdbuf();
  post_answer = Answer("application/json", body.str());
  other_answer = Answer("text/plain", "");

  std::vector<int> listeners;
  for (int i = 0; i < threads; ++i) {
    const int fd = Listen(port);
    if (fd < 0) {
      std::fprintf(stderr, "null_server: cannot listen on 127.0.0.1:%d: %s\n", port,
                   std::strerror(errno));
      return 1;
    }
    listeners.push_back(fd);
  }
  std::vector<std::thread> workers;
  for (int fd : listeners) workers.emplace_back(Serve, fd);
  std::printf("listening on %d\n", port);
  std::fflush(stdout);
  for (auto& t : workers) t.join();
  return 0;
}
