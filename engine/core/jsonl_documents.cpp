// See jsonl_documents.h.
#include "core/jsonl_documents.h"

#include <fstream>

#include "core/errors.h"
#include "core/json.h"

namespace rwkv {

static std::string strip(const std::string& s) {
  const char* ws = " \t\r\n\f\v";
  const size_t a = s.find_first_not_of(ws);
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(ws) - a + 1);
}

std::vector<std::string> read_jsonl_texts(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw EngineError("E_DATA_NOT_FOUND", path + ": no such file", "check --data_file / the input path");
  std::vector<std::string> texts;
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    line = strip(line);
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    Json obj;
    try {
      obj = Json::parse(line);
    } catch (const EngineError& e) {
      throw EngineError("E_DATA_JSONL", where + ": " + e.what(), "each line must be one JSON object such as {\"text\": \"...\"}");
    }
    const Json* text = obj.find("text");
    if (!text || text->kind() != Json::Kind::String)
      throw EngineError("E_DATA_JSONL", where + ": no \"text\" string in this line",
                        "each line must be one JSON object such as {\"text\": \"...\"}");
    texts.push_back(text->as_string());
  }
  if (texts.empty()) throw EngineError("E_DATA_EMPTY", path + ": no non-empty lines", "the dataset has no documents");
  return texts;
}

}  // namespace rwkv
