#pragma once
// Reading the parameters of an earlier run's checkpoint, for plugins (the `pretrained`
// initializer) and for the host, which reads whole checkpoints through the same tensor tables.
//
// A checkpoint is a folder with one NumPy .npy file per tensor and a manifest.json listing each
// tensor's name, file and shape in tables: "params" (the model's parameters, e.g. dense0.W),
// "buffers" (layer state such as batch-norm running statistics), "optimizer" and "schedule"
// (their state). A run folder holds its latest checkpoint in checkpoint/ and the best one by the
// monitored metric in best/.
#include <string>
#include <vector>

#include "unroll/types.hpp"

namespace unroll {

/// One tensor of a checkpoint manifest: its name, the .npy file holding it (a plain name inside
/// the checkpoint folder) and its shape.
struct TensorEntry {
  std::string name, file;
  long rows = 0, cols = 0;
};

/// The four tensor tables of a manifest.
struct TensorTables {
  std::vector<TensorEntry> params, buffers, optimizer, schedule;
};

/// Parse the tensor tables of manifest TEXT (`where` names it in errors: "WHERE: malformed
/// manifest: ..."). A table may be absent (empty); errors for bad JSON, a table that is not a
/// list, a missing or mistyped name, file or shape, a file name that is not a plain name inside
/// the folder, a negative shape.
TensorTables parse_tensor_tables(const std::string& text, const std::string& where);

/// Finish a save that was killed between its two renames: when DIR has no manifest but DIR.tmp
/// (the newer, complete: its manifest is written last) or else DIR.old has one, that copy is
/// renamed to DIR. Returns whether DIR now holds a checkpoint.
bool recover_checkpoint(const std::string& dir);

/// A checkpoint folder given a run folder or a checkpoint folder: DIR if DIR/manifest.json
/// exists, else DIR/<which> ("checkpoint" or "best", after recover_checkpoint). Throws Error
/// when neither exists.
std::string find_checkpoint_dir(const std::string& dir, const std::string& which = "checkpoint");

/// The parameters of one checkpoint: the manifest is read when the reader is made, a tensor's
/// .npy file only when it is asked for.
///
///   CheckpointReader ckpt("runs/mlp", "best");
///   if (const TensorEntry* e = ckpt.find("dense0.W")) p.value = ckpt.read(*e);
class CheckpointReader {
 public:
  /// `path` is a run folder (its `which` checkpoint is read: "checkpoint" or "best") or a
  /// checkpoint folder. Errors name the folder.
  explicit CheckpointReader(const std::string& path, const std::string& which = "checkpoint");
  /// The checkpoint folder read.
  const std::string& dir() const { return dir_; }
  /// Every parameter, in manifest order.
  const std::vector<TensorEntry>& params() const { return params_; }
  /// The parameter named `name`, or nullptr.
  const TensorEntry* find(const std::string& name) const;
  /// Load a parameter's values; Error when its .npy file cannot be read or its shape differs
  /// from the manifest's.
  Matrix read(const TensorEntry& entry) const;

 private:
  std::string dir_;
  std::vector<TensorEntry> params_;
};

}  // namespace unroll
