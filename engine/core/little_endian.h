// Little-endian integers in byte buffers, shared by the zip archive and the pickle code.
#pragma once
#include <cstdint>
#include <vector>

namespace rwkv::le {

inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t rd32(const uint8_t* p) { return rd16(p) | (static_cast<uint32_t>(rd16(p + 2)) << 16); }
inline uint64_t rd64(const uint8_t* p) { return rd32(p) | (static_cast<uint64_t>(rd32(p + 4)) << 32); }

inline void put16(std::vector<uint8_t>& b, uint16_t v) { b.push_back(v & 0xFF); b.push_back(static_cast<uint8_t>(v >> 8)); }
inline void put32(std::vector<uint8_t>& b, uint32_t v) { put16(b, v & 0xFFFF); put16(b, static_cast<uint16_t>(v >> 16)); }
inline void put64(std::vector<uint8_t>& b, uint64_t v) { put32(b, static_cast<uint32_t>(v)); put32(b, static_cast<uint32_t>(v >> 32)); }

}  // namespace rwkv::le
