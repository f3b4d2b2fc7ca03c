// Feed-forward layers: dense and the element-wise activations.
#include <catch2/catch.hpp>
#include <cmath>

#include "support.hpp"
#include "unroll/gradcheck.hpp"

using namespace unroll;
using unroll::testing::make_layer;

namespace {

Seq random_seq(int features, int steps, int batch, uint64_t seed) {
  Rng rng(seed);
  Seq s;
  s.resize(features, steps, batch);
  for (float& v : s.data.reshaped()) v = static_cast<float>(rng.normal());
  return s;
}

// y = 2x, with a sign error in dx(0, 0): the gradient check must catch one wrong element.
class WrongSign final : public Layer {
 public:
  int output_size() const override { return input_size(); }

 protected:
  void do_forward(const Seq& x, Seq& y, Mode) override {
    y.resize(x.features(), x.steps, x.batch);
    y.data = 2.0f * x.data;
  }
  void do_backward(const Seq& dy, Seq& dx, bool need_dx) override {
    if (!need_dx) return;
    dx.resize(dy.features(), dy.steps, dy.batch);
    dx.data = 2.0f * dy.data;
    dx.data(0, 0) = -dx.data(0, 0);
  }
};

// y = W x with a missing factor in one parameter element: dW(1, 0) is reported at half its value.
class HalfParamGrad final : public Layer {
 public:
  explicit HalfParamGrad(int n) : W_("bad.W", n, n, n, n, Node()) {
    Rng rng(3);
    for (float& v : W_.value.reshaped()) v = static_cast<float>(rng.normal());
  }
  int output_size() const override { return input_size(); }
  std::vector<Param*> params() override { return {&W_}; }

 protected:
  void do_forward(const Seq& x, Seq& y, Mode) override {
    y.resize(W_.value.rows(), x.steps, x.batch);
    gemm(y.data, W_.value, Trans::No, x.data, Trans::No);
    x_ = x.data;
  }
  void do_backward(const Seq& dy, Seq& dx, bool need_dx) override {
    Matrix g(W_.value.rows(), W_.value.cols());
    gemm(g, dy.data, Trans::No, x_, Trans::Yes);
    g(1, 0) *= 0.5f;
    W_.grad += g;
    if (need_dx) {
      dx.resize(input_size(), dy.steps, dy.batch);
      gemm(dx.data, W_.value, Trans::Yes, dy.data, Trans::No);
    }
  }

 private:
  Param W_;
  Matrix x_;
};

}  // namespace

TEST_CASE("dense: gradient check on random shapes, steps 1 and 3", "[layers][dense][gradcheck]") {
  Rng shapes(42);
  for (int trial = 0; trial < 4; ++trial) {
    const int input = 1 + static_cast<int>(shapes.below(7));
    const int units = 1 + static_cast<int>(shapes.below(7));
    const bool bias = trial % 2 == 0;
    for (int steps : {1, 3}) {
      auto layer = make_layer("{kind: dense, units: " + std::to_string(units) + ", bias: " + (bias ? "true" : "false") +
                                  ", init: {kind: gaussian, std: 0.5}, bias_init: {kind: gaussian, std: 0.5}}",
                              input, "dense0");
      GradCheckOptions opt;
      opt.steps = steps;
      opt.seed = 10 + trial;
      const auto r = check_layer_gradients(*layer, opt);
      INFO("input " << input << ", units " << units << ", bias " << bias << ", steps " << steps << ": " << r.summary());
      REQUIRE(r.ok);
      REQUIRE(r.checked == static_cast<long>(input * steps * opt.batch + units * input + (bias ? units : 0)));
    }
  }
}

TEST_CASE("dense: parameters, names and fans", "[layers][dense]") {
  auto layer = make_layer("{kind: dense, units: 4}", 3, "dense7");
  REQUIRE(layer->output_size() == 4);
  auto ps = layer->params();
  REQUIRE(ps.size() == 2);
  CHECK(ps[0]->name == "dense7.W");
  CHECK(ps[0]->value.rows() == 4);
  CHECK(ps[0]->value.cols() == 3);
  CHECK(ps[0]->fan_in == 3);
  CHECK(ps[0]->fan_out == 4);
  CHECK(ps[1]->name == "dense7.b");
  CHECK(ps[1]->value.rows() == 4);
  CHECK(ps[1]->value.cols() == 1);
  // Defaults: xavier_uniform weights within the Glorot bound, zero bias.
  const float bound = std::sqrt(6.0f / 7.0f);
  CHECK(ps[0]->value.cwiseAbs().maxCoeff() <= bound);
  CHECK(ps[0]->value.cwiseAbs().maxCoeff() > 0.0f);
  CHECK(ps[1]->value.isZero());

  auto nobias = make_layer("{kind: dense, units: 2, bias: false}", 3);
  CHECK(nobias->params().size() == 1);

  REQUIRE_THROWS_AS(make_layer("{kind: dense}", 3), Error);
  REQUIRE_THROWS_AS(make_layer("{kind: dense, units: 0}", 3), Error);
}

