// Optimizers: each update against the published formula evaluated here in double, momentum
// variants, frozen parameters, checkpoint round trips, and convergence on a quadratic.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>

#include "support.hpp"

using namespace unroll;
using unroll::testing::make_optimizer;

namespace {

// Three updates of a 2x2 parameter with fixed gradients; p0 and grads[k] are the inputs.
const double kP0[4] = {0.5, -1.0, 2.0, 0.25};
const double kGrads[3][4] = {{0.1, -0.3, 0.8, -2.0}, {0.2, 0.1, -0.5, -1.0}, {-0.4, 0.3, 0.6, 0.05}};

Param make_param(const std::string& name = "dense0.W") {
  Param p(name, 2, 2, 2, 2, Node());
  for (int i = 0; i < 4; ++i) p.value(i) = static_cast<float>(kP0[i]);
  return p;
}

// Reference: element i of the parameter after `steps` updates, given a scalar update rule
// rule(p, g, t) with t = 1, 2, ... and per-element state it keeps itself.
using Rule = std::function<double(double p, double g, int t)>;

// Runs the plugin for 3 steps and compares every element with the double reference, which is
// re-created per element (each element has its own state) by make_rule().
void check_against_reference(const std::string& yaml, double lr, const std::function<Rule()>& make_rule,
                             double rel = 1e-5) {
  auto opt = make_optimizer(yaml);
  Param p = make_param();
  std::vector<Param*> params{&p};
  double expected[3][4];
  for (int i = 0; i < 4; ++i) {
    Rule rule = make_rule();
    double x = kP0[i];
    for (int t = 1; t <= 3; ++t) expected[t - 1][i] = x = rule(x, kGrads[t - 1][i], t);
  }
  for (int t = 0; t < 3; ++t) {
    for (int i = 0; i < 4; ++i) p.grad(i) = static_cast<float>(kGrads[t][i]);
    opt->step(params, lr);
    for (int i = 0; i < 4; ++i) {
      INFO(yaml << ": step " << t + 1 << ", element " << i);
      CHECK(p.value(i) == Approx(expected[t][i]).epsilon(rel).margin(1e-6));
    }
  }
}

}  // namespace

TEST_CASE("sgd without momentum is p -= lr * (g + wd * p)", "[optimizers]") {
  const double lr = 0.1, wd = 0.01;
  check_against_reference("{kind: sgd, lr: 0.1, weight_decay: 0.01}", lr,
                          [&] { return [=](double p, double g, int) { return p - lr * (g + wd * p); }; });
  auto opt = make_optimizer("{kind: sgd, lr: 0.5}");
  CHECK(opt->base_lr() == Approx(0.5));
  Param p = make_param();
  p.grad.setOnes();
  opt->step({&p}, 0.5);
  CHECK(opt->state().empty());  // plain SGD keeps no state
}

TEST_CASE("sgd momentum follows PyTorch: v = mu v + g, then p -= lr v", "[optimizers]") {
  const double lr = 0.1, mu = 0.9, wd = 0.05;
  check_against_reference("{kind: sgd, lr: 0.1, momentum: 0.9, weight_decay: 0.05}", lr, [&] {
    return [=, v = 0.0](double p, double g, int) mutable {
      g += wd * p;
      v = mu * v + g;
      return p - lr * v;
    };
  });
}

TEST_CASE("sgd nesterov: p -= lr (g + mu v)", "[optimizers]") {
  const double lr = 0.1, mu = 0.9;
  check_against_reference("{kind: sgd, lr: 0.1, momentum: 0.9, nesterov: true}", lr, [&] {
    return [=, v = 0.0](double p, double g, int) mutable {
      v = mu * v + g;
      return p - lr * (g + mu * v);
    };
  });
}

