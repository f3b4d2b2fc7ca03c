// Text and embeddings: the vocabulary file, char_text's word tokens and index inputs, the
// embedding layer (gradients, sparse rows, every initializer, pretrained matrices, threads), and
// a word-level language model run end to end: trained, resumed, evaluated and predicted with
// the vocabulary saved in its run folder. Every bad input has its clear error.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "support.hpp"
#include "unroll/gradcheck.hpp"
#include "unroll/host/experiment.hpp"
#include "unroll/files.hpp"
#include "unroll/host/model.hpp"
#include "unroll/npy_array.hpp"
#include "unroll/vocabulary.hpp"

using namespace unroll;
using namespace unroll::testing;
using Catch::Contains;

namespace {

const std::string kExe = std::string(UNROLL_BINARY_DIR) + "/bin/unroll";

int cli(const TempDir& dir, const std::string& args, std::string& out) {
  const int status = std::system((kExe + " " + args + " > " + dir.file("cli.out") + " 2>&1").c_str());
  out = read_file(dir.file("cli.out"));
  return WEXITSTATUS(status);
}

void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::shared_ptr<Dataset> build_data(const std::string& yaml, const std::string& base_dir) {
  const Node block = validate_component(parse_yaml(yaml, "<test>"), Kind::Dataset, host());
  HostBuildContext ctx(host(), "data", 0, 1, base_dir);
  return host().build<Dataset>(Kind::Dataset, block, ctx);
}

// A small corpus with repeated words, punctuation, an apostrophe and mixed case.
std::string corpus() {
  std::string t;
  for (int i = 0; i < 30; ++i)
    t +=
        "The cat sat on the mat. Don't feed the cat, said Ann; the dog " + std::string(i % 3 ? "ran" : "slept") + ".\n";
  return t;
}

std::vector<std::string> tokens_of(Dataset& d, Split s, std::size_t window) {
  const Vocabulary v = d.vocabulary();
  Seq x;
  Targets y;
  const std::vector<std::size_t> idx{window};
  d.batch(s, idx, x, y);
  std::vector<std::string> out;
  for (Eigen::Index j = 0; j < x.data.cols(); ++j) out.push_back(v.tokens[static_cast<std::size_t>(x.data(0, j))]);
  return out;
}

}  // namespace

// ---------------------------------------------------------------- the vocabulary file

TEST_CASE("vocabulary file: round trip with escapes, and every malformed file named by line and column",
          "[text][vocab]") {
  Vocabulary v;
  v.settings = {{"tokens", "char"}, {"lowercase", "false"}};
  v.tokens = {"<unk>", " ", "\n", "\\", "caf\xc3\xa9", "\t", "a"};
  v.counts = {0, 10, 3, 1, 2, 5, 7};
  const std::string text = format_vocabulary(v);
  CHECK_THAT(text, Contains("\\x20\t10\n") && Contains("\\x0a\t3\n") && Contains("\\x5c\t1\n") &&
                       Contains("caf\xc3\xa9\t2\n"));
  const Vocabulary back = parse_vocabulary(text, "v.txt");
  CHECK(back.tokens == v.tokens);
  CHECK(back.counts == v.counts);
  CHECK(back.settings == v.settings);

  auto bad = [](const std::string& t) { return [t] { parse_vocabulary(t, "v.txt"); }; };
  CHECK_THROWS_WITH(bad("")(), Contains("v.txt:1:1") && Contains("empty"));
  CHECK_THROWS_WITH(bad("the\t3\n")(), Contains("v.txt:1:1") && Contains("#unroll-vocab"));
  CHECK_THROWS_WITH(bad("#unroll-vocab tokens=word\n")(), Contains("no tokens"));
  CHECK_THROWS_WITH(bad("#unroll-vocab tokens\n")(), Contains("v.txt:1:") && Contains("KEY=VALUE"));
  CHECK_THROWS_WITH(bad("#unroll-vocab\nthe 3\n")(), Contains("v.txt:2:6") && Contains("tab"));
  CHECK_THROWS_WITH(bad("#unroll-vocab\nthe\tmany\n")(), Contains("v.txt:2:5") && Contains("count"));
  CHECK_THROWS_WITH(bad("#unroll-vocab\n\t3\n")(), Contains("v.txt:2:1") && Contains("empty token"));
  CHECK_THROWS_WITH(bad("#unroll-vocab\na\\q\t3\n")(), Contains("v.txt:2:2") && Contains("escape"));
  CHECK_THROWS_WITH(bad("#unroll-vocab\na\\x4\t3\n")(), Contains("v.txt:2:2") && Contains("escape"));
  CHECK_THROWS_WITH(bad("#unroll-vocab\nthe\t3\nof\t2\nthe\t1\n")(), Contains("v.txt:4:1") && Contains("line 2"));
  CHECK_THROWS_WITH(bad("#unroll-vocab\nthe\t3\n\nof\t1\n")(), Contains("v.txt:3:1") && Contains("empty line"));
  CHECK_THROWS_WITH(read_vocabulary("/nonexistent/vocab.txt"),
                    Contains("/nonexistent/vocab.txt") && Contains("not found"));
}

