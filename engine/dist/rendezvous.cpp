// The unique-id rendezvous between rank 0 and the other ranks (see rendezvous.h).
#include "dist/rendezvous.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "core/errors.h"

namespace rwkv {
namespace {

using Clock = std::chrono::steady_clock;
constexpr char kMagic[8] = {'R', 'W', 'K', 'V', 'R', 'D', 'V', '1'};

[[noreturn]] void fail(const std::string& message, const std::string& hint) {
  throw EngineError("E_DIST_RENDEZVOUS", message, hint);
}

int ms_left(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? int(left) : 0;
}

// Reads or writes exactly n bytes before the deadline; false on timeout, close or error.
bool io_exact(int fd, void* buf, size_t n, bool write, Clock::time_point deadline) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n > 0) {
    pollfd pf{fd, short(write ? POLLOUT : POLLIN), 0};
    const int r = ::poll(&pf, 1, ms_left(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    const ssize_t k = write ? ::send(fd, p, n, MSG_NOSIGNAL) : ::recv(fd, p, n, 0);
    if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (k <= 0) return false;
    p += k;
    n -= size_t(k);
  }
  return true;
}

void put_u32(uint8_t* p, uint32_t v) { for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i)); }
uint32_t get_u32(const uint8_t* p) { uint32_t v = 0; for (int i = 0; i < 4; ++i) v |= uint32_t(p[i]) << (8 * i); return v; }

// connect() bounded by the deadline (a blocking connect to a silent host waits minutes).
bool connect_by(int fd, const sockaddr* a, socklen_t len, Clock::time_point deadline, std::string& error) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = ::connect(fd, a, len);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd pf{fd, POLLOUT, 0};
    rc = ::poll(&pf, 1, std::min(ms_left(deadline), 2000));
    int err = 0;
    socklen_t el = sizeof err;
    if (rc == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0) rc = 0;
    else { errno = rc == 0 ? ETIMEDOUT : err; rc = -1; }
  }
  if (rc != 0) { error = std::strerror(errno); return false; }
  ::fcntl(fd, F_SETFL, flags);
  return true;
}

std::string rank_list(const std::set<int>& ranks) {
  std::string s;
  for (int r : ranks) s += (s.empty() ? "" : ", ") + std::to_string(r);
  return s;
}

}  // namespace

int listen_on_port(int port, int* bound_port) {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int v6 = fd >= 0;
  const int s = v6 ? fd : ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail(std::string("cannot open a TCP socket: ") + std::strerror(errno), "");
  const int one = 1, zero = 0;
  ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc;
  if (v6) {
    ::setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);  // IPv4 peers too
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_any;
    a.sin6_port = htons(uint16_t(port));
    rc = ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    a.sin_port = htons(uint16_t(port));
    rc = ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0 || ::listen(s, 256) != 0) {
    const std::string why = std::strerror(errno);
    ::close(s);
    fail("rank 0 cannot listen on port " + std::to_string(port) + ": " + why,
         "set MASTER_PORT to a free port (another run may hold this one)");
  }
  sockaddr_storage got{};
  socklen_t len = sizeof got;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&got), &len);
  if (bound_port)
    *bound_port = got.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&got)->sin6_port)
                                            : ntohs(reinterpret_cast<sockaddr_in*>(&got)->sin_port);
  return s;
}

void serve_unique_id(int listen_fd, int world_size, const UniqueIdBytes& id, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::set<int> missing;
  for (int r = 1; r < world_size; ++r) missing.insert(r);
  std::string refused;  // the last hello that was turned away, for the timeout's message
  while (!missing.empty()) {
    pollfd pf{listen_fd, POLLIN, 0};
    const int r = ::poll(&pf, 1, ms_left(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      ::close(listen_fd);
      fail("rank" + std::string(missing.size() > 1 ? "s " : " ") + rank_list(missing) + " did not reach rank 0 within " +
               std::to_string(timeout_ms / 1000) + " s" + (refused.empty() ? "" : " (" + refused + ")"),
           "start every machine's launcher with the same MASTER_ADDR/MASTER_PORT, --devices and --num_nodes, and "
           "let the port through the firewall");
    }
    const int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    // a short per-peer bound: one slow or foreign client must not hold the others up
    const auto peer_deadline = std::min(deadline, Clock::now() + std::chrono::seconds(10));
    uint8_t hello[16];
    uint8_t reply[1 + 128];
    if (io_exact(c, hello, sizeof hello, false, peer_deadline) && std::memcmp(hello, kMagic, 8) == 0) {
      const int rank = int(get_u32(hello + 8)), world = int(get_u32(hello + 12));
      reply[0] = world != world_size ? 1 : (!missing.count(rank) ? 2 : 0);
      std::memcpy(reply + 1, id.data(), 128);
      if (reply[0] != 0) {
        std::memset(reply + 1, 0, 128);
        refused = world != world_size
                      ? "a rank of a run with " + std::to_string(world) + " ranks connected"
                      : "rank " + std::to_string(rank) + " connected twice or is out of range";
      }
      if (io_exact(c, reply, sizeof reply, true, peer_deadline) && reply[0] == 0) missing.erase(rank);
    }
    ::close(c);
  }
  ::close(listen_fd);
}

UniqueIdBytes fetch_unique_id(const std::string& addr, int port, int rank, int world_size, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string where = addr + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  std::string last_error = "no answer";
  while (true) {
    addrinfo* res = nullptr;
    const int g = ::getaddrinfo(addr.c_str(), std::to_string(port).c_str(), &hints, &res);
    if (g != 0) {
      last_error = std::string("cannot resolve ") + addr + ": " + ::gai_strerror(g);
    } else {
      for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        if (!connect_by(fd, ai->ai_addr, ai->ai_addrlen, deadline, last_error)) {
          ::close(fd);
          continue;
        }
        uint8_t hello[16];
        std::memcpy(hello, kMagic, 8);
        put_u32(hello + 8, uint32_t(rank));
        put_u32(hello + 12, uint32_t(world_size));
        uint8_t reply[1 + 128];
        const bool ok = io_exact(fd, hello, sizeof hello, true, deadline) && io_exact(fd, reply, sizeof reply, false, deadline);
        ::close(fd);
        if (!ok) { last_error = "rank 0 accepted but did not answer"; continue; }
        ::freeaddrinfo(res);
        if (reply[0] == 1)
          fail("rank 0 at " + where + " runs a different number of ranks than this rank's " + std::to_string(world_size),
               "give every machine the same --devices and --num_nodes");
        if (reply[0] != 0)
          fail("rank 0 at " + where + " already has a rank " + std::to_string(rank),
               "each machine needs its own machine rank (GROUP_RANK / SLURM_NODEID / RANK)");
        UniqueIdBytes id;
        std::memcpy(id.data(), reply + 1, 128);
        return id;
      }
      ::freeaddrinfo(res);
    }
    if (ms_left(deadline) == 0)
      fail("rank " + std::to_string(rank) + " could not reach rank 0 at " + where + " within " +
               std::to_string(timeout_ms / 1000) + " s (" + last_error + ")",
           "check MASTER_ADDR/MASTER_PORT, that rank 0's machine started, and that the port is open between machines");
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(200, ms_left(deadline))));
  }
}

}  // namespace rwkv
