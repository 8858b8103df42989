// A minimal test harness for the engine's CTest executables: CHECK records a failure and goes
// on, so one run reports every broken expectation; main returns check_summary().
#pragma once
#include <cmath>
#include <cstdio>
#include <string>

namespace rwkv_test {
inline int& failures() { static int n = 0; return n; }
inline void fail(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
  ++failures();
}
inline bool close(double a, double b, double rel, double abs_tol = 1e-12) {
  return std::fabs(a - b) <= abs_tol + rel * std::fmax(std::fabs(a), std::fabs(b));
}
inline int summary(const char* name) {
  if (failures()) std::fprintf(stderr, "%s: %d check(s) failed\n", name, failures());
  else std::fprintf(stderr, "%s: all checks passed\n", name);
  return failures() ? 1 : 0;
}
}  // namespace rwkv_test

#define CHECK(cond) do { if (!(cond)) rwkv_test::fail(__FILE__, __LINE__, #cond); } while (0)
#define CHECK_CLOSE(a, b, rel) do { double _a = (a), _b = (b); \
  if (!rwkv_test::close(_a, _b, (rel))) rwkv_test::fail(__FILE__, __LINE__, \
    std::string(#a " = ") + std::to_string(_a) + ", " #b " = " + std::to_string(_b)); } while (0)
// Expects `stmt` to throw rwkv::EngineError with the given code.
#define CHECK_THROWS_CODE(stmt, expected_code) do { bool _thrown = false; \
  try { stmt; } catch (const rwkv::EngineError& _e) { _thrown = true; \
    if (_e.code != (expected_code)) rwkv_test::fail(__FILE__, __LINE__, \
      std::string("code ") + _e.code + " != " + (expected_code)); } \
  if (!_thrown) rwkv_test::fail(__FILE__, __LINE__, #stmt " did not throw"); } while (0)
