// One memory update (NRNM_SPEC.md, step 1) against a case worked out by
// hand: two slots, H = 2, one head. The weights are chosen so that each
// stage is a small sum a reader can follow, and the test spells each stage
// out in scalars (no ATen), in float64:
//
//   X = [h_a; h_b; e]                       tokens (3, 2), the input token last
//   qkv_projector = 0, qkv_layernorm weight 0, bias Q|K|V
//                                            so q, k, v of each token are the bias rows
//   attn_i = sum_j softmax_j(q_i . k_j / sqrt(2)) v_j
//   Y = LN_1(X + attn)                       one mean and variance over all 6 values
//   MLP Linear = 0 with bias b_f             relu(relu(0 + b_f) 0 + b_f) = relu(b_f)
//   Z = LN_2(Y + relu(b_f))
//   gates: input_gate_projector weight 0 (bias g), memory_gate_projector
//   weight 0 (bias g'), so G = g + g' for every slot
//   M_new = sigmoid(G_i + beta_i) tanh(Z[:2]) + sigmoid(G_f + beta_f) M

#include "nrnm/model/memory_block.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cmath>
#include <vector>

namespace {

using Matrix = std::vector<std::vector<double>>;  // rows of H = 2

constexpr double kEps = 1e-5;  // every LayerNorm of the block

// LayerNorm over the whole (rows, 2) slab with per-position affine weights.
Matrix layer_norm(const Matrix& x, const Matrix& weight, const Matrix& bias) {
  double mean = 0, square = 0;
  const double count = static_cast<double>(x.size() * 2);
  for (const auto& row : x) mean += row[0] + row[1];
  mean /= count;
  for (const auto& row : x) square += (row[0] - mean) * (row[0] - mean) + (row[1] - mean) * (row[1] - mean);
  const double scale = 1.0 / std::sqrt(square / count + kEps);  // biased variance
  Matrix out = x;
  for (size_t i = 0; i < x.size(); ++i) {
    for (int j = 0; j < 2; ++j) out[i][j] = (x[i][j] - mean) * scale * weight[i][j] + bias[i][j];
  }
  return out;
}

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

torch::Tensor tensor_of(const Matrix& rows) {
  std::vector<double> flat;
  for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
  return torch::tensor(flat, torch::kDouble).view({static_cast<int64_t>(rows.size()), 2});
}

TEST(MemoryBlock, OneUpdateOfTwoSlotsMatchesTheWorkedCase) {
  nrnm::MemoryBlock block(nrnm::MemoryBlockOptions(/*input_size=*/1, /*hidden_size=*/2, /*slots=*/2).heads(1));
  block->to(torch::kDouble);

  const Matrix hidden = {{0.5, -1.0}, {2.0, 0.25}};  // h_a, h_b
  const std::array<double, 2> e = {-0.75, 1.5};      // input token
  const Matrix memory = {{0.1, -0.2}, {0.3, 0.4}};   // M as carried
  // Per token: q | k | v (one head of size 2).
  const Matrix q = {{1.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}};
  const Matrix k = {{0.5, -0.5}, {1.0, 2.0}, {-1.0, 0.0}};
  const Matrix v = {{1.0, 2.0}, {-1.0, 0.5}, {0.0, -2.0}};
  const Matrix ln1_w = {{1.0, 2.0}, {0.5, 1.0}, {1.5, 1.0}}, ln1_b = {{0.0, 0.1}, {-0.1, 0.0}, {0.2, 0.0}};
  const Matrix ln2_w = {{2.0, 1.0}, {1.0, 0.5}, {1.0, 1.0}}, ln2_b = {{0.1, 0.0}, {0.0, -0.2}, {0.0, 0.0}};
  const std::array<double, 2> mlp_bias = {0.3, -0.4};                    // relu keeps 0.3, drops -0.4
  const std::array<double, 4> input_gate_bias = {0.2, -0.1, 0.5, 0.0};   // (gi | gf)
  const std::array<double, 4> memory_gate_bias = {0.1, 0.3, -0.5, 1.0};  // (gi | gf)
  const double beta_i = 0.25, beta_f = -0.5;

  {
    torch::NoGradGuard no_grad;
    block->qkv_projector->weight.zero_();
    block->qkv_projector->bias.zero_();
    block->qkv_layernorm->weight.zero_();
    Matrix qkv_rows(3, std::vector<double>(6));
    for (int i = 0; i < 3; ++i) qkv_rows[i] = {q[i][0], q[i][1], k[i][0], k[i][1], v[i][0], v[i][1]};
    std::vector<double> flat;
    for (const auto& row : qkv_rows) flat.insert(flat.end(), row.begin(), row.end());
    block->qkv_layernorm->bias.copy_(torch::tensor(flat, torch::kDouble).view({3, 6}));
    block->attended_memory_layernorm->weight.copy_(tensor_of(ln1_w));
    block->attended_memory_layernorm->bias.copy_(tensor_of(ln1_b));
    block->attended_memory_layernorm2->weight.copy_(tensor_of(ln2_w));
    block->attended_memory_layernorm2->bias.copy_(tensor_of(ln2_b));
    auto mlp = block->attention_mlp->ptr<torch::nn::LinearImpl>(0);
    mlp->weight.zero_();
    mlp->bias.copy_(torch::tensor({mlp_bias[0], mlp_bias[1]}, torch::kDouble));
    block->input_gate_projector->weight.zero_();
    block->input_gate_projector->bias.copy_(
        torch::tensor(std::vector<double>(input_gate_bias.begin(), input_gate_bias.end()), torch::kDouble));
    block->memory_gate_projector->weight.zero_();
    block->memory_gate_projector->bias.copy_(
        torch::tensor(std::vector<double>(memory_gate_bias.begin(), memory_gate_bias.end()), torch::kDouble));
    block->input_bias.fill_(beta_i);
    block->forget_bias.fill_(beta_f);
  }

  // The worked case.
  const Matrix x = {hidden[0], hidden[1], {e[0], e[1]}};
  Matrix residual = x;
  for (int i = 0; i < 3; ++i) {
    std::array<double, 3> scores{};
    double total = 0;
    for (int j = 0; j < 3; ++j) {
      scores[j] = std::exp((q[i][0] * k[j][0] + q[i][1] * k[j][1]) / std::sqrt(2.0));
      total += scores[j];
    }
    for (int j = 0; j < 3; ++j) {
      residual[i][0] += scores[j] / total * v[j][0];
      residual[i][1] += scores[j] / total * v[j][1];
    }
  }
  const Matrix y = layer_norm(residual, ln1_w, ln1_b);
  Matrix y_mlp = y;
  for (auto& row : y_mlp) {
    row[0] += std::max(mlp_bias[0], 0.0);
    row[1] += std::max(mlp_bias[1], 0.0);
  }
  const Matrix z = layer_norm(y_mlp, ln2_w, ln2_b);
  Matrix expected(2, std::vector<double>(2));
  for (int slot = 0; slot < 2; ++slot) {
    for (int j = 0; j < 2; ++j) {
      const double gi = sigmoid(input_gate_bias[j] + memory_gate_bias[j] + beta_i);
      const double gf = sigmoid(input_gate_bias[2 + j] + memory_gate_bias[2 + j] + beta_f);
      expected[slot][j] = gi * std::tanh(z[slot][j]) + gf * memory[slot][j];
    }
  }

  nrnm::MemoryInput input;
  input.token = torch::tensor({e[0], e[1]}, torch::kDouble).view({1, 2});
  input.gate = block->input_gate_projector->forward(input.token);  // (1, 4) = g
  const torch::Tensor got =
      block->update(input, tensor_of(memory).unsqueeze(0), tensor_of(hidden).unsqueeze(0)).squeeze(0);  // (2, 2)
  ASSERT_EQ(got.sizes(), torch::IntArrayRef({2, 2}));
  for (int slot = 0; slot < 2; ++slot) {
    for (int j = 0; j < 2; ++j) {
      EXPECT_NEAR(got[slot][j].item<double>(), expected[slot][j], 1e-12) << "slot " << slot << ", feature " << j;
    }
  }
  // The case is not degenerate: the two slots and the carried memory differ.
  EXPECT_GT(std::abs(expected[0][0] - expected[1][0]), 1e-3);
  EXPECT_GT(std::abs(expected[0][1] - memory[0][1]), 1e-3);
}

TEST(MemoryBlock, ShapeChecksNameWhatWasExpected) {
  nrnm::MemoryBlock block(nrnm::MemoryBlockOptions(1, 2, 2).heads(1));
  nrnm::MemoryInput input{torch::zeros({3, 2}), torch::zeros({3, 4})};
  try {
    block->update(input, torch::zeros({3, 1, 2}), torch::zeros({3, 1, 2}));
    FAIL() << "a memory of one slot was accepted by a two-slot block";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("expected memory of shape (batch, 2, 2)"), std::string::npos)
        << e.what_without_backtrace();
  }
}

}  // namespace
