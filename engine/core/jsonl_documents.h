// Reading a .jsonl dataset the way RWKV-LM's make_data.py does: every non-blank line (after
// stripping whitespace) is a JSON object whose "text" is one document.
#pragma once
#include <string>
#include <vector>

namespace rwkv {

// Throws EngineError: E_DATA_NOT_FOUND, E_DATA_JSONL (with the line number), E_DATA_EMPTY.
std::vector<std::string> read_jsonl_texts(const std::string& path);

}  // namespace rwkv
