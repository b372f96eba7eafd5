#include "nrnm/distributed/store_probe.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <thread>

namespace nrnm {

namespace {

// Closes its descriptor on every path.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int ms_until(Deadline deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

bool bind_fails_in_use(int family, int64_t port) {
  Fd fd(::socket(family, SOCK_STREAM, 0));
  if (fd.get() < 0) return false;  // no such family here: nothing to collide with
  const int on = 1, off = 0;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));  // as c10d: TIME_WAIT does not count
  int rc;
  if (family == AF_INET6) {
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));  // IPv4 and IPv6 alike
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_any;
    address.sin6_port = htons(static_cast<uint16_t>(port));
    rc = ::bind(fd.get(), reinterpret_cast<sockaddr *>(&address), sizeof(address));
  } else {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(static_cast<uint16_t>(port));
    rc = ::bind(fd.get(), reinterpret_cast<sockaddr *>(&address), sizeof(address));
  }
  if (rc != 0) return errno == EADDRINUSE;
  return ::listen(fd.get(), 1) != 0 && errno == EADDRINUSE;
}

// One non-blocking connect, bounded by `deadline`: the connected descriptor,
// or -1 (refused, unreachable, or out of time).
int connect_once(const addrinfo &a, Deadline deadline) {
  int fd = ::socket(a.ai_family, a.ai_socktype, a.ai_protocol);
  if (fd < 0) return -1;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (::connect(fd, a.ai_addr, a.ai_addrlen) == 0) return fd;
  if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, ms_until(deadline)) == 1) {
      int error = 0;
      socklen_t size = sizeof(error);
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) == 0 && error == 0) return fd;
    }
  }
  ::close(fd);
  return -1;
}

}  // namespace

bool port_in_use(int64_t port) { return bind_fails_in_use(AF_INET6, port) || bind_fails_in_use(AF_INET, port); }

ProbeResult probe_store(const std::string &host, int64_t port, Deadline deadline, int listen_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const std::string service = std::to_string(port);
  do {
    addrinfo *found = nullptr;
    if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &found) == 0) {
      for (addrinfo *a = found; a != nullptr; a = a->ai_next) {
        Fd fd(connect_once(*a, deadline));
        if (fd.get() < 0) continue;
        ::freeaddrinfo(found);
        pollfd p{fd.get(), POLLIN, 0};
        const int wait = std::min(listen_ms, std::max(ms_until(deadline), 50));
        return ::poll(&p, 1, wait) == 0 ? ProbeResult::kQuiet : ProbeResult::kSpoke;
      }
      ::freeaddrinfo(found);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100, ms_until(deadline))));
  } while (ms_until(deadline) > 0);
  return ProbeResult::kNoListener;
}

}  // namespace nrnm
