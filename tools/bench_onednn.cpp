// The oneDNN anchor of tools/bench: oneDNN's own RNN primitives (vanilla RNN with tanh, LSTM, and
// the linear-before-reset GRU, which is PyTorch's and unroll's variant) timed on the benchmark's
// shapes: forward in training mode plus backward with the weight gradients, for one epoch's worth
// of batches. Prints one JSON line per (cell, hidden, threads) with the epoch's seconds.
//
//   unroll_bench_onednn [--cells rnn,lstm,gru] [--hidden 128,512] [--threads 1,2]
//                       [--steps 28] [--batch 128] [--input 28] [--samples 60000] [--repeat 3]
//   unroll_bench_onednn --gemm M:K:N:TA:TB[,...] [--threads 1,2]   (oneDNN's sgemm alone, below)
//
// What is timed is the layer alone, as unroll's per-layer profile (UNROLL_GEMM_PROFILE) times
// its recurrent layer: no data, loss or optimizer. The primitives are created once, their weights
// in the layouts oneDNN picks (format any: packed, gate-major), so the reorders into them are not
// timed; an optimizer would have to write its update into that layout or pay them. oneDNN's
// backward always computes the gradient with respect to the input sequence (diff_src_layer),
// which unroll skips for a first layer: oneDNN does slightly more work here. The median over
// --repeat epochs is reported, with the process's CPU seconds (cpu_seconds) beside the wall time.
#include <omp.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