// ---------------------------------------------------------------- char_text: words, indices

TEST_CASE("char_text: word tokens, lowercasing, min_count and max_vocab with <unk>, index inputs",
          "[text][char_text]") {
  TempDir dir;
  write(dir.file("c.txt"), corpus());
  auto d = build_data(
      "{kind: char_text, path: c.txt, tokens: word, lowercase: true, input: index, length: 5, "
      "test_fraction: 0.2}",
      dir.path);
  const Vocabulary v = d->vocabulary();
  REQUIRE(v.tokens.at(0) == "<unk>");
  CHECK(v.settings.at("tokens") == "word");
  CHECK(v.settings.at("lowercase") == "true");
  CHECK(v.tokens.at(1) == "the");  // the most frequent token first
  const std::set<std::string> set(v.tokens.begin(), v.tokens.end());
  for (const char* t : {"cat", "don't", ".", ",", ";", "ann", "slept", "ran"}) CHECK(set.count(t) == 1);
  CHECK(set.count("The") == 0);
  for (std::size_t i = 2; i < v.counts.size(); ++i) CHECK(v.counts[i - 1] >= v.counts[i]);

  const DatasetInfo info = d->info();
  CHECK(info.input_size == 1);
  CHECK(info.input_vocab == static_cast<int>(v.tokens.size()));
  CHECK(info.output_size == static_cast<int>(v.tokens.size()));
  CHECK(tokens_of(*d, Split::Train, 0) == std::vector<std::string>{"the", "cat", "sat", "on", "the"});
  CHECK(tokens_of(*d, Split::Train, 1) == std::vector<std::string>{"mat", ".", "don't", "feed", "the"});
  {  // targets are the next tokens
    Seq x;
    Targets y;
    const std::vector<std::size_t> idx{0};
    d->batch(Split::Train, idx, x, y);
    CHECK(v.tokens[static_cast<std::size_t>(y.labels[4])] == "mat");
  }

  // Rare words become <unk>; max_vocab keeps the most frequent, <unk> included.
  auto rare = build_data("{kind: char_text, path: c.txt, tokens: word, min_count: 15, length: 5}", dir.path);
  const Vocabulary r = rare->vocabulary();
  CHECK(std::find(r.tokens.begin(), r.tokens.end(), "slept") == r.tokens.end());  // 10 times
  CHECK(std::find(r.tokens.begin(), r.tokens.end(), "ran") != r.tokens.end());    // 20 times
  CHECK(r.counts[0] > 0);                                                         // the <unk> count
  auto capped = build_data("{kind: char_text, path: c.txt, tokens: word, max_vocab: 4, length: 5}", dir.path);
  CHECK(capped->vocabulary().tokens.size() == 4);
  CHECK(capped->info().input_size == 4);  // one-hot of the 4 tokens

  // Char tokens with index inputs: the same ids as the one-hot inputs.
  auto onehot = build_data("{kind: char_text, path: c.txt, length: 9}", dir.path);
  auto index = build_data("{kind: char_text, path: c.txt, length: 9, input: index}", dir.path);
  const std::string text = corpus();
  CHECK(onehot->vocabulary().tokens.size() == std::set<char>(text.begin(), text.end()).size());
  CHECK(onehot->vocabulary().tokens.at(0) != "<unk>");  // the classic character model has none
  Seq xo, xi;
  Targets yo, yi;
  const std::vector<std::size_t> idx{3, 0, 7};
  onehot->batch(Split::Train, idx, xo, yo);
  index->batch(Split::Train, idx, xi, yi);
  REQUIRE(xi.data.rows() == 1);
  for (Eigen::Index j = 0; j < xo.data.cols(); ++j) {
    Eigen::Index k;
    xo.data.col(j).maxCoeff(&k);
    CHECK(xi.data(0, j) == static_cast<float>(k));
  }
  CHECK(yo.labels == yi.labels);
}