TEST_CASE("momentum and nesterov differ from plain sgd and from each other", "[optimizers]") {
  auto run = [](const std::string& yaml) {
    auto opt = make_optimizer(yaml);
    Param p = make_param();
    for (int t = 0; t < 3; ++t) {
      for (int i = 0; i < 4; ++i) p.grad(i) = static_cast<float>(kGrads[t][i]);
      opt->step({&p}, 0.1);
    }
    return Matrix(p.value);
  };
  const Matrix plain = run("{kind: sgd, lr: 0.1}");
  const Matrix heavy = run("{kind: sgd, lr: 0.1, momentum: 0.9}");
  const Matrix nest = run("{kind: sgd, lr: 0.1, momentum: 0.9, nesterov: true}");
  CHECK((plain - heavy).cwiseAbs().maxCoeff() > 1e-3);
  CHECK((heavy - nest).cwiseAbs().maxCoeff() > 1e-3);
  // Both momentum variants move further than plain SGD along a consistent gradient.
  auto opt_p = make_optimizer("{kind: sgd, lr: 0.1}");
  auto opt_n = make_optimizer("{kind: sgd, lr: 0.1, momentum: 0.5, nesterov: true}");
  auto opt_h = make_optimizer("{kind: sgd, lr: 0.1, momentum: 0.5}");
  Param a = make_param(), b = make_param(), c = make_param();
  for (int t = 0; t < 2; ++t) {
    a.grad.setOnes(), b.grad.setOnes(), c.grad.setOnes();
    opt_p->step({&a}, 0.1), opt_h->step({&b}, 0.1), opt_n->step({&c}, 0.1);
  }
  // After 2 unit gradients: plain 0.2, heavy ball 0.1*(1 + 1.5) = 0.25, Nesterov 0.1*(1.5 + 1.75) = 0.325.
  CHECK(kP0[0] - a.value(0) == Approx(0.2).epsilon(1e-5));
  CHECK(kP0[0] - b.value(0) == Approx(0.25).epsilon(1e-5));
  CHECK(kP0[0] - c.value(0) == Approx(0.325).epsilon(1e-5));
}

TEST_CASE("sgd rejects nesterov without momentum when built", "[optimizers]") {
  CHECK_THROWS_WITH(make_optimizer("{kind: sgd, lr: 0.1, nesterov: true}"),
                    Catch::Contains("nesterov") && Catch::Contains("momentum"));
  CHECK_NOTHROW(make_optimizer("{kind: sgd, lr: 0.1, momentum: 0.9, nesterov: true}"));
  CHECK_THROWS(make_optimizer("{kind: sgd, lr: 0}"));
  CHECK_THROWS(make_optimizer("{kind: sgd, momentum: 1.0}"));
}

TEST_CASE("adagrad (Duchi et al. 2011)", "[optimizers]") {
  const double lr = 0.5, eps = 1e-10, g0 = 0.1;
  check_against_reference("{kind: adagrad, lr: 0.5, initial_accumulator: 0.1}", lr, [&] {
    return [=, G = g0](double p, double g, int) mutable {
      G += g * g;
      return p - lr * g / (std::sqrt(G) + eps);
    };
  });
}

TEST_CASE("rmsprop (Tieleman & Hinton 2012), with and without momentum", "[optimizers]") {
  const double lr = 0.01, alpha = 0.9, eps = 1e-8, mu = 0.8;
  check_against_reference("{kind: rmsprop, lr: 0.01, alpha: 0.9}", lr, [&] {
    return [=, s = 0.0](double p, double g, int) mutable {
      s = alpha * s + (1 - alpha) * g * g;
      return p - lr * g / (std::sqrt(s) + eps);
    };
  });
  check_against_reference("{kind: rmsprop, lr: 0.01, alpha: 0.9, momentum: 0.8}", lr, [&] {
    return [=, s = 0.0, b = 0.0](double p, double g, int) mutable {
      s = alpha * s + (1 - alpha) * g * g;
      b = mu * b + g / (std::sqrt(s) + eps);
      return p - lr * b;
    };
  });
}

