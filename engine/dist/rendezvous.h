// How NCCL's unique id (128 bytes, from rank 0's ncclGetUniqueId) reaches every rank: rank 0
// listens on MASTER_PORT; every other rank connects to MASTER_ADDR:MASTER_PORT (retrying until
// rank 0 is up), says who it is, and gets the id back. After that NCCL bootstraps on its own.
// The exchange (all integers little-endian):
//   rank -> 0: "RWKVRDV1", u32 rank, u32 world_size
//   0 -> rank: u8 status (0 ok, 1 world size differs, 2 rank out of range or taken), 128 id bytes
// Every wait is bounded: a rank that never comes, a rank 0 that is never reachable, or a peer of
// another run on the port ends in EngineError E_DIST_RENDEZVOUS naming the ranks and the address.
#pragma once
#include <array>
#include <cstdint>
#include <string>

namespace rwkv {

using UniqueIdBytes = std::array<uint8_t, 128>;

// A listening TCP socket on every interface; port 0 picks a free port. Returns the fd and
// writes the port it is bound to. Throws E_DIST_RENDEZVOUS (e.g. the port is in use).
int listen_on_port(int port, int* bound_port);

// Rank 0: accepts world_size - 1 ranks on listen_fd (closed on return) and sends each the id.
void serve_unique_id(int listen_fd, int world_size, const UniqueIdBytes& id, int timeout_ms);

// Ranks 1..world_size-1: the id from rank 0 at addr:port.
UniqueIdBytes fetch_unique_id(const std::string& addr, int port, int rank, int world_size, int timeout_ms);

}  // namespace rwkv