TEST_CASE("char_text: a vocabulary file keeps indices, and bad corpora and vocabularies are clear errors",
          "[text][char_text][bad_input]") {
  TempDir dir;
  write(dir.file("c.txt"), corpus());
  auto d = build_data("{kind: char_text, path: c.txt, tokens: word, min_count: 15, length: 5}", dir.path);
  write_vocabulary(dir.file("vocab.txt"), d->vocabulary());
  // Another text read with that vocabulary: known words keep their index, new ones are <unk>.
  write(dir.file("other.txt"), "the zebra sat on the cat . the cat ran ran");
  auto o = build_data(
      "{kind: char_text, path: other.txt, tokens: word, vocab: vocab.txt, input: index, length: 3, "
      "test_fraction: 0}",
      dir.path);
  CHECK(o->vocabulary().tokens == d->vocabulary().tokens);
  CHECK(tokens_of(*o, Split::Train, 0) == std::vector<std::string>{"the", "<unk>", "sat"});

  // Bad input.
  write(dir.file("empty.txt"), "");
  CHECK_THROWS_WITH(build_data("{kind: char_text, path: empty.txt}", dir.path),
                    Contains("empty.txt") && Contains("is empty"));
  write(dir.file("blank.txt"), "  \n\t \n");
  CHECK_THROWS_WITH(build_data("{kind: char_text, path: blank.txt, tokens: word}", dir.path),
                    Contains("blank.txt") && Contains("no words"));
  CHECK_THROWS_WITH(build_data("{kind: char_text, path: c.txt, tokens: word, vocab: missing.txt}", dir.path),
                    Contains("missing.txt") && Contains("not found"));
  write(dir.file("broken.txt"), "#unroll-vocab tokens=word\nthe\t3\ncat 2\n");
  CHECK_THROWS_WITH(build_data("{kind: char_text, path: c.txt, tokens: word, vocab: broken.txt}", dir.path),
                    Contains("broken.txt:3:6") && Contains("tab"));
  CHECK_THROWS_WITH(build_data("{kind: char_text, path: c.txt, tokens: char, vocab: vocab.txt}", dir.path),
                    Contains("vocab.txt") && Contains("tokens=word") && Contains("tokens: char"));
  CHECK_THROWS_WITH(
      build_data("{kind: char_text, path: c.txt, tokens: word, lowercase: true, vocab: vocab.txt}", dir.path),
      Contains("lowercase=false"));
  // A vocabulary without <unk> cannot stand for a new token: the error says where it is.
  write(dir.file("chars.txt"), "abc\nabc\nabc\nabc\n");
  auto chars = build_data("{kind: char_text, path: chars.txt, length: 3, test_fraction: 0}", dir.path);
  write_vocabulary(dir.file("chars.vocab"), chars->vocabulary());
  write(dir.file("new.txt"), "abc\nabzabc");
  CHECK_THROWS_WITH(
      build_data("{kind: char_text, path: new.txt, vocab: chars.vocab, length: 3, test_fraction: 0}", dir.path),
      Contains("new.txt:2:3") && Contains("'z'") && Contains("<unk>"));
  CHECK_THROWS_WITH(build_data("{kind: char_text, path: c.txt, tokens: word, max_vocab: 1}", dir.path),
                    Contains("max_vocab 1"));
  CHECK_THROWS_WITH(build_data("{kind: char_text, path: c.txt, tokens: word, length: 100000}", dir.path),
                    Contains("tokens") && Contains("needs at least length + 1"));
}

