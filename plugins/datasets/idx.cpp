// IDX image files (MNIST-style) as a classification dataset, flat or row-by-row sequential.
#include <unroll/files.hpp>
#include <unroll/plugin.hpp>

#include "idx_reader.hpp"

namespace {

unroll::Schema schema() {
  unroll::Schema s("idx",
                   "Images and labels from IDX files (LeCun et al. 1998, the MNIST format), plain or gzip; "
                   "x = scale * pixel; label = class index");
  s.string("train_images", "", "training images file (IDX 0x00000803); relative to the experiment file").required =
      true;
  s.string("train_labels", "", "training labels file (IDX 0x00000801)").required = true;
  s.string("test_images", "", "test images file; empty = no test split");
  s.string("test_labels", "", "test labels file; given together with test_images");
  s.real("scale", 1.0 / 255.0, "factor applied to each pixel byte").at_least(0);
  s.boolean("sequential", false,
            "each image of R rows x C columns becomes R steps of C features (label at the last step)");
  s.integer("classes", 0, "number of classes; 0 = largest label + 1").at_least(0);
  return s;
}

}  // namespace

UNROLL_PLUGIN(registry) {
  registry.add_dataset(schema(), [](const unroll::Options& o, unroll::BuildContext& ctx) {
    unroll::idx::Files f;
    for (const char* key : {"train_images", "train_labels"})
      if (!o.has(key) || o.string(key).empty())
        throw unroll::Error("idx dataset: option '" + std::string(key) + "' is required");
    auto path = [&](const char* key) {
      return o.has(key) ? unroll::resolve_path(o.string(key), ctx.base_dir) : std::string();
    };
    f.train_images = path("train_images");
    f.train_labels = path("train_labels");
    f.test_images = path("test_images");
    f.test_labels = path("test_labels");
    f.scale = o.real("scale");
    f.sequential = o.boolean("sequential");
    f.classes = o.i("classes");
    return std::make_unique<unroll::idx::Dataset>(f);
  });
}