// Kingma & Ba 2015, Algorithm 1 (with L2 decay folded into g, as PyTorch's Adam does).
std::function<Rule()> adam_rule(double lr, double b1, double b2, double eps, double wd) {
  return [=] {
    return [=, m = 0.0, v = 0.0](double p, double g, int t) mutable {
      g += wd * p;
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      const double mhat = m / (1 - std::pow(b1, t)), vhat = v / (1 - std::pow(b2, t));
      return p - lr * mhat / (std::sqrt(vhat) + eps);
    };
  };
}

TEST_CASE("adam (Kingma & Ba 2015) with bias correction", "[optimizers]") {
  check_against_reference("{kind: adam, lr: 0.1}", 0.1, adam_rule(0.1, 0.9, 0.999, 1e-8, 0.0));
  check_against_reference("{kind: adam, lr: 0.05, beta1: 0.5, beta2: 0.9, eps: 0.001, weight_decay: 0.1}", 0.05,
                          adam_rule(0.05, 0.5, 0.9, 1e-3, 0.1));
  // The first bias-corrected step has magnitude lr in every coordinate (m_hat/sqrt(v_hat) = sign g).
  auto opt = make_optimizer("{kind: adam, lr: 0.1}");
  Param p = make_param();
  for (int i = 0; i < 4; ++i) p.grad(i) = static_cast<float>(kGrads[0][i]);
  opt->step({&p}, 0.01);  // the lr passed in (the schedule's), not the base lr, is used
  for (int i = 0; i < 4; ++i) CHECK(std::abs(p.value(i) - kP0[i]) == Approx(0.01).epsilon(1e-4));
  CHECK(opt->state().count("step") == 1);
  CHECK(opt->state().count("dense0.W/m") == 1);
  CHECK(opt->state().count("dense0.W/v") == 1);
  CHECK(opt->state().at("step")(0, 0) == 1);
}

TEST_CASE("adamw (Loshchilov & Hutter 2019) decouples weight decay", "[optimizers]") {
  const double lr = 0.1, wd = 0.2;
  check_against_reference("{kind: adamw, lr: 0.1, weight_decay: 0.2}", lr, [=] {
    auto adam = adam_rule(lr, 0.9, 0.999, 1e-8, 0.0)();
    return [=](double p, double g, int t) mutable { return adam(p - lr * wd * p, g, t); };
  });
  // With a zero gradient Adam does nothing, so only the decay acts: p *= (1 - lr wd) per step.
  auto opt = make_optimizer("{kind: adamw, lr: 0.1}");
  Param p = make_param();
  for (int t = 0; t < 3; ++t) opt->step({&p}, 0.1);
  for (int i = 0; i < 4; ++i) CHECK(p.value(i) == Approx(kP0[i] * std::pow(1 - 0.1 * 0.01, 3)).epsilon(1e-6));
  // Coupled L2 in Adam is normalized away for a lone weight; decoupled decay is not.
  auto coupled = make_optimizer("{kind: adam, lr: 0.1, weight_decay: 0.2}");
  auto decoupled = make_optimizer("{kind: adamw, lr: 0.1, weight_decay: 0.2}");
  Param a = make_param(), b = make_param();
  coupled->step({&a}, 0.1), decoupled->step({&b}, 0.1);
  CHECK((a.value - b.value).cwiseAbs().maxCoeff() > 1e-3);
}

const char* const kAllOptimizers[] = {
    "{kind: sgd, lr: 0.1}",
    "{kind: sgd, lr: 0.1, momentum: 0.9, weight_decay: 0.01}",
    "{kind: sgd, lr: 0.1, momentum: 0.9, nesterov: true}",
    "{kind: adagrad, lr: 0.1, initial_accumulator: 0.01}",
    "{kind: rmsprop, lr: 0.01}",
    "{kind: rmsprop, lr: 0.01, momentum: 0.5}",
    "{kind: adam, lr: 0.01, weight_decay: 0.01}",
    "{kind: adamw, lr: 0.01}",
};