// ---------------------------------------------------------------- the embedding layer

TEST_CASE("embedding: rows by index, weight gradient by finite differences, dx zero, sparse rows",
          "[text][embedding][layers]") {
  auto layer = make_layer("{kind: embedding, vocab: 9, dim: 5}", 1, "embed");
  initialize(*layer);
  REQUIRE(layer->output_size() == 5);
  Param& W = *layer->params().at(0);
  CHECK(W.name == "embed.W");
  CHECK(W.value.rows() == 9);
  CHECK(W.value.cols() == 5);

  Seq x, y;
  x.resize(1, 2, 3);
  x.data << 4, 0, 4, 8, 2, 4;  // index 4 three times, 1 3 5 6 7 never
  layer->forward(x, y, Mode::Train);
  for (Eigen::Index j = 0; j < 6; ++j)
    CHECK(y.data.col(j) == W.value.row(static_cast<Eigen::Index>(x.data(0, j))).transpose());
  Seq dy, dx;
  dy.resize(5, 2, 3);
  dy.data.setOnes();
  W.grad.setZero();
  layer->backward(dy, dx, true);
  CHECK(W.grad.row(4).isApprox(Eigen::RowVectorXf::Constant(5, 3.0f)));  // repeated rows add up
  CHECK(W.grad.row(0).isApprox(Eigen::RowVectorXf::Constant(5, 1.0f)));
  for (int unused : {1, 3, 5, 6, 7}) CHECK(W.grad.row(unused).isZero(0));  // untouched
  CHECK(dx.data.rows() == 1);
  CHECK(dx.data.cols() == 6);
  CHECK(dx.data.isZero(0));  // no gradient w.r.t. an index

  for (int steps : {1, 4}) {
    GradCheckOptions opt;
    opt.steps = steps;
    opt.batch = 5;
    opt.index_inputs = 9;
    const GradCheckResult r = check_layer_gradients(*layer, opt);
    INFO(r.summary());
    CHECK(r.ok);
    CHECK(r.checked > 9 * 5 / 2);
  }
}

TEST_CASE("embedding: out-of-range and non-integer indices, wrong input size and missing vocab are clear errors",
          "[text][embedding][bad_input]") {
  auto layer = make_layer("{kind: embedding, vocab: 9, dim: 2}", 1, "embed");
  Seq x, y;
  x.resize(1, 2, 2);
  x.data << 1, 2, 9, 0;
  CHECK_THROWS_WITH(layer->forward(x, y, Mode::Eval), Contains("embed") && Contains("input 9") &&
                                                          Contains("step 1 of sample 0") &&
                                                          Contains("vocabulary of 9 tokens"));
  x.data << 1, -3, 2, 0;
  CHECK_THROWS_WITH(layer->forward(x, y, Mode::Eval), Contains("input -3") && Contains("vocabulary of 9"));
  x.data << 1, 2.5f, 2, 0;
  CHECK_THROWS_WITH(layer->forward(x, y, Mode::Eval), Contains("2.5") && Contains("not a token index"));
  x.data << 1, std::nanf(""), 2, 0;
  CHECK_THROWS_WITH(layer->forward(x, y, Mode::Eval), Contains("not a token index"));
  CHECK_THROWS_WITH(make_layer("{kind: embedding, vocab: 9, dim: 2}", 4),
                    Contains("one feature per step") && Contains("got 4") && Contains("input: index"));
  CHECK_THROWS_WITH(make_layer("{kind: embedding, dim: 2}", 1), Contains("vocab is 0"));

  // vocab from the data, and an explicit one too small for it.
  const Node block = validate_component(parse_yaml("{kind: embedding, dim: 2}", "m.yaml"), Kind::Layer, host());
  const Schema& schema = host().entry(Kind::Layer, "embedding").schema;
  CHECK(with_data_vocab(block, schema, 57).at("vocab").text() == "57");
  const Node small =
      validate_component(parse_yaml("{kind: embedding, vocab: 20, dim: 2}", "m.yaml"), Kind::Layer, host());
  CHECK_THROWS_WITH(with_data_vocab(small, schema, 57),
                    Contains("m.yaml:1:") && Contains("vocab 20") && Contains("57"));
  CHECK(with_data_vocab(small, schema, 0).at("vocab").text() == "20");
}