TEST_CASE("dense: forward is W x + b on every column", "[layers][dense]") {
  auto layer =
      make_layer("{kind: dense, units: 3, init: {kind: gaussian, std: 1}, bias_init: {kind: gaussian, std: 1}}", 4);
  const Matrix& W = layer->params()[0]->value;
  const Matrix& b = layer->params()[1]->value;
  Seq x = random_seq(4, 2, 5, 7), y;
  layer->forward(x, y, Mode::Eval);
  REQUIRE(y.features() == 3);
  REQUIRE(y.steps == 2);
  REQUIRE(y.batch == 5);
  for (int j = 0; j < 10; ++j)
    for (int i = 0; i < 3; ++i) {
      double want = b(i, 0);
      for (int k = 0; k < 4; ++k) want += double(W(i, k)) * x.data(k, j);
      CHECK(y.data(i, j) == Approx(want).margin(1e-5));
    }
}

TEST_CASE("dense: GRADIENTS ACCUMULATE over backward passes", "[layers][dense]") {
  auto layer = make_layer("{kind: dense, units: 3}", 4);
  auto ps = layer->params();
  for (Param* p : ps) p->grad.setZero();
  Seq x = random_seq(4, 1, 6, 1), dy = random_seq(3, 1, 6, 2), y, dx;

  layer->forward(x, y, Mode::Train);
  layer->backward(dy, dx, true);
  const Matrix gW = ps[0]->grad, gb = ps[1]->grad;
  REQUIRE(gW.norm() > 0);
  REQUIRE(gb.norm() > 0);

  layer->forward(x, y, Mode::Train);
  layer->backward(dy, dx, true);
  CHECK(ps[0]->grad.isApprox(2 * gW, 1e-5f));
  CHECK(ps[1]->grad.isApprox(2 * gb, 1e-5f));
}

TEST_CASE("dense: need_dx = false leaves dx untouched", "[layers][dense]") {
  auto layer = make_layer("{kind: dense, units: 3}", 4);
  Seq x = random_seq(4, 1, 2, 1), dy = random_seq(3, 1, 2, 2), y, dx = random_seq(5, 1, 7, 3);
  const Matrix before = dx.data;
  layer->forward(x, y, Mode::Train);
  layer->backward(dy, dx, false);
  REQUIRE(dx.data.rows() == before.rows());
  REQUIRE(dx.data.cols() == before.cols());
  CHECK(dx.data == before);
  CHECK(layer->params()[0]->grad.norm() > 0);  // the parameter gradients were still computed
}

TEST_CASE("activations: gradient check, steps 1 and 2", "[layers][activations][gradcheck]") {
  for (const char* kind : {"sigmoid", "tanh", "relu", "identity"})
    for (int steps : {1, 2}) {
      auto layer = make_layer(std::string("{kind: ") + kind + "}", 5);
      REQUIRE(layer->output_size() == 5);
      REQUIRE(layer->params().empty());
      GradCheckOptions opt;
      opt.steps = steps;
      opt.input_scale = 2.0;
      const auto r = check_layer_gradients(*layer, opt);
      INFO(kind << ", steps " << steps << ": " << r.summary());
      REQUIRE(r.ok);
      REQUIRE(r.checked == 5 * steps * opt.batch);
    }
}

TEST_CASE("activations: values, relu derivative 0 at 0", "[layers][activations]") {
  Seq x;
  x.resize(1, 1, 4);
  x.data << -2.0f, 0.0f, 0.5f, 3.0f;
  Seq dy;
  dy.resize(1, 1, 4);
  dy.data.setOnes();
  Seq y, dx;

  auto sigmoid = make_layer("{kind: sigmoid}", 1);
  sigmoid->forward(x, y, Mode::Eval);
  for (int j = 0; j < 4; ++j) CHECK(y.data(0, j) == Approx(1.0 / (1.0 + std::exp(-double(x.data(0, j))))));

  auto tanh_layer = make_layer("{kind: tanh}", 1);
  tanh_layer->forward(x, y, Mode::Eval);
  for (int j = 0; j < 4; ++j) CHECK(y.data(0, j) == Approx(std::tanh(double(x.data(0, j)))));

  auto relu = make_layer("{kind: relu}", 1);
  relu->forward(x, y, Mode::Train);
  CHECK(y.data(0, 0) == 0.0f);
  CHECK(y.data(0, 1) == 0.0f);
  CHECK(y.data(0, 3) == 3.0f);
  relu->backward(dy, dx, true);
  CHECK(dx.data(0, 0) == 0.0f);
  CHECK(dx.data(0, 1) == 0.0f);  // the kink
  CHECK(dx.data(0, 2) == 1.0f);

  auto id = make_layer("{kind: identity}", 1);
  id->forward(x, y, Mode::Train);
  CHECK(y.data == x.data);

  // No huge-input NaNs from the sigmoid.
  x.data << -200.0f, 200.0f, -90.0f, 90.0f;
  sigmoid->forward(x, y, Mode::Eval);
  CHECK(y.data.allFinite());
  CHECK(y.data(0, 0) == 0.0f);
  CHECK(y.data(0, 1) == 1.0f);
}

TEST_CASE("gradient check catches a wrong gradient in one element", "[layers][gradcheck]") {
  WrongSign bad_dx;
  bad_dx.bind(LayerContext{"wrong_sign", 4});
  const auto r1 = check_layer_gradients(bad_dx);
  INFO(r1.summary());
  REQUIRE(!r1.ok);
  CHECK(r1.failures == 1);

  HalfParamGrad bad_dw(3);
  bad_dw.bind(LayerContext{"half", 3});
  const auto r2 = check_layer_gradients(bad_dw);
  INFO(r2.summary());
  REQUIRE(!r2.ok);
  CHECK(r2.failures == 1);
  CHECK(r2.worst.find("bad.W(1,0)") != std::string::npos);
}