TEST_CASE("frozen parameters are skipped", "[optimizers]") {
  for (const char* yaml : kAllOptimizers) {
    INFO(yaml);
    auto opt = make_optimizer(yaml);
    Param live = make_param("a.W"), frozen = make_param("b.W");
    frozen.frozen = true;
    for (int t = 0; t < 3; ++t) {
      live.grad.setConstant(0.5f), frozen.grad.setConstant(0.5f);
      opt->step({&live, &frozen}, 0.1);
    }
    CHECK(frozen.value == make_param().value);
    CHECK(live.value != make_param().value);
    for (const auto& [key, value] : opt->state()) CHECK(key.rfind("b.W", 0) != 0);
  }
}

TEST_CASE("optimizer state round trip continues exactly", "[optimizers]") {
  auto grads = [](int t, Param& p, float scale) {
    for (int i = 0; i < p.grad.size(); ++i) p.grad(i) = scale * std::sin(0.7f * t + 1.3f * i);
  };
  for (const char* yaml : kAllOptimizers) {
    INFO(yaml);
    const int total = 8, cut = 3;
    // Uninterrupted.
    auto opt = make_optimizer(yaml);
    Param a = make_param("dense0.W"), b = make_param("dense1.W");
    for (int t = 0; t < total; ++t) {
      grads(t, a, 1.0f), grads(t, b, -0.5f);
      opt->step({&a, &b}, 0.1 / (1 + t));
    }
    // Interrupted after `cut` steps: the state is copied, a fresh optimizer gets it back.
    auto first = make_optimizer(yaml);
    Param c = make_param("dense0.W"), d = make_param("dense1.W");
    for (int t = 0; t < cut; ++t) {
      grads(t, c, 1.0f), grads(t, d, -0.5f);
      first->step({&c, &d}, 0.1 / (1 + t));
    }
    const StateMap saved = first->state();
    first.reset();
    auto second = make_optimizer(yaml);
    second->state() = saved;
    for (int t = cut; t < total; ++t) {
      grads(t, c, 1.0f), grads(t, d, -0.5f);
      second->step({&c, &d}, 0.1 / (1 + t));
    }
    CHECK(c.value == a.value);  // bit for bit
    CHECK(d.value == b.value);
    CHECK(second->state().size() == opt->state().size());
  }
}

TEST_CASE("restored state with the wrong shape is an error", "[optimizers]") {
  auto opt = make_optimizer("{kind: adam}");
  opt->state()["dense0.W/m"] = Matrix::Zero(3, 1);
  Param p = make_param();
  CHECK_THROWS_AS(opt->step({&p}, 0.1), Error);
}

TEST_CASE("optimizers converge on a quadratic", "[optimizers]") {
  // f(p) = 0.5 * sum a_i (p_i - c_i)^2, gradient a_i (p_i - c_i); an ill-conditioned bowl.
  const Vector a = (Vector(4) << 1.0f, 4.0f, 0.5f, 2.0f).finished();
  const Vector c = (Vector(4) << 1.0f, -2.0f, 0.5f, 3.0f).finished();
  struct Case {
    const char* yaml;
    int max_steps;
  };
  const Case cases[] = {
      {"{kind: sgd, lr: 0.2}", 100},
      {"{kind: sgd, lr: 0.05, momentum: 0.9}", 200},
      {"{kind: sgd, lr: 0.05, momentum: 0.9, nesterov: true}", 200},
      {"{kind: adagrad, lr: 1.0}", 100},
      {"{kind: rmsprop, lr: 0.01}", 1000},
      {"{kind: rmsprop, lr: 0.01, momentum: 0.5}", 500},
      {"{kind: adam, lr: 0.05}", 300},
      {"{kind: adamw, lr: 0.05, weight_decay: 0}", 300},
  };
  const double tol = 1e-2;
  for (const Case& k : cases) {
    INFO(k.yaml);
    auto opt = make_optimizer(k.yaml);
    Param p("q.W", 4, 1, 4, 1, Node());  // starts at 0, several units from c
    int steps = 0;
    double dist = (p.value.col(0) - c).norm();
    while (dist >= tol && steps < k.max_steps) {
      p.grad.col(0) = a.cwiseProduct(p.value.col(0) - c);
      opt->step({&p}, opt->base_lr());
      dist = (p.value.col(0) - c).norm();
      ++steps;
    }
    INFO("steps " << steps << ", |p - c| = " << dist);
    CHECK(dist < tol);
  }
}

