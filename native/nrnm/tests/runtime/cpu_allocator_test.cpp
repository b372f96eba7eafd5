// The caching CPU allocator: reuse of freed blocks, the limit, and a model
// trained with it gives exactly what it gives without.

#include "nrnm/model/classifier.h"
#include "nrnm/runtime/cpu_allocator.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

namespace {

std::vector<torch::Tensor> train_steps() {
  nrnm::NRNMClassifier model(nrnm::NRNMOptions(150, 5).hidden_size(64).layers(2).seed(3));
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-3));
  torch::manual_seed(1);
  const torch::Tensor x = torch::randn({16, 30, 150});
  const torch::Tensor y = torch::randint(0, 5, {16}, torch::kLong);
  std::vector<torch::Tensor> out;
  for (int step = 0; step < 3; ++step) {
    adam.zero_grad();
    const torch::Tensor logits = model->forward(x);
    torch::nn::functional::cross_entropy(logits, y).backward();
    adam.step();
    out.push_back(logits.detach().clone());
  }
  for (const auto& p : model->parameters()) out.push_back(p.detach().clone());
  return out;
}

TEST(CpuAllocator, ReusesFreedBlocksAndKeepsResultsIdentical) {
  nrnm::disable_cpu_caching_allocator();
  const std::vector<torch::Tensor> plain = train_steps();
  nrnm::enable_cpu_caching_allocator();
  const nrnm::CpuCacheStats before = nrnm::cpu_cache_stats();
  const std::vector<torch::Tensor> cached = train_steps();
  const nrnm::CpuCacheStats after = nrnm::cpu_cache_stats();
  EXPECT_TRUE(after.enabled);
  EXPECT_GT(after.hits, before.hits);  // later steps reuse the first step's blocks
  ASSERT_EQ(plain.size(), cached.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_TRUE(torch::equal(plain[i], cached[i])) << "tensor #" << i;
  }
  nrnm::disable_cpu_caching_allocator();
  EXPECT_EQ(nrnm::cpu_cache_stats().cached_bytes, 0u);
}

TEST(CpuAllocator, SameSizeIsReusedAndTheLimitHolds) {
  nrnm::enable_cpu_caching_allocator(1 << 20);  // 1 MiB
  nrnm::empty_cpu_cache();
  void* first = nullptr;
  {
    torch::Tensor a = torch::empty({100 * 1024});  // 400 KiB
    first = a.data_ptr();
  }
  EXPECT_EQ(nrnm::cpu_cache_stats().cached_bytes, 400u * 1024);
  {
    torch::Tensor b = torch::empty({100 * 1024});
    EXPECT_EQ(b.data_ptr(), first);               // the same block again
    torch::Tensor big = torch::empty({1 << 20});  // 4 MiB: over the limit when freed
  }
  EXPECT_LE(nrnm::cpu_cache_stats().cached_bytes, 1u << 20);
  {
    torch::Tensor small = torch::ones({16});  // below 64 KiB: not cached
    EXPECT_EQ(small.sum().item<float>(), 16.0f);
  }
  nrnm::disable_cpu_caching_allocator();
}

TEST(CpuAllocator, AFailedAllocationIsOutOfMemoryWithAndWithoutTheCache) {
  // 2^46 floats: 256 TiB, beyond any x86-64 address space, so the request
  // fails whatever the overcommit policy, without touching memory.
  for (const bool caching : {false, true}) {
    if (caching) {
      nrnm::enable_cpu_caching_allocator();
    } else {
      nrnm::disable_cpu_caching_allocator();
    }
    try {
      torch::empty({int64_t(1) << 46});
      ADD_FAILURE() << "a 256 TiB tensor was allocated (caching " << caching << ")";
    } catch (const c10::OutOfMemoryError& e) {
      EXPECT_NE(std::string(e.what_without_backtrace()).find("cannot allocate 281474976710656 bytes"),
                std::string::npos)
          << e.what_without_backtrace();
    }
  }
  nrnm::disable_cpu_caching_allocator();
}

}  // namespace
