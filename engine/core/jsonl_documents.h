// Reading .jsonl datasets: every non-blank line (after stripping whitespace) is one JSON object.
// read_jsonl_texts takes each object's "text" as make_data.py (RWKV-LM) and RWKV-PEFT's
// data_type jsonl do; read_jsonl_objects hands back whole objects for field-based formats (sft).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "core/json.h"

namespace rwkv {

struct JsonlObject {
  Json value;          // always a JSON object
  size_t line_no = 0;  // 1-based, for error messages
};

// Throws EngineError: E_DATA_NOT_FOUND, E_DATA_JSONL (with the line number), E_DATA_EMPTY.
std::vector<JsonlObject> read_jsonl_objects(const std::string& path);

// As read_jsonl_objects, and every object must carry a "text" string (E_DATA_JSONL otherwise).
std::vector<std::string> read_jsonl_texts(const std::string& path);

}  // namespace rwkv
