// Fashion-MNIST (Xiao et al. 2017): the IDX loader pointed at the four standard files.
#include <unroll/files.hpp>
#include <unroll/plugin.hpp>

#include "idx_reader.hpp"

namespace {

unroll::Schema schema() {
  unroll::Schema s("fashion_mnist",
                   "Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 60000 training and 10000 test 28x28 grey images "
                   "of 10 clothing classes; x = pixel / 255");
  s.string("dir", "/usr/share/datasets/fashion-mnist",
           "folder holding train-images-idx3-ubyte[.gz] and the three other files; relative to the experiment file");
  s.boolean("sequential", false, "sequential Fashion-MNIST: 28 steps of 28 pixels (one row per step)");
  return s;
}

// The file as distributed (gzip) or unpacked.
std::string find_file(const std::string& dir, const std::string& stem) {
  for (const std::string& name : {stem + ".gz", stem})
    if (std::filesystem::exists(std::filesystem::path(dir) / name)) return (std::filesystem::path(dir) / name).string();
  throw unroll::Error("Fashion-MNIST not found in " + dir +
                      ": install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) "
                      "or set data.dir (missing " +
                      stem + ".gz)");
}

}  // namespace

UNROLL_PLUGIN(registry) {
  registry.add_dataset(schema(), [](const unroll::Options& o, unroll::BuildContext& ctx) {
    const std::string dir = unroll::resolve_path(o.string("dir"), ctx.base_dir);
    unroll::idx::Files f;
    f.train_images = find_file(dir, "train-images-idx3-ubyte");
    f.train_labels = find_file(dir, "train-labels-idx1-ubyte");
    f.test_images = find_file(dir, "t10k-images-idx3-ubyte");
    f.test_labels = find_file(dir, "t10k-labels-idx1-ubyte");
    f.sequential = o.boolean("sequential");
    f.classes = 10;
    return std::make_unique<unroll::idx::Dataset>(f);
  });
}
