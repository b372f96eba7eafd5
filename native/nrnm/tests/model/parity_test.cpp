// Parity of NRNMClassifier with the fixtures of test/fixtures/parity, written
// by scripts/fixtures/generate_parity.py from the independent PyTorch
// reference (itself checked against the authors' code): in eval mode the
// logits, the loss and every named gradient must agree within 1e-5 in
// float32 and 1e-10 in float64. Prints the largest difference per case and
// the first mismatches by name.

#include "nrnm/model/classifier.h"
#include "nrnm/serialize/options_json.h"
#include "tests/support/parity_fixture.h"

#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace {

using nrnm_test::Json;

std::vector<std::string> cases_or_empty() {
  try {
    return nrnm_test::parity_cases();
  } catch (const std::exception&) {
    return {};  // reported by check_all
  }
}

struct Comparison {
  double max_diff = 0;
  std::string worst;
  std::vector<std::string> mismatches;

  void add(const std::string& name, const torch::Tensor& got, const torch::Tensor& expected, double tolerance) {
    if (got.sizes() != expected.sizes()) {
      mismatches.push_back(name + ": shape " + c10::str(got.sizes()) + " but expected " + c10::str(expected.sizes()));
      return;
    }
    const double diff = got.numel() == 0 ? 0.0 : (got.to(torch::kDouble) - expected).abs().max().item<double>();
    if (!(diff <= max_diff)) {
      max_diff = diff;
      worst = name;
    }
    if (!(diff <= tolerance)) {
      mismatches.push_back(name + ": max |diff| " + c10::str(diff));
    }
  }
};

// Compares one fixture case; returns the mismatches (empty when it passes).
std::vector<std::string> check_case(const std::string& name, torch::ScalarType dtype) {
  const double tolerance = dtype == torch::kFloat ? 1e-5 : 1e-10;
  const Json index = nrnm_test::load_index(name);
  nrnm::NRNMClassifier model(nrnm::model_options_from_json(nrnm_test::at(index, "options"), name));
  model->to(dtype);

  // The parameters are exactly those of the fixture, in the same order.
  const auto named = model->named_parameters();
  const Json& parameters = nrnm_test::at(index, "parameters");
  std::vector<std::string> mismatches;
  if (named.size() != parameters.object.size()) {
    return {"the model has " + std::to_string(named.size()) + " parameters, the fixture " +
            std::to_string(parameters.object.size())};
  }
  for (size_t i = 0; i < named.size(); ++i) {
    const auto& [fixture_name, entry] = parameters.object[i];
    const torch::Tensor value = nrnm_test::read_tensor(entry);
    if (named[i].key() != fixture_name || named[i].value().sizes() != value.sizes()) {
      return {"parameter #" + std::to_string(i) + " is " + named[i].key() + " " + c10::str(named[i].value().sizes()) +
              ", the fixture's " + fixture_name + " " + c10::str(value.sizes())};
    }
    torch::NoGradGuard no_grad;
    named[i].value().copy_(value);
  }

  model->eval();
  const Json& tensors = nrnm_test::at(index, "tensors");
  const torch::Tensor x = nrnm_test::read_tensor(nrnm_test::at(tensors, "input")).to(dtype);
  const torch::Tensor labels = nrnm_test::read_tensor(nrnm_test::at(tensors, "labels"));
  const torch::Tensor logits = model->forward(x);
  const torch::Tensor loss = torch::nn::functional::cross_entropy(logits, labels);
  loss.backward();

  Comparison outputs;
  outputs.add("logits", logits.detach(), nrnm_test::read_tensor(nrnm_test::at(tensors, "logits")), tolerance);
  outputs.add("loss", loss.detach(), nrnm_test::read_tensor(nrnm_test::at(tensors, "loss")), tolerance);
  Comparison gradients;
  for (const auto& [grad_name, entry] : nrnm_test::at(index, "gradients").object) {
    torch::Tensor grad = named[grad_name].grad();
    if (!grad.defined()) grad = torch::zeros_like(named[grad_name]);
    if (const Json* rows = entry.find("rows")) {
      const int64_t begin = nrnm_test::integer(rows->array.at(0));
      const int64_t end = nrnm_test::integer(rows->array.at(1));
      grad = grad.slice(0, begin, end);
    }
    gradients.add(grad_name, grad, nrnm_test::read_tensor(entry), tolerance);
  }

  std::printf("[parity] %-22s %-7s max|dlogits,dloss| %.2e  max|dgrad| %.2e (%s)\n", name.c_str(),
              dtype == torch::kFloat ? "float32" : "float64", outputs.max_diff, gradients.max_diff,
              gradients.worst.c_str());
  mismatches = outputs.mismatches;
  mismatches.insert(mismatches.end(), gradients.mismatches.begin(), gradients.mismatches.end());
  return mismatches;
}

void check_all(torch::ScalarType dtype) {
  const auto cases = cases_or_empty();
  EXPECT_GE(cases.size(), 7u) << "expected the parity fixtures in " << nrnm_test::fixture_dir();
  for (const auto& name : cases) {
    const auto mismatches = check_case(name, dtype);
    std::string report;
    for (size_t i = 0; i < mismatches.size() && i < 10; ++i) report += "\n  " + mismatches[i];
    EXPECT_TRUE(mismatches.empty()) << name << ": " << mismatches.size() << " mismatches, the first:" << report;
  }
}

// Tolerance 1e-5 (the contract with the authors' code).
TEST(NRNMParity, EvalLogitsLossAndGradientsFloat32) { check_all(torch::kFloat); }

// Tolerance 1e-10: the fixtures are float64 results of float32 weights.
TEST(NRNMParity, EvalLogitsLossAndGradientsFloat64) { check_all(torch::kDouble); }

}  // namespace