TEST_CASE("embedding: every initializer fills its weight, and freeze", "[text][embedding][initializers]") {
  for (const std::string& init : host().registry().names(Kind::Initializer)) {
    if (init == "pretrained") continue;  // needs a file: its own test below
    INFO(init);
    auto layer = make_layer("{kind: embedding, vocab: 12, dim: 6, init: {kind: " + init + "}}", 1, "embed");
    initialize(*layer);
    const Matrix& W = layer->params().at(0)->value;
    CHECK(W.rows() == 12);
    CHECK(W.allFinite());
    if (init != "constant" && init != "zeros") CHECK(W.cwiseAbs().maxCoeff() > 0);
  }
  auto frozen = make_layer("{kind: embedding, vocab: 3, dim: 2, freeze: true}", 1);
  CHECK(frozen->params().at(0)->frozen);
  CHECK_FALSE(make_layer("{kind: embedding, vocab: 3, dim: 2}", 1)->params().at(0)->frozen);
}

TEST_CASE("embedding: pretrained vectors from a .npy file, and a wrong shape is a clear error",
          "[text][embedding][initializers][bad_input]") {
  TempDir dir;
  std::vector<float> m(4 * 3);
  for (std::size_t i = 0; i < m.size(); ++i) m[i] = static_cast<float>(i) * 0.5f;  // row-major [4, 3]
  write_npy_array(dir.file("vectors.npy"), m.data(), {4, 3});
  // make_layer runs the initializers, as the trainer does.
  auto layer =
      make_layer("{kind: embedding, vocab: 4, dim: 3, init: {kind: pretrained, file: " + dir.file("vectors.npy") +
                     ", freeze: true}}",
                 1);
  const Param& W = *layer->params().at(0);
  CHECK(W.value(2, 1) == 0.5f * 7);  // row 2, column 1 of the C-order array
  CHECK(W.value(3, 0) == 0.5f * 9);
  CHECK(W.frozen);
  CHECK_THROWS_WITH(
      make_layer("{kind: embedding, vocab: 5, dim: 3, init: {kind: pretrained, file: " + dir.file("vectors.npy") + "}}",
                 1, "embed"),
      Contains("vectors.npy") && Contains("(4, 3)") && Contains("embed.W is 5x3"));
  CHECK_THROWS_WITH(
      make_layer("{kind: embedding, vocab: 4, dim: 3, init: {kind: pretrained, file: " + dir.file("nope.npy") + "}}",
                 1),
      Contains("nope.npy"));
  CHECK_THROWS_WITH(make_initializer("{kind: pretrained}"), Contains("either `run`") && Contains("got neither"));
  CHECK_THROWS_WITH(make_initializer("{kind: pretrained, run: a, file: b.npy}"), Contains("not both"));
}

TEST_CASE("embedding: the same numbers with 1 and 2 threads", "[text][embedding][parallel]") {
  Matrix out[2], grad[2];
  for (int k = 0; k < 2; ++k) {
    configure_threads(k + 1);
    auto layer = make_layer("{kind: embedding, vocab: 50, dim: 64}", 1, "embed");
    initialize(*layer);
    Seq x, y, dy, dx;
    x.resize(1, 40, 32);
    for (Eigen::Index j = 0; j < x.data.cols(); ++j) x.data(0, j) = static_cast<float>((j * 7) % 50);
    layer->forward(x, y, Mode::Train);
    dy.resize(64, 40, 32);
    for (Eigen::Index i = 0; i < dy.data.size(); ++i)
      dy.data.data()[i] = static_cast<float>(std::sin(0.1 * static_cast<double>(i)));
    layer->params()[0]->grad.setZero();
    layer->backward(dy, dx, false);
    out[k] = y.data;
    grad[k] = layer->params()[0]->grad;
  }
  configure_threads(1);
  CHECK(out[0] == out[1]);
  CHECK(grad[0] == grad[1]);
}

