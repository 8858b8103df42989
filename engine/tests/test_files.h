// Files for the engine tests: whole-file byte I/O (tests that corrupt, truncate or replay files),
// a fresh scratch folder per test and case, and a folder's listing.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace rwkv_test {

inline std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

inline void write_all(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// /tmp/<test>_<pid>_<name>, emptied: each case of each run starts from nothing.
inline std::string fresh_dir(const std::string& test, const std::string& name) {
  std::string d = "/tmp/" + test + "_" + std::to_string(::getpid()) + "_" + name;
  std::system(("rm -rf '" + d + "' && mkdir -p '" + d + "'").c_str());
  return d;
}

// The names in a folder, as `ls -1` sorts them.
inline std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  FILE* p = ::popen(("ls -1 '" + dir + "'").c_str(), "r");
  char buf[512];
  while (p && std::fgets(buf, sizeof buf, p)) {
    std::string s = buf;
    if (!s.empty() && s.back() == '\n') s.pop_back();
    out.push_back(s);
  }
  if (p) ::pclose(p);
  return out;
}

}  // namespace rwkv_test
