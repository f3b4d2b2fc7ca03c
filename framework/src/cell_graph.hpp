#pragma once
// The recorded step of an equation cell (host side of <unroll/cell.hpp>): nodes in the order
// they were created, which is a topological order (a node's inputs always exist before it).
#include <string>
#include <utility>
#include <vector>

#include "unroll/cell.hpp"
#include "unroll/schema.hpp"

namespace unroll {

enum class CellOp {
  Input,  // x_t
  State,  // the previous value of a state variable
  Bias,   // a bias block, broadcast over the batch
  ProdX,  // input-weight block * x_t: hoisted into one gemm over all steps
  ProdH,  // recurrent-weight block * value: a gemm per step
  Add,
  Sub,
  Mul,
  Affine,  // scale * a + shift
  Sigmoid,
  Tanh,
  Relu,
  Copy  // a state's new value that is another node's value (h' = h, or two states alike)
};

struct CellNode {
  CellOp op = CellOp::Copy;
  int a = -1, b = -1;  // inputs (node ids)
  float scale = 1, shift = 0;
  int param = -1, block = -1;
  int state = -1;
};

enum class CellParamType { Input, Recurrent, Bias };

struct CellParamRec {
  std::string name;
  CellParamType type = CellParamType::Input;
  std::vector<std::string> blocks;
  Node init;                        // whole-parameter initializer
  bool default_block_init = false;  // recurrent weights: `init` runs on each block instead
  std::vector<std::pair<std::string, Node>> block_inits;
};

struct CellStateRec {
  std::string name;
  int prev = -1;  // its State node
  int next = -1;  // the node of its new value
};

struct CellDef::Impl {
  std::string layer;
  int H = 0, I = 0;
  Options options;
  std::vector<CellNode> nodes;
  std::vector<CellParamRec> params;
  std::vector<CellStateRec> states;
  int input_node = -1;
};

}  // namespace unroll
