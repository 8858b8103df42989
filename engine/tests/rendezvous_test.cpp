// dist/rendezvous over real TCP on this machine: rank 0 hands the 128-byte id to three ranks
// (one connecting before rank 0 listens), and every failure is bounded and names its cause: a
// rank that never comes, no rank 0, a rank of another world size, a rank that comes twice.
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "check.h"
#include "core/errors.h"
#include "dist/rendezvous.h"

using namespace rwkv;

namespace {
std::string error_of(const std::function<void()>& f) {
  try { f(); } catch (const EngineError& e) { return e.code + ": " + e.what(); }
  return "";
}
UniqueIdBytes some_id() {
  UniqueIdBytes id;
  for (size_t i = 0; i < id.size(); ++i) id[i] = uint8_t(i * 7 + 3);
  return id;
}
}  // namespace

int main() {
  const UniqueIdBytes id = some_id();
  // Four ranks; rank 3 starts trying before rank 0 listens (it retries).
  {
    int port = 0;
    int probe = listen_on_port(0, &port);
    ::close(probe);  // a port that was free a moment ago; rank 0 binds it below
    std::vector<UniqueIdBytes> got(4);
    std::vector<std::string> errors(4);
    std::thread early([&] { errors[3] = error_of([&] { got[3] = fetch_unique_id("127.0.0.1", port, 3, 4, 10000); }); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    int bound = 0;
    const int fd = listen_on_port(port, &bound);
    CHECK(bound == port);
    std::thread server([&] { errors[0] = error_of([&] { serve_unique_id(fd, 4, id, 10000); }); });
    std::vector<std::thread> ranks;
    for (int r = 1; r <= 2; ++r)
      ranks.emplace_back([&, r] { errors[r] = error_of([&] { got[r] = fetch_unique_id("localhost", port, r, 4, 10000); }); });
    for (auto& t : ranks) t.join();
    early.join();
    server.join();
    for (int r = 0; r < 4; ++r) CHECK(errors[r].empty());
    for (int r = 1; r < 4; ++r) CHECK(got[r] == id);
  }
  // A rank that never comes: rank 0 gives up after its timeout, naming the missing rank.
  {
    int port = 0;
    const int fd = listen_on_port(0, &port);
    std::string client_error;
    std::thread one([&] { client_error = error_of([&] { fetch_unique_id("127.0.0.1", port, 1, 3, 5000); }); });
    const auto t0 = std::chrono::steady_clock::now();
    const std::string e = error_of([&] { serve_unique_id(fd, 3, id, 1500); });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    one.join();
    CHECK(client_error.empty());
    CHECK(e.rfind("E_DIST_RENDEZVOUS", 0) == 0 && e.find("rank 2 did not reach rank 0") != std::string::npos);
    CHECK(s >= 1.4 && s < 5);
  }
  // No rank 0: the rank gives up after its timeout, naming the address.
  {
    int port = 0;
    ::close(listen_on_port(0, &port));
    const auto t0 = std::chrono::steady_clock::now();
    const std::string e = error_of([&] { fetch_unique_id("127.0.0.1", port, 1, 2, 1200); });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(e.find("could not reach rank 0 at 127.0.0.1:" + std::to_string(port)) != std::string::npos);
    CHECK(s >= 1.1 && s < 5);
  }
  // A rank of a run with another world size, and a rank that comes twice.
  {
    int port = 0;
    const int fd = listen_on_port(0, &port);
    std::string server_error;
    std::thread server([&] { server_error = error_of([&] { serve_unique_id(fd, 2, id, 3000); }); });
    const std::string other = error_of([&] { fetch_unique_id("127.0.0.1", port, 1, 4, 3000); });
    CHECK(other.find("different number of ranks") != std::string::npos);
    UniqueIdBytes got{};
    CHECK(error_of([&] { got = fetch_unique_id("127.0.0.1", port, 1, 2, 3000); }).empty());
    CHECK(got == id);
    server.join();
    CHECK(server_error.empty());  // the stray peer was turned away, the real rank 1 served
  }
  {
    int port = 0;
    const int fd = listen_on_port(0, &port);
    std::string server_error;
    std::thread server([&] { server_error = error_of([&] { serve_unique_id(fd, 3, id, 3000); }); });
    CHECK(error_of([&] { fetch_unique_id("127.0.0.1", port, 1, 3, 3000); }).empty());
    const std::string twice = error_of([&] { fetch_unique_id("127.0.0.1", port, 1, 3, 3000); });
    CHECK(twice.find("already has a rank 1") != std::string::npos);
    server.join();
    CHECK(server_error.find("rank 2 did not reach") != std::string::npos);
    CHECK(server_error.find("connected twice") != std::string::npos);
  }
  // The port is taken: a clear error, not a hang.
  {
    int port = 0;
    const int fd = listen_on_port(0, &port);
    CHECK(error_of([&] { listen_on_port(port, nullptr); }).find("cannot listen on port") != std::string::npos);
    ::close(fd);
  }
  return rwkv_test::summary("rendezvous_test");
}
