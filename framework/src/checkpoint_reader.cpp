// The reading side of the checkpoint format (<unroll/checkpoint_reader.hpp>): the manifest's
// tensor tables, finding a run's checkpoint folder and finishing an interrupted save. The host's
// checkpoint.cpp writes checkpoints and reads the trainer's progress around these tables.
#include "unroll/checkpoint_reader.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "unroll/error.hpp"
#include "unroll/files.hpp"
#include "unroll/npy.hpp"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace unroll {

namespace {

bool has_manifest(const std::string& dir) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / "manifest.json", ec);
}

std::string parent_of(const std::string& dir) {
  const fs::path p = fs::absolute(dir).parent_path();
  return p.empty() ? "." : p.string();
}

std::string shape_text(long r, long c) { return std::to_string(r) + "x" + std::to_string(c); }

// A manifest's file names must stay inside the checkpoint folder.
std::string plain_file(const json& e, const std::string& mf) {
  const std::string f = e.at("file").get<std::string>();
  if (f.empty() || f == "." || f == ".." || f.find('/') != std::string::npos || f.find('\0') != std::string::npos)
    throw Error(mf + ": tensor file '" + f + "' is not a plain file name inside the checkpoint folder");
  return f;
}

}  // namespace

TensorTables parse_tensor_tables(const std::string& text, const std::string& mf) {
  json m;
  try {
    m = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(mf + ": cannot parse the manifest: " + e.what());
  }
  TensorTables out;
  auto bad = [&](const std::string& what) { return Error(mf + ": malformed manifest: " + what); };
  try {
    if (!m.is_object()) throw bad("not a JSON object");
    auto read = [&](const char* section, std::vector<TensorEntry>& list) {
      if (!m.contains(section)) return;
      if (!m.at(section).is_array()) throw bad(std::string("'") + section + "' is not a list");
      for (const auto& e : m.at(section)) {
        TensorEntry t;
        t.name = e.at("name").get<std::string>();
        t.file = plain_file(e, mf);
        const json& shape = e.at("shape");
        if (!shape.is_array() || shape.size() != 2) throw bad(t.name + ": 'shape' must be [rows, cols]");
        // Whole numbers only (a too-long digit string parses as a float; casting it is UB).
        for (const json& d : shape)
          if (!d.is_number_integer() || (d.is_number_unsigned() && d.get<unsigned long long>() > (1ull << 62)))
            throw bad(t.name + ": 'shape' holds " + d.dump().substr(0, 40) + ", not a whole number in range");
        t.rows = shape.at(0).get<long>();
        t.cols = shape.at(1).get<long>();
        if (t.rows < 0 || t.cols < 0) throw bad(t.name + ": negative shape");
        list.push_back(std::move(t));
      }
    };
    read("params", out.params);
    read("buffers", out.buffers);
    read("optimizer", out.optimizer);
    read("schedule", out.schedule);
  } catch (const json::exception& e) {
    throw bad(e.what());
  }
  return out;
}

bool recover_checkpoint(const std::string& dir) {
  if (has_manifest(dir)) return true;
  // DIR.tmp got its manifest last, so with one it is complete, and newer than DIR.old.
  for (const std::string& copy : {dir + ".tmp", dir + ".old"}) {
    if (!has_manifest(copy)) continue;
    std::error_code ec;
    fs::remove_all(dir, ec);  // an empty or partial DIR left by a hand or a crash
    fs::rename(copy, dir);
    sync_path(parent_of(dir), true);
    return true;
  }
  return false;
}

std::string find_checkpoint_dir(const std::string& dir, const std::string& which) {
  if (fs::exists(fs::path(dir) / "manifest.json")) return dir;
  if (recover_checkpoint((fs::path(dir) / which).string())) return (fs::path(dir) / which).string();
  throw Error(dir + ": neither a checkpoint folder nor a run folder with a checkpoint (no manifest.json in it or in " +
              which + "/)");
}

CheckpointReader::CheckpointReader(const std::string& path, const std::string& which)
    : dir_(find_checkpoint_dir(path, which)) {
  const std::string mf = dir_ + "/manifest.json";
  params_ = parse_tensor_tables(read_file(mf), mf).params;
}

const TensorEntry* CheckpointReader::find(const std::string& name) const {
  for (const TensorEntry& e : params_)
    if (e.name == name) return &e;
  return nullptr;
}

Matrix CheckpointReader::read(const TensorEntry& e) const {
  Matrix t = load_npy(dir_ + "/" + e.file);
  if (t.rows() != e.rows || t.cols() != e.cols)
    throw Error(dir_ + ": " + e.name + " is " + shape_text(t.rows(), t.cols()) + " in its .npy file but " +
                shape_text(e.rows, e.cols) + " in manifest.json");
  return t;
}

}  // namespace unroll
