// t/unit/cluster/ketama_vectors.h -- reading ../shared/testdata/ketama: where it is, its CSV
// files, its key set. The format is documented in that folder's README.md.
//
// The folder is found through $RC_SHARED (set for every test by AM_TESTS_ENVIRONMENT in
// t/proto/local.am) or else RC_SHARED_DIR, compiled in as $(abs_top_srcdir)/../shared by
// t/unit/cluster/local.am: the shared docs sit beside the source tree, in CI as here.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rc::testing {

inline std::string SharedDir() {
  if (const char* env = std::getenv("RC_SHARED"); env != nullptr && *env != '\0') return env;
#ifdef RC_SHARED_DIR
  return RC_SHARED_DIR;
#else
  return "../shared";
#endif
}

inline std::filesystem::path KetamaVectorDir() {
  return std::filesystem::path(SharedDir()) / "testdata" / "ketama";
}

inline std::string ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Regular files directly in `dir`, by name.
inline std::vector<std::string> FilesIn(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = s.find(sep, start);
    parts.emplace_back(s.substr(start, at == std::string_view::npos ? s.npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

// A CSV file of the vector set: a header line, then rows. No field is quoted (keys are hex).
struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  // Index of column `name`; throws when absent.
  std::size_t Column(std::string_view name) const {
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return i;
    }
    throw std::runtime_error("no column " + std::string(name));
  }
  bool HasColumn(std::string_view name) const {
    for (const std::string& h : header) {
      if (h == name) return true;
    }
    return false;
  }
};

inline CsvTable ReadCsv(const std::filesystem::path& path) {
  CsvTable table;
  std::istringstream in(ReadWholeFile(path));
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (first) {
      table.header = Split(line, ',');
      first = false;
      continue;
    }
    table.rows.push_back(Split(line, ','));
    if (table.rows.back().size() != table.header.size()) {
      throw std::runtime_error(path.string() + ": a row has " +
                               std::to_string(table.rows.back().size()) + " fields, the header " +
                               std::to_string(table.header.size()));
    }
  }
  return table;
}

inline std::string FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) throw std::runtime_error("odd-length hex");
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

inline std::uint32_t ToUint32(const std::string& s) {
  return static_cast<std::uint32_t>(std::stoul(s));
}

// keys.csv: key_id -> key bytes.
inline std::map<std::uint32_t, std::string> LoadKeys() {
  const CsvTable t = ReadCsv(KetamaVectorDir() / "keys.csv");
  const std::size_t id = t.Column("key_id");
  const std::size_t hex = t.Column("key_hex");
  std::map<std::uint32_t, std::string> keys;
  for (const auto& row : t.rows) keys[ToUint32(row[id])] = FromHex(row[hex]);
  return keys;
}

}  // namespace rc::testing
