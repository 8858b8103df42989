// binidx: round trip, RWKV's cross-document reads, uint16/int32 choice, missing/corrupt files,
// ids >= vocab, and make_data.py's magic_prime on the values RWKV-LM's scripts publish.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "core/binidx.h"
#include "core/errors.h"
#include "tests/check.h"
#include "tests/test_files.h"

using namespace rwkv;

using rwkv_test::read_all;
using rwkv_test::write_all;

int main() {
  const std::string dir = "/tmp/rwkv_binidx_test_" + std::to_string(::getpid());
  std::system(("mkdir -p " + dir).c_str());
  const std::string prefix = dir + "/data";

  std::vector<std::vector<uint32_t>> docs = {{10, 11, 12, 0}, {20, 0}, {30, 31, 65535, 0}};
  write_binidx(prefix, docs);
  {
    BinIdxDataset d(prefix);
    CHECK(d.num_tokens() == 10);
    CHECK(d.num_documents() == 3);
    CHECK(d.dtype_code() == 8);
    std::vector<uint32_t> out;
    d.read_document(2, out);
    CHECK(out == (std::vector<uint32_t>{30, 31, 65535, 0}));
    d.read_tokens(2, 5, out);  // across document boundaries, as the pretraining sampler reads
    CHECK(out == (std::vector<uint32_t>{12, 0, 20, 0, 30}));
    CHECK_THROWS_CODE(d.read_tokens(6, 5, out), "E_BINIDX_RANGE");
    CHECK_THROWS_CODE(d.read_document(3, out), "E_BINIDX_RANGE");
    check_token_ids(d, 65536);  // all in range: no throw
    CHECK_THROWS_CODE(check_token_ids(d, 50000), "E_DATA_TOKEN_RANGE");
    std::string message;
    try { check_token_ids(d, 31); } catch (const EngineError& e) { message = e.what() + std::string(" | ") + e.hint; }
    CHECK(message.find("2 token id(s)") != std::string::npos);             // 31 and 65535
    CHECK(message.find("first: id 31 at token 7") != std::string::npos);
    CHECK(message.find("largest id 65535") != std::string::npos);
    CHECK(message.find("--vocab_size 65536") != std::string::npos);
  }
  // Megatron's exact header bytes (what RWKV's binidx.py reads).
  std::vector<uint8_t> idx = read_all(prefix + ".idx");
  CHECK(idx.size() == 34 + 3 * 4 + 3 * 8 + 4 * 8);
  CHECK(std::string(idx.begin(), idx.begin() + 7) == "MMIDIDX");
  CHECK(idx[9] == 1 && idx[17] == 8 && idx[18] == 3 && idx[26] == 4);
  CHECK(idx[34] == 4 && idx[38] == 2 && idx[42] == 4);          // sizes
  CHECK(idx[46] == 0 && idx[54] == 8 && idx[62] == 12);         // byte pointers
  CHECK(read_all(prefix + ".bin").size() == 20);

  // What RWKV-LM's own writer produces (fixtures/make_binidx_fixture.sh) reads the same, and our
  // writer produces the same .idx bytes for the same documents.
  {
    BinIdxDataset theirs("fixtures/rwkv_lm_writer");
    CHECK(theirs.num_documents() == 3 && theirs.num_tokens() == 11 && theirs.dtype_code() == 8);
    std::vector<uint32_t> out;
    theirs.read_document(2, out);
    CHECK(out == (std::vector<uint32_t>{1, 2, 3, 65535, 0}));
    write_binidx(dir + "/ours", {{5, 6, 7, 0}, {9, 0}, {1, 2, 3, 65535, 0}});
    CHECK(read_all(dir + "/ours.idx") == read_all("fixtures/rwkv_lm_writer.idx"));
    CHECK(read_all(dir + "/ours.bin") == read_all("fixtures/rwkv_lm_writer.bin"));
  }

  // Ids above uint16 switch the file to int32.
  write_binidx(dir + "/wide", {{70000, 1, 0}});
  {
    BinIdxDataset d(dir + "/wide");
    CHECK(d.dtype_code() == 4);
    std::vector<uint32_t> out;
    d.read_tokens(0, 3, out);
    CHECK(out == (std::vector<uint32_t>{70000, 1, 0}));
  }

  // Missing and malformed files.
  CHECK_THROWS_CODE(BinIdxDataset(dir + "/nothing"), "E_BINIDX_NO_IDX");
  CHECK_THROWS_CODE(BinIdxDataset(prefix + ".bin"), "E_BINIDX_SUFFIX");
  write_all(dir + "/onlyidx.idx", idx);
  CHECK_THROWS_CODE(BinIdxDataset(dir + "/onlyidx"), "E_BINIDX_NO_BIN");
  write_all(dir + "/short.idx", idx);
  write_all(dir + "/short.bin", std::vector<uint8_t>(10, 0));  // .bin truncated
  CHECK_THROWS_CODE(BinIdxDataset(dir + "/short"), "E_BINIDX_CORRUPT");
  for (size_t cut = 0; cut < idx.size(); ++cut) {
    write_all(dir + "/cut.idx", std::vector<uint8_t>(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(cut)));
    write_all(dir + "/cut.bin", read_all(prefix + ".bin"));
    bool clean = false;
    try { BinIdxDataset d(dir + "/cut"); clean = cut >= 34 + 12 + 24; }  // doc_idx may be short: unused
    catch (const EngineError& e) { clean = e.code == "E_BINIDX_CORRUPT" || e.code == "E_DATA_EMPTY"; }
    if (!clean) std::fprintf(stderr, "cut at %zu\n", cut);
    CHECK(clean);
  }
  write_binidx(dir + "/empty", {});
  CHECK_THROWS_CODE(BinIdxDataset(dir + "/empty"), "E_DATA_EMPTY");

  // is_prime over 64 bits, including strong pseudoprimes to small bases.
  CHECK(!is_prime(0) && !is_prime(1) && is_prime(2) && is_prime(3) && !is_prime(4));
  CHECK(is_prime(2926181));
  CHECK(!is_prime(3215031751ull));                  // strong pseudoprime to bases 2,3,5,7
  CHECK(!is_prime(3825123056546413051ull));         // strong pseudoprime to bases up to 23
  CHECK(is_prime(18446744073709551557ull));         // the largest prime below 2^64
  CHECK(!is_prime(18446744073709551615ull));
  int small_primes = 0;
  for (uint64_t n = 0; n < 10000; ++n) small_primes += is_prime(n);
  CHECK(small_primes == 1229);

  // magic_prime: the values RWKV-LM's demo scripts and README publish.
  CHECK(magic_prime_for(1498226207, 512) == 2926181);
  CHECK(magic_prime_for(1498226207, 4096) == 365759);
  CHECK(magic_prime_for(332115325534ull, 4096) == 81082817);
  CHECK(magic_prime_for(3 * 512 - 1, 512) == 0);   // too little data
  CHECK(magic_prime_for(3 * 512, 512) == 2);       // floor(3) - 1 = 2, and 2 % 3 == 2
  CHECK(magic_prime_for(100, 0) == 0);

  std::system(("rm -rf " + dir).c_str());
  return rwkv_test::summary("binidx_test");
}
