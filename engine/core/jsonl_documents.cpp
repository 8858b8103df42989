// See jsonl_documents.h.
#include "core/jsonl_documents.h"

#include <fstream>

#include "core/errors.h"

namespace rwkv {

static std::string strip(const std::string& s) {
  const char* ws = " \t\r\n\f\v";
  const size_t a = s.find_first_not_of(ws);
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(ws) - a + 1);
}

static const char* kLineHint = "each line must be one JSON object such as {\"text\": \"...\"}";

std::vector<JsonlObject> read_jsonl_objects(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw EngineError("E_DATA_NOT_FOUND", path + ": no such file", "check --data_file / the input path");
  std::vector<JsonlObject> objects;
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    line = strip(line);
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    JsonlObject obj;
    obj.line_no = line_no;
    try {
      obj.value = Json::parse(line);
    } catch (const EngineError& e) {
      throw EngineError("E_DATA_JSONL", where + ": " + e.what(), kLineHint);
    }
    if (obj.value.kind() != Json::Kind::Object)
      throw EngineError("E_DATA_JSONL", where + ": not a JSON object", kLineHint);
    objects.push_back(std::move(obj));
  }
  if (objects.empty()) throw EngineError("E_DATA_EMPTY", path + ": no non-empty lines", "the dataset has no documents");
  return objects;
}

std::vector<std::string> read_jsonl_texts(const std::string& path) {
  std::vector<std::string> texts;
  for (const JsonlObject& obj : read_jsonl_objects(path)) {
    const Json* text = obj.value.find("text");
    if (!text || text->kind() != Json::Kind::String)
      throw EngineError("E_DATA_JSONL", path + ":" + std::to_string(obj.line_no) + ": no \"text\" string in this line",
                        kLineHint);
    texts.push_back(text->as_string());
  }
  return texts;
}

}  // namespace rwkv