namespace {
using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

memory random_memory(const memory::desc& d, const engine& eng, std::mt19937& g, float scale) {
  memory m(d, eng);
  std::uniform_real_distribution<float> u(-scale, scale);
  float* p = static_cast<float*>(m.get_data_handle());
  for (size_t i = 0; i < d.get_size() / sizeof(float); ++i) p[i] = u(g);
  return m;
}

/// A memory in the layout a primitive wants, filled from a random one in the plain layout.
memory in_layout(const memory::desc& want, const memory::desc& plain, const engine& eng, stream& s, std::mt19937& g,
                 float scale) {
  memory src = random_memory(plain, eng, g, scale);
  if (want == plain) return src;
  memory dst(want, eng);
  reorder(src, dst).execute(s, src, dst);
  s.wait();
  return dst;
}

struct Shape {
  std::string cell;
  int T, N, C, H;
  int gates() const { return cell == "lstm" ? 4 : cell == "gru" ? 3 : 1; }
  int bias_gates() const { return cell == "gru" ? 4 : gates(); }  // lbr GRU: one more bias
};

/// CPU seconds of the process so far (user + system, all threads).
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

/// Wall seconds for `batches` forward-training + backward passes of one layer; `cpu` gets the
/// CPU seconds (on a shared machine, what a 1-thread run would take on a core of its own).
double time_epoch(const Shape& sh, long batches, const engine& eng, stream& s, double& cpu) {
  const memory::dim T = sh.T, N = sh.N, C = sh.C, H = sh.H, G = sh.gates(), GB = sh.bias_gates();
  const memory::desc src_layer({T, N, C}, dt::f32, tag::tnc), dst_layer({T, N, H}, dt::f32, tag::tnc);
  const memory::desc iter({1, 1, N, H}, dt::f32, tag::ldnc);
  const memory::desc w_layer_any({1, 1, C, G, H}, dt::f32, tag::any), w_iter_any({1, 1, H, G, H}, dt::f32, tag::any);
  const memory::desc w_layer_plain({1, 1, C, G, H}, dt::f32, tag::ldigo),
      w_iter_plain({1, 1, H, G, H}, dt::f32, tag::ldigo);
  const memory::desc bias({1, 1, GB, H}, dt::f32, tag::ldgo);
  const auto fwd = prop_kind::forward_training;
  const auto dir = rnn_direction::unidirectional_left2right;

  // Forward and backward primitive descriptors; the backward one takes the forward one as hint.
  primitive_desc fpd, bpd;
  if (sh.cell == "rnn") {
    auto f = vanilla_rnn_forward::primitive_desc(
        vanilla_rnn_forward::desc(fwd, algorithm::eltwise_tanh, dir, src_layer, iter, w_layer_any, w_iter_any, bias,
                                  dst_layer, iter),
        eng);
    bpd = vanilla_rnn_backward::primitive_desc(
        vanilla_rnn_backward::desc(prop_kind::backward, algorithm::eltwise_tanh, dir, src_layer, iter, w_layer_any,
                                   w_iter_any, bias, dst_layer, iter, src_layer, iter, w_layer_any, w_iter_any, bias,
                                   dst_layer, iter),
        eng, f);
    fpd = f;
  } else if (sh.cell == "lstm") {
    auto f = lstm_forward::primitive_desc(
        lstm_forward::desc(fwd, dir, src_layer, iter, iter, w_layer_any, w_iter_any, bias, dst_layer, iter, iter), eng);
    bpd = lstm_backward::primitive_desc(
        lstm_backward::desc(prop_kind::backward, dir, src_layer, iter, iter, w_layer_any, w_iter_any, bias, dst_layer,
                            iter, iter, src_layer, iter, iter, w_layer_any, w_iter_any, bias, dst_layer, iter, iter),
        eng, f);
    fpd = f;
  } else {
    auto f = lbr_gru_forward::primitive_desc(
        lbr_gru_forward::desc(fwd, dir, src_layer, iter, w_layer_any, w_iter_any, bias, dst_layer, iter), eng);
    bpd = lbr_gru_backward::primitive_desc(
        lbr_gru_backward::desc(prop_kind::backward, dir, src_layer, iter, w_layer_any, w_iter_any, bias, dst_layer,
                               iter, src_layer, iter, w_layer_any, w_iter_any, bias, dst_layer, iter),
        eng, f);
    fpd = f;
  }

  std::mt19937 g(1);
  const float ws = 1.0f / static_cast<float>(std::max(C, H));
  std::unordered_map<int, memory> fargs, bargs;
  memory x = random_memory(src_layer, eng, g, 1.0f), y(dst_layer, eng), dy = random_memory(dst_layer, eng, g, 1e-3f);
  memory h0 = random_memory(iter, eng, g, 0.1f), c0 = random_memory(iter, eng, g, 0.1f);
  memory hT(iter, eng), cT(iter, eng), dhT = random_memory(iter, eng, g, 0.0f), dcT = random_memory(iter, eng, g, 0.0f);
  memory b = random_memory(bias, eng, g, ws);
  memory wl = in_layout(fpd.weights_desc(0), w_layer_plain, eng, s, g, ws);
  memory wi = in_layout(fpd.weights_desc(1), w_iter_plain, eng, s, g, ws);
  // The backward may want the weights in another (transposed) packing: reordered once, untimed.
  memory bwl = in_layout(bpd.weights_desc(0), w_layer_plain, eng, s, g, ws);
  memory bwi = in_layout(bpd.weights_desc(1), w_iter_plain, eng, s, g, ws);
  memory workspace(fpd.workspace_desc(), eng);
  memory dx(bpd.diff_src_desc(0), eng), dh0(iter, eng), dc0(iter, eng), db(bias, eng);
  memory dwl(bpd.diff_weights_desc(0), eng), dwi(bpd.diff_weights_desc(1), eng);

  const bool lstm = sh.cell == "lstm";
  fargs = {
      {DNNL_ARG_SRC_LAYER, x}, {DNNL_ARG_SRC_ITER, h0}, {DNNL_ARG_WEIGHTS_LAYER, wl}, {DNNL_ARG_WEIGHTS_ITER, wi},
      {DNNL_ARG_BIAS, b},      {DNNL_ARG_DST_LAYER, y}, {DNNL_ARG_DST_ITER, hT},      {DNNL_ARG_WORKSPACE, workspace}};
  bargs = {{DNNL_ARG_SRC_LAYER, x},
           {DNNL_ARG_SRC_ITER, h0},
           {DNNL_ARG_WEIGHTS_LAYER, bwl},
           {DNNL_ARG_WEIGHTS_ITER, bwi},
           {DNNL_ARG_BIAS, b},
           {DNNL_ARG_DST_LAYER, y},
           {DNNL_ARG_DST_ITER, hT},
           {DNNL_ARG_WORKSPACE, workspace},
           {DNNL_ARG_DIFF_SRC_LAYER, dx},
           {DNNL_ARG_DIFF_SRC_ITER, dh0},
           {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl},
           {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi},
           {DNNL_ARG_DIFF_BIAS, db},
           {DNNL_ARG_DIFF_DST_LAYER, dy},
           {DNNL_ARG_DIFF_DST_ITER, dhT}};
  if (lstm) {
    fargs[DNNL_ARG_SRC_ITER_C] = c0;
    fargs[DNNL_ARG_DST_ITER_C] = cT;
    bargs[DNNL_ARG_SRC_ITER_C] = c0;
    bargs[DNNL_ARG_DST_ITER_C] = cT;
    bargs[DNNL_ARG_DIFF_SRC_ITER_C] = dc0;
    bargs[DNNL_ARG_DIFF_DST_ITER_C] = dcT;
  }
  primitive forward(fpd), backward(bpd);
  auto one_batch = [&] {
    forward.execute(s, fargs);
    backward.execute(s, bargs);  // accumulates into the weight gradients, as a training step would
  };
  one_batch();  // warm-up: first-touch of the buffers, JIT kernels
  s.wait();
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = cpu_seconds();
  for (long i = 0; i < batches; ++i) one_batch();
  s.wait();
  cpu = cpu_seconds() - cpu0;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// --gemm: oneDNN's own sgemm (dnnl::sgemm, its JIT kernels) on one product shape, to compare
// with unroll_bench_gemm's rate for the same shape: is a gap in the RNN times the GEMM kernel, or
// the work around it? C (M x N, column-major) = op(A) op(B), called back to back for ~0.5 s.
// dnnl::sgemm is row-major: the column-major C is the row-major C^T = op(B)^T op(A)^T.
void time_gemm(const std::string& spec, int threads) {
  long m, k, n, ta, tb;
  if (std::sscanf(spec.c_str(), "%ld:%ld:%ld:%ld:%ld", &m, &k, &n, &ta, &tb) != 5) {
    std::fprintf(stderr, "unroll_bench_onednn: --gemm wants M:K:N:TA:TB, got %s\n", spec.c_str());
    std::exit(2);
  }
  std::mt19937 g(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> A(static_cast<size_t>(m * k)), B(static_cast<size_t>(k * n)), C(static_cast<size_t>(m * n));
  for (float& v : A) v = u(g);
  for (float& v : B) v = u(g);
  const long lda = ta ? k : m, ldb = tb ? n : k;
  auto once = [&] {
    sgemm(tb ? 'T' : 'N', ta ? 'T' : 'N', n, m, k, 1.0f, B.data(), ldb, A.data(), lda, 0.0f, C.data(), m);
  };
  once();  // warm-up: JIT code generation, caches
  long calls = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double secs = 0;
  while (secs < 0.5) {
    for (int i = 0; i < 16; ++i) once();
    calls += 16;
    secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const double gflop = 2.0 * m * k * n * calls / 1e9;
  std::printf("{\"gemm\":\"%s\",\"threads\":%d,\"calls\":%ld,\"us_per_call\":%.2f,\"gflops\":%.1f}\n", spec.c_str(),
              threads, calls, 1e6 * secs / static_cast<double>(calls), gflop / secs);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string cells = "rnn,lstm,gru", hidden = "128,512", threads = "1,2", gemms;
  int steps = 28, batch = 128, input = 28, repeat = 3;
  long samples = 60000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--cells")
      cells = v;
    else if (a == "--hidden")
      hidden = v;
    else if (a == "--threads")
      threads = v;
    else if (a == "--steps")
      steps = std::stoi(v);
    else if (a == "--batch")
      batch = std::stoi(v);
    else if (a == "--input")
      input = std::stoi(v);
    else if (a == "--samples")
      samples = std::stol(v);
    else if (a == "--repeat")
      repeat = std::stoi(v);
    else if (a == "--gemm")
      gemms = v;
    else {
      std::fprintf(stderr,
                   "unroll_bench_onednn: unknown option %s (see the comment at the top of tools/bench_onednn.cpp)\n",
                   a.c_str());
      return 2;
    }
  }
  if (argc % 2 == 0) {
    std::fprintf(stderr, "unroll_bench_onednn: option %s needs a value\n", argv[argc - 1]);
    return 2;
  }
  if (!gemms.empty()) {
    for (const std::string& th : split(threads)) {
      omp_set_num_threads(std::stoi(th));
      for (const std::string& spec : split(gemms)) time_gemm(spec, std::stoi(th));
    }
    return 0;
  }
  const long batches = (samples + batch - 1) / batch;  // the epoch's batches, all full-size
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  for (const std::string& th : split(threads))
    for (const std::string& cell : split(cells))
      for (const std::string& h : split(hidden)) {
        omp_set_num_threads(std::stoi(th));
        const Shape sh{cell, steps, batch, input, std::stoi(h)};
        std::vector<double> secs, cpus;
        for (int r = 0; r < repeat; ++r) {
          double cpu = 0;
          secs.push_back(time_epoch(sh, batches, eng, s, cpu));
          cpus.push_back(cpu);
        }
        std::sort(secs.begin(), secs.end());
        std::sort(cpus.begin(), cpus.end());
        std::printf(
            "{\"cell\":\"%s\",\"hidden\":%s,\"threads\":%s,\"steps\":%d,\"batch\":%d,\"input\":%d,"
            "\"batches\":%ld,\"seconds\":%.4f,\"min\":%.4f,\"max\":%.4f,\"cpu_seconds\":%.4f}\n",
            cell.c_str(), h.c_str(), th.c_str(), steps, batch, input, batches, secs[secs.size() / 2], secs.front(),
            secs.back(), cpus[cpus.size() / 2]);
        std::fflush(stdout);
      }
  return 0;
}
