// The `csv` dataset: header, feature selection by name / number / range, word labels mapped to
// sorted class indices (classes.json in the run folder), numeric labels and values, test files
// and fractions, quoting, and every bad-input error with its file, line and column.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support.hpp"
#include "unroll/files.hpp"

using namespace unroll;
using namespace unroll::testing;
using Catch::Contains;

namespace {

std::shared_ptr<Dataset> build(const std::string& yaml, const std::string& base_dir, uint64_t seed = 1) {
  TestContext ctx("data");
  ctx.seed = seed;
  ctx.base_dir = base_dir;
  return host().build<Dataset>(Kind::Dataset, validate_component(parse_yaml(yaml, "<test>"), Kind::Dataset, host()),
                               ctx);
}

const char* kIris =
    "id,sepal_length,sepal_width,petal_length,petal_width,species\n"
    "1,5.1,3.5,1.4,0.2,setosa\n"
    "2,7.0,3.2,4.7,1.4,versicolor\n"
    "3, 6.3 ,3.3,6.0,2.5,virginica\n"
    "\n"
    "4,4.9,3.0,1.4,0.2,\"setosa\"\n"
    "5,6.4,3.2,4.5,1.5,versicolor\n"
    "6,5.8,2.7,5.1,1.9,virginica\n";

}  // namespace

TEST_CASE("csv: features by range, word labels in sorted order, blank lines and quotes", "[datasets][csv]") {
  TempDir dir;
  std::ofstream(dir.file("iris.csv")) << kIris;
  auto d = build("{kind: csv, path: iris.csv, target: species, features: 'sepal_length:petal_width'}", dir.path);
  const DatasetInfo info = d->info();
  CHECK(info.input_size == 4);
  CHECK(info.output_size == 3);
  CHECK(info.labels);
  CHECK_FALSE(info.has_test);
  CHECK(d->class_names() == std::vector<std::string>{"setosa", "versicolor", "virginica"});
  REQUIRE(d->size(Split::Train) == 6);
  Seq x;
  Targets y;
  const std::vector<std::size_t> idx{2, 3};
  d->batch(Split::Train, idx, x, y);
  CHECK(x.data(0, 0) == 6.3f);  // spaces around a number are trimmed
  CHECK(x.data(3, 0) == 2.5f);
  CHECK(x.data(0, 1) == 4.9f);
  CHECK(y.labels == std::vector<int32_t>{2, 0});

  // Every column but the target; numbers and lists.
  CHECK(build("{kind: csv, path: iris.csv, target: species}", dir.path)->info().input_size == 5);
  auto picked = build("{kind: csv, path: iris.csv, target: species, features: '2, petal_width'}", dir.path);
  picked->batch(Split::Train, idx, x, y);
  CHECK(x.features() == 2);
  CHECK(x.data(0, 1) == 4.9f);
  CHECK(x.data(1, 1) == 0.2f);
}

TEST_CASE("csv: numeric targets are class indices or values, test file and fraction", "[datasets][csv]") {
  TempDir dir;
  std::ofstream(dir.file("r.csv")) << "a,b,cls,val\n1,2,0,0.5\n3,4,1,1.5\n5,6,2,2.5\n7,8,1,-1\n";
  std::ofstream(dir.file("t.csv")) << "val,cls,b,a\n9,1,20,10\n";  // same columns, other order
  auto cls = build("{kind: csv, path: r.csv, target: cls, features: 'a:b', test_path: t.csv}", dir.path);
  CHECK(cls->info().labels);
  CHECK(cls->info().output_size == 3);
  CHECK(cls->class_names().empty());
  REQUIRE(cls->size(Split::Test) == 1);
  Seq x;
  Targets y;
  const std::vector<std::size_t> first{0};
  cls->batch(Split::Test, first, x, y);
  CHECK(x.data(0, 0) == 10.0f);
  CHECK(x.data(1, 0) == 20.0f);
  CHECK(y.labels[0] == 1);
  auto val = build("{kind: csv, path: r.csv, target: val, features: 'a,b'}", dir.path);
  CHECK_FALSE(val->info().labels);
  CHECK(val->info().output_size == 1);
  val->batch(Split::Train, std::vector<std::size_t>{3}, x, y);
  CHECK(y.values(0, 0) == -1.0f);
  auto frac = build("{kind: csv, path: r.csv, target: cls, features: 'a,b', test_fraction: 0.25}", dir.path);
  CHECK(frac->size(Split::Train) == 3);
  CHECK(frac->size(Split::Test) == 1);
}

TEST_CASE("csv: every bad input names the file, line and column", "[datasets][csv]") {
  TempDir dir;
  auto fails = [&](const std::string& text, const std::string& yaml_extra, const std::vector<std::string>& what) {
    std::ofstream(dir.file("bad.csv")) << text;
    INFO(text);
    try {
      build("{kind: csv, path: bad.csv, target: y" + yaml_extra + "}", dir.path);
      FAIL("no error");
    } catch (const Error& e) {
      const std::string m = e.what();
      CHECK_THAT(m, Contains("bad.csv"));
      for (const auto& w : what) CHECK_THAT(m, Contains(w));
    }
  };
  fails("a,b,y\n1,,0\n2,3,1\n", "", {"bad.csv:2:2", "column 'b'", "missing value"});
  fails("a,b,y\n1,2,0\n2,abc,1\n", "", {"bad.csv:3:2", "'abc' is not a number"});
  fails("a,b,y\n1,2,0\n2,nan,1\n", "", {"bad.csv:3:2", "not a finite number"});
  fails("a,b,y\n1,2,0\n2,3\n", "", {"bad.csv:3", "the row has 2 fields, the header has 3"});
  fails("a,b,y\n1,2,0,7\n2,3,1\n", "", {"bad.csv:2", "the row has 4 fields"});
  fails("a,b,y\n1,2,\n2,3,1\n", "", {"bad.csv:2:3", "missing target value"});
  fails("a,b,y\n1,2,0\n2,3,-4\n", "", {"bad.csv:3:3", "not a class index"});
  fails("a,b,y\n1,\"2,0\n", "", {"quoted field is not closed"});
  fails("a,a,y\n1,2,0\n", "", {"bad.csv:1:2", "'a' appears twice"});
  fails("", "", {"empty CSV file"});
  fails("a,b,y\n", "", {"no data rows"});
  fails("a,b,y\n1,2,0\n3,4,1\n", ", features: 'a,c'", {"no column 'c'"});
  fails("alpha,beta,y\n1,2,0\n3,4,1\n", ", features: 'alpha,bta'", {"did you mean 'beta'?"});
  fails("a,b,z\n1,2,0\n3,4,1\n", "", {"target: no column 'y'"});
  fails("a,b,y\n1,2,0\n3,4,0\n", "", {"1 class(es)"});
  // A test-file class the training file never had.
  std::ofstream(dir.file("tr.csv")) << "a,y\n1,cat\n2,dog\n";
  std::ofstream(dir.file("te.csv")) << "a,y\n1,cat\n2,cow\n";
  REQUIRE_THROWS_WITH(build("{kind: csv, path: tr.csv, target: y, test_path: te.csv}", dir.path),
                      Contains("te.csv:3:2") && Contains("class 'cow' does not occur in the training file"));
  REQUIRE_THROWS_WITH(build("{kind: csv, path: nothere.csv, target: y}", dir.path),
                      Contains("nothere.csv") && Contains("cannot open"));
}
