#pragma once
// Checkpoints: a folder with one .npy file per tensor (parameters, optimizer state, layer
// buffers such as batch-norm running statistics) and manifest.json listing names, shapes and
// files. numpy.load reads any tensor. The folder is written under a temporary name and swapped
// in, so a crash mid-save keeps the previous checkpoint whole.
#include <string>

namespace unroll {

class Model;
class Optimizer;

void save_checkpoint(const std::string& dir, Model& model, Optimizer& optimizer, int epoch, long long step);

}  // namespace unroll