// What a sharded data-parallel step relies on (docs/scaling.md): an elementwise optimizer stepped
// in shares — two "ranks", each with its own optimizer stepping only its elements of a model cut
// inside a parameter — ends with the values and state of one optimizer stepping it whole, up to
// float rounding (a share starting inside a vector packet runs partly as scalar code, which the
// compiler may contract into fused multiply-adds differently; relative 1e-6).
TEST_CASE("every built-in optimizer is elementwise, and stepping shares equals stepping whole", "[optimizers]") {
  for (const char* yaml : {"{kind: sgd, lr: 0.1, weight_decay: 0.01}", "{kind: sgd, lr: 0.05, momentum: 0.9}",
                           "{kind: sgd, lr: 0.05, momentum: 0.9, nesterov: true}", "{kind: adagrad, lr: 0.5}",
                           "{kind: rmsprop, lr: 0.01, momentum: 0.5}", "{kind: adam, lr: 0.05, weight_decay: 0.01}",
                           "{kind: adamw, lr: 0.05, weight_decay: 0.1}"}) {
    INFO(yaml);
    auto whole_opt = make_optimizer(yaml), rank0 = make_optimizer(yaml), rank1 = make_optimizer(yaml);
    REQUIRE(whole_opt->elementwise());
    Param w = make_param("a.W"), b("a.b", 3, 1, 2, 3, Node());
    b.value << 0.3f, -0.2f, 0.1f;
    Param w0 = w, b0 = b, w1 = w, b1 = b;  // each rank's replica
    for (int t = 0; t < 3; ++t) {
      for (Param* p : {&w, &w0, &w1})
        for (int i = 0; i < 4; ++i) p->grad(i) = static_cast<float>(kGrads[t][i]);
      for (Param* p : {&b, &b0, &b1}) p->grad << 0.5f * t - 0.4f, 0.2f, -1.0f + t;
      whole_opt->step({&w, &b}, 0.1);
      // Rank 0: elements 0..2 of a.W; rank 1: element 3 of a.W and all of a.b.
      rank0->step_range({ParamRange{&w0, 0, 3}}, 0.1);
      rank1->step_range({ParamRange{&w1, 3, 4}, ParamRange{&b1, 0, 3}}, 0.1);
    }
    auto same = [](float x, float y) { return x == Approx(y).epsilon(1e-6).margin(1e-7); };
    for (int i = 0; i < 4; ++i) CHECK(same(w.value(i), (i < 3 ? w0 : w1).value(i)));
    for (int i = 0; i < 3; ++i) CHECK(same(b.value(i), b1.value(i)));
    for (const auto& [key, m] : whole_opt->state()) {
      INFO(key);
      if (key == "step") {
        CHECK(rank0->state().at(key) == m);
        CHECK(rank1->state().at(key) == m);
      } else if (key.rfind("a.W", 0) == 0) {
        for (int i = 0; i < 4; ++i) CHECK(same(m(i), (i < 3 ? rank0 : rank1)->state().at(key)(i)));
      } else {
        for (int i = 0; i < 3; ++i) CHECK(same(m(i), rank1->state().at(key)(i)));
        CHECK(rank0->state().count(key) == 0);  // a share that never touches a.b keeps no state for it
      }
    }
  }
}
