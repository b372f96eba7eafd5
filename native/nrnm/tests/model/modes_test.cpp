// train()/eval() behaviour, zoneout and dropout modes, seeds, dtypes,
// clone() and (when there is one) CUDA.

#include "nrnm/model/classifier.h"
#include "nrnm/model/random.h"

#include <gtest/gtest.h>
#include <torch/cuda.h>

namespace {

using namespace nrnm;

NRNMOptions small(uint64_t seed = 1) { return NRNMOptions(5, 3).hidden_size(8).layers(2).seed(seed); }

torch::Tensor input(int64_t batch = 3, int64_t steps = 23, int64_t features = 5) {
  torch::Generator data = make_generator(42);
  return torch::randn({batch, steps, features}, data);
}

TEST(NRNMModes, EvalIsDeterministicAndDrawsNothing) {
  NRNMClassifier model(small());
  model->eval();
  const torch::Tensor x = input();
  const torch::Tensor state = model->generator.get_state();
  const torch::Tensor a = model->forward(x);
  const torch::Tensor b = model->forward(x);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_TRUE(torch::equal(state, model->generator.get_state()));
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{3, 3}));
}

TEST(NRNMModes, TrainingDrawsNewMasksEachCall) {
  NRNMClassifier model(small());
  model->train();
  const torch::Tensor x = input();
  const torch::Tensor a = model->forward(x);
  const torch::Tensor b = model->forward(x);
  EXPECT_FALSE(torch::allclose(a, b));
  model->eval();
  EXPECT_FALSE(torch::allclose(a, model->forward(x)));
}

TEST(NRNMModes, SharedZoneoutMaskIsConstantAcrossStepsAndSamples) {
  NRNMClassifier model(small().zoneout(0.5));
  model->train();
  NRNMTrace trace;
  model->forward_traced(input(), trace);
  for (const auto& layer : trace.layers) {
    ASSERT_EQ(layer.zoneout_mask.sizes(), (std::vector<int64_t>{1, 8}));
    const torch::Tensor mask = layer.zoneout_mask[0];  // (H)
    ASSERT_GT(mask.sum().item<float>(), 0);
    ASSERT_LT(mask.sum().item<float>(), 8);
    // A unit whose mask is 0 keeps h_{-1} = 0 at every step in every sample;
    // a unit whose mask is 1 takes the new state and moves.
    const torch::Tensor outputs = layer.outputs;               // (T, B, H)
    const torch::Tensor frozen = outputs.eq(0).all(0).all(0);  // (H)
    EXPECT_TRUE(torch::equal(frozen, mask.eq(0)));
    const torch::Tensor unchanged = outputs.narrow(0, 1, outputs.size(0) - 1)
                                        .eq(outputs.narrow(0, 0, outputs.size(0) - 1))
                                        .all(0)
                                        .all(0);  // (H): h_t == h_{t-1} for all t, b
    EXPECT_TRUE(torch::equal(unchanged, mask.eq(0)));
  }
}

TEST(NRNMModes, PerStepZoneoutMaskChangesAcrossStepsAndSamples) {
  NRNMClassifier model(small().zoneout(0.5).zoneout_mode(ZoneoutMode::kPerStep));
  model->train();
  NRNMTrace trace;
  const torch::Tensor x = input();
  model->forward_traced(x, trace);
  for (const auto& layer : trace.layers) {
    const torch::Tensor mask = layer.zoneout_mask;  // (T, B, H)
    ASSERT_EQ(mask.sizes(), (std::vector<int64_t>{23, 3, 8}));
    EXPECT_FALSE(torch::equal(mask[3], mask[4]));
    EXPECT_FALSE(torch::equal(mask.select(1, 0), mask.select(1, 1)));
    // Where the mask is 0 the unit keeps its previous value exactly.
    const torch::Tensor outputs = layer.outputs;
    const torch::Tensor kept = mask.narrow(0, 1, 22).eq(0);
    const torch::Tensor same = outputs.narrow(0, 1, 22).eq(outputs.narrow(0, 0, 22));
    EXPECT_TRUE(torch::equal(same.logical_and(kept), kept));
  }
}

TEST(NRNMModes, MemoryDropoutSharedByTheBatchOrPerSample) {
  for (auto mode : {MemoryDropoutMode::kShared, MemoryDropoutMode::kPerSample}) {
    NRNMClassifier model(small().memory_dropout_mode(mode));
    model->train();
    NRNMTrace trace;
    model->forward_traced(input(4, 31), trace);
    for (const auto& layer : trace.layers) {
      ASSERT_EQ(layer.updates.size(), 3u);
      for (const auto& update : layer.updates) {
        // carried = M_new * mask / (1 - p), p = 0.5: a (B, n, H) factor of 0 or 2
        const torch::Tensor factor = update.memory_carried / update.memory_after;
        EXPECT_TRUE(factor.eq(0).logical_or(factor.eq(2)).all().item<bool>());
        const bool same_for_batch = torch::equal(factor[0], factor[1]) && torch::equal(factor[0], factor[2]) &&
                                    torch::equal(factor[0], factor[3]);
        EXPECT_EQ(same_for_batch, mode == MemoryDropoutMode::kShared);
      }
    }
  }
}