// ---------------------------------------------------------------- a language model, end to end

TEST_CASE("word-level LSTM language model: trains, saves its vocabulary, resumes, evals and predicts",
          "[text][end_to_end][cli]") {
  TempDir dir;
  const std::string exp = std::string(UNROLL_SOURCE_DIR) + "/experiments/text_word_lstm.yaml";
  const std::string run = dir.file("run");
  std::string out;
  // The example experiment, a few epochs: the loss falls.
  REQUIRE(cli(dir, "run " + exp + " --out " + run + " --quiet --threads 1 --set train.epochs=3", out) == 0);
  const auto rows = read_csv(run + "/metrics.csv");
  REQUIRE(rows.size() == 4);
  const auto col = std::find(rows[0].begin(), rows[0].end(), "train_loss") - rows[0].begin();
  CHECK(std::stod(rows[3][col]) < std::stod(rows[1][col]));
  CHECK(std::stod(rows[1][col]) < std::log(400.0));  // better than uniform over the 400 tokens
  const Vocabulary v = read_vocabulary(run + "/vocab.txt");
  CHECK(v.tokens.size() == 400);
  CHECK(v.tokens[0] == "<unk>");
  CHECK(v.settings.at("tokens") == "word");

  // Resume for one more epoch (the trainer's resume: the CLI continues only unfinished runs):
  // the data is read with the run's vocab.txt.
  {
    Experiment e = load_experiment(run + "/config.yaml", {"train.epochs=4"}, host());
    RunOptions o;
    o.out_dir = run;
    o.threads = 1;
    o.quiet = true;
    o.resume = true;
    CHECK(run_experiment(e, host(), o).epochs == 4);
    CHECK(read_csv(run + "/metrics.csv").size() == 5);
  }

  // eval: the test split's loss, accuracy and bits per token.
  REQUIRE(cli(dir, "eval " + run + " --checkpoint last", out) == 0);
  const auto j = nlohmann::json::parse(read_file(run + "/eval/last-test.json"));
  CHECK(j["metrics"]["loss"].get<double>() > 0);
  CHECK(j["metrics"].contains("bpc"));
  // eval on another text file, read with the run's vocabulary.
  write(dir.file("mine.txt"),
        "the program is free software ; you can redistribute it and modify it under the terms "
        "of the gnu general public license as published by the free software foundation . you can redistribute it .");
  REQUIRE(cli(dir, "eval " + run + " --checkpoint last --data " + dir.file("mine.txt") + " --out " + dir.file("e.json"),
              out) == 0);
  CHECK(nlohmann::json::parse(read_file(dir.file("e.json")))["split"] == "all");

  // predict on text: next-token probabilities at every step, the columns named by token.
  REQUIRE(cli(dir,
              "predict " + run + " --checkpoint last --input " + dir.file("mine.txt") + " --out " + dir.file("p.csv"),
              out) == 0);
  const auto p = read_csv(dir.file("p.csv"));
  REQUIRE(p.size() == 1 + 32);  // one 32-step window of the 33 tokens
  CHECK(p[0][0] == "sample");
  CHECK(p[0][1] == "step");
  CHECK(p[0][2] == "p_<unk>");
  CHECK(p[0][3] == "p_the");
  CHECK(p[0].back() == "label");
  double sum = 0;  // columns 2..401: the 400 probabilities (a label such as "," is quoted after them)
  for (std::size_t k = 2; k < 2 + 400; ++k) sum += std::stod(p[1][k]);
  CHECK(sum == Approx(1.0).epsilon(1e-3));
  // predict on token indices [N, T, 1] in a .npy file.
  std::vector<float> ids(32);
  {
    const auto tok = std::vector<std::string>{"the", "program", "is", "free", "software", ";", "you", "can"};
    for (std::size_t i = 0; i < ids.size(); ++i)
      ids[i] = static_cast<float>(std::find(v.tokens.begin(), v.tokens.end(), tok[i % tok.size()]) - v.tokens.begin());
  }
  write_npy_array(dir.file("ids.npy"), ids.data(), {1, 32, 1});
  // An .npy file has no per-step targets: predict gives the last step's next-token probabilities.
  const int rc = cli(
      dir, "predict " + run + " --checkpoint last --input " + dir.file("ids.npy") + " --out " + dir.file("q.npy"), out);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(NpyArray::open(dir.file("q.npy")).shape() == std::vector<std::size_t>{1, 400});
  CHECK(NpyArray::open(dir.file("q.labels.npy")).shape() == std::vector<std::size_t>{1});
  // An index outside the vocabulary is refused, naming it.
  ids[5] = 400;
  write_npy_array(dir.file("bad.npy"), ids.data(), {1, 32, 1});
  CHECK(cli(dir, "predict " + run + " --checkpoint last --input " + dir.file("bad.npy") + " --out " + dir.file("r.npy"),
            out) != 0);
  CHECK_THAT(out, Contains("input 400") && Contains("vocabulary of 400 tokens"));
}

TEST_CASE("a run's vocabulary: a changed tokenization or a different vocab file is refused on resume and eval",
          "[text][bad_input][cli]") {
  TempDir dir;
  write(dir.file("c.txt"), corpus());
  const std::string yaml = R"(seed: 2
data: {kind: char_text, path: CORPUS, tokens: word, max_vocab: 15, input: index, length: 8, test_fraction: 0.2}
model: [{kind: embedding, dim: 4}, {kind: elman, units: 8}, {kind: dense, units: 15}]
loss: {kind: cross_entropy}
optimizer: {kind: adam, lr: 0.01}
train: {epochs: 1, batch: 4}
)";
  std::string text = yaml;
  text.replace(text.find("CORPUS"), 6,
               dir.file("c.txt"));  // absolute: the resumes below read config.yaml in the run folder
  write(dir.file("lm.yaml"), text);
  std::string out;
  REQUIRE(cli(dir, "run " + dir.file("lm.yaml") + " --out " + dir.file("run") + " --quiet --threads 1", out) == 0);
  REQUIRE(read_vocabulary(dir.file("run/vocab.txt")).tokens.size() == 15);

  // A different vocabulary file given explicitly: eval names the index where they part.
  auto other = build_data("{kind: char_text, path: c.txt, tokens: word, max_vocab: 15, lowercase: true}", dir.path);
  write_vocabulary(dir.file("other.vocab"), other->vocabulary());
  CHECK(cli(dir,
            "eval " + dir.file("run") + " --checkpoint last --data '{kind: char_text, path: " + dir.file("c.txt") +
                ", tokens: word, lowercase: true, input: index, length: 8, vocab: " + dir.file("other.vocab") + "}'",
            out) != 0);
  CHECK_THAT(out, Contains("run/vocab.txt") && Contains("differs from the run's at index"));

  // Resume (the trainer's) for a second epoch with the tokenization changed: refused, naming
  // the run's vocabulary and both settings.
  auto resume = [&](const std::vector<std::string>& sets) {
    Experiment e = load_experiment(dir.file("run/config.yaml"), sets, host());
    RunOptions o;
    o.out_dir = dir.file("run");
    o.threads = 1;
    o.quiet = true;
    o.resume = true;
    run_experiment(e, host(), o);
  };
  CHECK_THROWS_WITH(resume({"train.epochs=2", "data.tokens=char"}),
                    Contains("vocab.txt") && Contains("tokens=word") && Contains("tokens: char"));
  // The saved vocabulary broken: resume and eval name the file, the line and the column.
  write(dir.file("run/vocab.txt"), "#unroll-vocab tokens=word lowercase=false\n<unk>\t0\nthe\n");
  CHECK_THROWS_WITH(resume({"train.epochs=2"}), Contains("vocab.txt:3:4") && Contains("tab"));
  CHECK(cli(dir, "eval " + dir.file("run") + " --checkpoint last", out) != 0);
  CHECK_THAT(out, Contains("vocab.txt:3:4"));
}