TEST(NRNMModes, SameSeedSameInitAndSameTrainingOutputs) {
  NRNMClassifier a(small(5)), b(small(5)), c(small(6));
  auto pa = a->named_parameters(), pb = b->named_parameters(), pc = c->named_parameters();
  bool any_different = false;
  for (const auto& item : pa) {
    EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
    any_different = any_different || !torch::equal(item.value(), pc[item.key()]);
  }
  EXPECT_TRUE(any_different);
  a->train();
  b->train();
  const torch::Tensor x = input();
  EXPECT_TRUE(torch::equal(a->forward(x), b->forward(x)));
  EXPECT_TRUE(torch::equal(a->forward(x), b->forward(x)));
  // reset() re-seeds: the same initial weights again
  torch::Tensor first = a->named_parameters()["rnn.cell_0.weight_ih"].clone();
  {
    torch::NoGradGuard no_grad;
    a->named_parameters()["rnn.cell_0.weight_ih"].add_(1);
  }
  a->reset();
  EXPECT_TRUE(torch::equal(first, a->named_parameters()["rnn.cell_0.weight_ih"]));
}

TEST(NRNMModes, InitSchemes) {
  const double bound = 1 / std::sqrt(8.0);
  NRNMClassifier official(small());
  for (const auto& item : official->rnn->named_parameters()) {
    EXPECT_LE(item.value().abs().max().item<float>(), bound) << item.key();
  }
  EXPECT_LT(official->rnn->cells[0]->MC->qkv_layernorm->weight.max().item<float>(), 1);
  NRNMClassifier standard(small().init(InitScheme::kStandard));
  auto& mc = standard->rnn->cells[1]->MC;
  EXPECT_EQ(mc->forget_bias.item<float>(), 1);
  EXPECT_EQ(mc->input_bias.item<float>(), 0);
  EXPECT_TRUE(mc->attended_memory_layernorm2->weight.eq(1).all().item<bool>());
  EXPECT_TRUE(mc->qkv_layernorm->bias.eq(0).all().item<bool>());
  EXPECT_LE(standard->rnn->cells[1]->weight_hh.abs().max().item<float>(), bound);
}

TEST(NRNMModes, Float64MatchesFloat32) {
  NRNMClassifier model(small());
  model->eval();
  const torch::Tensor x = input();
  const torch::Tensor single = model->forward(x);
  model->to(torch::kDouble);
  const torch::Tensor twice = model->forward(x);  // float32 x is converted
  EXPECT_EQ(twice.scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::allclose(single.to(torch::kDouble), twice, 0, 1e-5));
  // training masks come from the generator whatever the dtype
  NRNMClassifier a(small(9)), b(small(9));
  b->to(torch::kDouble);
  a->train();
  b->train();
  EXPECT_TRUE(torch::allclose(a->forward(x).to(torch::kDouble), b->forward(x), 0, 1e-5));
}

TEST(NRNMModes, CloneIsDeepAndContinuesTheGenerator) {
  NRNMClassifier model(small());
  model->train();
  const torch::Tensor x = input();
  model->forward(x);  // advance the generator
  auto copy = std::dynamic_pointer_cast<NRNMClassifierImpl>(model->clone());
  ASSERT_TRUE(copy);
  auto original = model->named_parameters();
  for (const auto& item : copy->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), original[item.key()])) << item.key();
    EXPECT_NE(item.value().data_ptr(), original[item.key()].data_ptr()) << item.key();
  }
  EXPECT_TRUE(torch::equal(copy->forward(x), model->forward(x)));
  // the copy's draws did not advance the original's generator
  EXPECT_TRUE(torch::equal(copy->forward(x), model->forward(x)));
}

TEST(NRNMModes, ZeroRatesDrawNoMasks) {
  NRNMClassifier model(small().zoneout(0).memory_dropout(0).aggregation_dropout(0));
  const torch::Tensor x = input();
  model->eval();
  const torch::Tensor eval = model->forward(x);
  model->train();
  const torch::Tensor state = model->generator.get_state();
  EXPECT_TRUE(torch::equal(model->forward(x), eval));
  EXPECT_TRUE(torch::equal(state, model->generator.get_state()));
}

TEST(NRNMModes, Cuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Tensor x = input(4, 31);
  NRNMClassifier cpu(small(3)), gpu(small(3));
  gpu->to(torch::kCUDA);
  cpu->eval();
  gpu->eval();
  EXPECT_TRUE(torch::allclose(cpu->forward(x), gpu->forward(x).cpu(), 0, 1e-5));
  cpu->train();
  gpu->train();
  // masks are drawn on the CPU: the same ones on both devices
  torch::Tensor a = cpu->forward(x), b = gpu->forward(x.cuda());
  EXPECT_TRUE(torch::allclose(a, b.cpu(), 0, 1e-5));
  b.sum().backward();
  for (const auto& p : gpu->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_TRUE(p.grad().is_cuda());
  }
}

}  // namespace
