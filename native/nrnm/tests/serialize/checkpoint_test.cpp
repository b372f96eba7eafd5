// The checkpoint format that ships (checkpoint.h over safetensors.h):
// round trips, and every corrupted, truncated or crafted file refused with
// an nrnm::FormatError that names the file, before anything changes.

#include "nrnm/serialize/checkpoint.h"
#include "nrnm/model/classifier.h"
#include "nrnm/runtime/errors.h"
#include "nrnm/serialize/json.h"
#include "nrnm/serialize/safetensors.h"
#include "nrnm/train/trainer.h"
#include "tests/support/parameter_snapshot.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

using nrnm::CheckpointParts;
using nrnm::FormatError;
using nrnm::NRNMClassifier;
using nrnm::NRNMOptions;
using nrnm::Trainer;
using nrnm_test::same;
using nrnm_test::snapshot;

const std::string kSource = "/runs/a/last.nrnm";

NRNMOptions small_options(uint64_t seed) { return NRNMOptions(5, 3).hidden_size(8).layers(2).seed(seed); }

CheckpointParts parts_of(NRNMClassifier& model, Trainer* trainer = nullptr) {
  return {model.ptr().get(), &model->generator, trainer};
}

// A trained model and trainer (so the optimizer has state) and their file.
struct Trained {
  NRNMClassifier model{small_options(1)};
  Trainer trainer{model};
  std::string file;
  Trained() {
    torch::manual_seed(5);
    for (int i = 0; i < 2; ++i) {
      trainer.step(torch::randn({4, 12, 5}), torch::randint(0, 3, {4}));
    }
    trainer.end_epoch();
    file = nrnm::save_checkpoint(parts_of(model, &trainer), {{"nrnm.header", "{\"seed\":1}"}});
  }
};

// The FormatError message that f throws, or why it threw none.
std::string format_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const FormatError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<not a FormatError: ") + e.what() + ">";
  }
  return "<no exception>";
}

#define EXPECT_FORMAT_ERROR(statement, text)                                                               \
  do {                                                                                                     \
    const std::string message_ = format_error_of([&] { statement; });                                      \
    EXPECT_NE(message_.find(kSource), std::string::npos) << message_;                                      \
    EXPECT_NE(message_.find(text), std::string::npos) << "expected \"" << (text) << "\" in: " << message_; \
  } while (0)

// A safetensors file with this exact header text and data.
std::string raw_file(const std::string& header, const std::string& data = "") {
  std::string out;
  for (int i = 0; i < 8; ++i) {
    out += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  }
  return out + header + data;
}

TEST(Checkpoint, RoundTripsModelGeneratorAndTrainer) {
  Trained a;
  NRNMClassifier b(small_options(2));  // other weights until loaded
  Trainer b_trainer(b);
  nrnm::load_checkpoint(a.file, kSource, parts_of(b, &b_trainer));
  EXPECT_TRUE(same(snapshot(*a.model), *b));
  EXPECT_EQ(b_trainer.step_count(), 2);
  EXPECT_EQ(b_trainer.epoch_count(), 1);
  EXPECT_EQ(b_trainer.lr(), a.trainer.lr());
  EXPECT_EQ(nrnm::read_checkpoint_metadata(a.file, kSource).at("nrnm.header"), "{\"seed\":1}");

  // Same generator state and Adam moments: the next step is identical.
  const auto x = torch::randn({4, 12, 5});
  const auto y = torch::randint(0, 3, {4});
  EXPECT_EQ(a.trainer.step(x, y).loss, b_trainer.step(x, y).loss);
  EXPECT_TRUE(same(snapshot(*a.model), *b));
}

TEST(Checkpoint, IsSafetensorsWithOfficialParameterNames) {
  Trained a;
  const nrnm::TensorFile file = nrnm::decode_safetensors(a.file, kSource);
  EXPECT_EQ(file.metadata.at("format"), "nrnm-checkpoint");
  EXPECT_EQ(file.metadata.at("format_version"), "2");
  EXPECT_EQ(file.metadata.at("nrnm.checksum").rfind("crc32:", 0), 0u);
  std::map<std::string, torch::Tensor> tensors(file.tensors.begin(), file.tensors.end());
  for (const auto& item : a.model->named_parameters()) {
    ASSERT_TRUE(tensors.count(item.key())) << item.key();
    EXPECT_TRUE(torch::equal(tensors.at(item.key()), item.value().detach()));
  }
  EXPECT_TRUE(tensors.count("rnn.cell_0.weight_ih"));
  EXPECT_TRUE(tensors.count("nrnm.generator"));
  EXPECT_TRUE(tensors.count("nrnm.optimizer.exp_avg.decoder.0.weight"));
  // The header is padded to 8 bytes, as the reference implementation does.
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) {
    header = (header << 8) | static_cast<unsigned char>(a.file[i]);
  }
  EXPECT_EQ(header % 8, 0u);
}

TEST(Checkpoint, DetectsEveryRandomFourByteCorruption) {
  Trained a;
  const auto before = snapshot(*a.model);
  std::mt19937_64 random(14);
  int detected = 0;
  const int trials = 100;
  for (int trial = 0; trial < trials; ++trial) {
    std::string bad = a.file;
    const size_t at = random() % (bad.size() - 4);
    bool changed = false;
    for (size_t i = at; i < at + 4; ++i) {
      const char c = static_cast<char>(random() & 0xFF);
      changed = changed || c != bad[i];
      bad[i] = c;
    }
    if (!changed) {
      bad[at] = static_cast<char>(~bad[at]);
    }
    try {
      nrnm::load_checkpoint(bad, kSource, parts_of(a.model, &a.trainer));
    } catch (const FormatError& e) {
      ++detected;
      EXPECT_NE(std::string(e.what()).find(kSource), std::string::npos) << e.what();
      continue;
    }
    ADD_FAILURE() << "a corruption of bytes " << at << ".." << at + 3 << " loaded";
  }
  EXPECT_EQ(detected, trials);
  EXPECT_TRUE(same(before, *a.model)) << "a refused file changed the model";
  EXPECT_EQ(a.trainer.step_count(), 2);
}

TEST(Checkpoint, TruncatedFilesAreRefused) {
  Trained a;
  for (const size_t size : {size_t{0}, size_t{7}, size_t{8}, size_t{100}, a.file.size() / 2, a.file.size() - 1}) {
    EXPECT_FORMAT_ERROR(nrnm::load_checkpoint(a.file.substr(0, size), kSource, parts_of(a.model, &a.trainer)),
                        "truncated");
  }
}

TEST(Checkpoint, CraftedHeadersAreRefusedBeforeAllocating) {
  NRNMClassifier model(small_options(1));
  const auto parts = parts_of(model);
  auto load = [&](const std::string& bytes) {
    nrnm::load_checkpoint(bytes, kSource, parts);
  };
  std::string huge = raw_file("{}");
  huge[5] = 0x10;  // a header length of about 2^40 bytes
  EXPECT_FORMAT_ERROR(load(huge), "more than the 100000000 allowed");
  EXPECT_FORMAT_ERROR(load(raw_file(std::string(100000, '[') + std::string(100000, ']'))), "nested deeper than 64");
  EXPECT_FORMAT_ERROR(load(raw_file("{\"a\":")), "malformed");
  EXPECT_FORMAT_ERROR(
      load(raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1000000,1000000],\"data_offsets\":[0,8]}}", "12345678")),
      "shape larger than the file");
  EXPECT_FORMAT_ERROR(load(raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", "12345678")),
                      "has 8 data bytes but its dtype and shape need 12");
  EXPECT_FORMAT_ERROR(load(raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                    "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                                    "12345678")),
                      "overlapping or missing bytes");
  EXPECT_FORMAT_ERROR(load(raw_file("{\"a\":{\"dtype\":\"object\",\"shape\":[1],\"data_offsets\":[0,4]}}", "1234")),
                      "no dtype this reader knows");
  EXPECT_FORMAT_ERROR(load(raw_file("{\"__metadata__\":{\"format\":1}}")), "\"format\" is not a string");
  EXPECT_FORMAT_ERROR(load(raw_file("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"a\":{}}", "x")),
                      "duplicate key");
  EXPECT_FORMAT_ERROR(load(raw_file("{}")), "not an nrnm-native checkpoint");
  EXPECT_FORMAT_ERROR(load(raw_file("{\"__metadata__\":{\"format\":\"nrnm-checkpoint\",\"format_version\":\"9\"}}")),
                      "format version 9");
}

// Found by fuzzing (class 7 of issue 26): a header's cost in time and memory
// follows its size. Checking each key against all the keys before it made a
// 590 KB header of 60,000 keys take 44 s (a 100 MB one: days); 128-byte values
// made a 10 MB header of zeros cost 1 GB.
TEST(Checkpoint, HeadersCostTimeAndMemoryInProportionToTheirSize) {
  NRNMClassifier model(small_options(1));
  const auto parts = parts_of(model);
  auto load = [&](const std::string& bytes) {
    nrnm::load_checkpoint(bytes, kSource, parts);
  };
  std::string keys = "{";
  for (int i = 0; i < 200000; ++i) {
    keys += "\"k" + std::to_string(i) + "\":0,";
  }
  EXPECT_FORMAT_ERROR(load(raw_file(keys + "\"k199999\":0}")), "duplicate key \"k199999\"");
  std::string zeros = "[0";
  for (size_t i = 0; i < nrnm::json::kMaxValues; ++i) {
    zeros += ",0";
  }
  EXPECT_FORMAT_ERROR(load(raw_file(zeros + "]")), "more than 262144 JSON values");
  EXPECT_NO_THROW(nrnm::json::parse(zeros.substr(0, zeros.size() - 4) + "]")) << "exactly kMaxValues values are read";
}

TEST(Checkpoint, OptionsThatDisagreeWithTheStoredParametersAreRefused) {
  Trained a;
  NRNMClassifier wider(NRNMOptions(5, 3).hidden_size(16).layers(2));
  const auto before = snapshot(*wider);
  EXPECT_FORMAT_ERROR(nrnm::load_checkpoint(a.file, kSource, parts_of(wider)),
                      "the options and the parameters stored in the file disagree");
  EXPECT_TRUE(same(before, *wider)) << "a refused file changed the model";
  NRNMClassifier shallower(NRNMOptions(5, 3).hidden_size(8).layers(1));
  EXPECT_FORMAT_ERROR(nrnm::load_checkpoint(a.file, kSource, parts_of(shallower)), "that this model does not have");
}

TEST(Checkpoint, AModelFileIsNotATrainerFile) {
  NRNMClassifier model(small_options(1));
  const std::string file = nrnm::save_checkpoint(parts_of(model), {});
  NRNMClassifier other(small_options(3));
  nrnm::load_checkpoint(file, kSource, parts_of(other));  // model only: fine
  EXPECT_TRUE(same(snapshot(*model), *other));
  Trainer trainer(other);
  EXPECT_FORMAT_ERROR(nrnm::load_checkpoint(file, kSource, parts_of(other, &trainer)), "without trainer state");
  // A trainer's file loads as a model alone (its optimizer state ignored).
  Trained a;
  nrnm::load_checkpoint(a.file, kSource, parts_of(other));
  EXPECT_TRUE(same(snapshot(*a.model), *other));
}

TEST(Checkpoint, ReservedMetadataKeysAreRefusedOnSave) {
  NRNMClassifier model(small_options(1));
  EXPECT_THROW(nrnm::save_checkpoint(parts_of(model), {{"format", "x"}}), c10::Error);
  EXPECT_THROW(nrnm::save_checkpoint(parts_of(model), {{"nrnm.checksum", "x"}}), c10::Error);
}

TEST(Json, ParsesStrictlyAndQuotesRoundTrip) {
  const auto v = nrnm::json::parse(" {\"a\":[1,2.5e1,-0,true,null],\"b\":\"\\u00e9\\ud83d\\ude00\\n\"} ");
  ASSERT_EQ(v.kind, nrnm::json::Value::Kind::kObject);
  EXPECT_TRUE(v.find("a")->array[0].is_count());
  EXPECT_FALSE(v.find("a")->array[1].is_count());
  EXPECT_EQ(v.find("a")->array[1].number, 25);
  EXPECT_EQ(v.find("b")->string, "\xc3\xa9\xf0\x9f\x98\x80\n");
  EXPECT_EQ(nrnm::json::parse(nrnm::json::quote("a\"\\\x01")).string, "a\"\\\x01");
  for (const char* bad : {"", "01", "[1,]", "{\"a\" 1}", "\"\\ud800\"", "[1] x", "nul", "\"\x01\""}) {
    EXPECT_THROW(nrnm::json::parse(bad), std::invalid_argument) << bad;
  }
}

TEST(Json, RefusesNulAndInvalidUtf8InStrings) {
  EXPECT_EQ(nrnm::json::parse("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"").string,
            "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
  for (const char* bad :
       {"{\"nrnm.header\\u0000x\":\"1\"}", "\"a\\u0000\"", "\"\x80\"", "\"\xc0\xaf\"", "\"\xc3\"", "\"\xe0\x80\xaf\"",
        "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xf8\x88\x80\x80\x80\"", "\"\xff\"", "{\"\xc3\x28\":1}"}) {
    EXPECT_THROW(nrnm::json::parse(bad), std::invalid_argument) << bad;
  }
  // Both readers see one file: the binding's keys are C strings, so a key
  // with a NUL is refused with the file's name, not cut into another key.
  EXPECT_FORMAT_ERROR(
      nrnm::read_checkpoint_metadata(raw_file("{\"__metadata__\":{\"nrnm.header\\u0000x\":\"{}\"}}"), kSource), "NUL");
  EXPECT_FORMAT_ERROR(nrnm::read_checkpoint_metadata(raw_file("{\"__metadata__\":{\"a\":\"\xff\"}}"), kSource),
                      "invalid UTF-8");
}

TEST(Json, ExcerptsKeepMessagesShort) {
  EXPECT_EQ(nrnm::json::excerpt("abc"), "\"abc\"");
  const std::string name(10 * 1000 * 1000, 'n');
  const std::string message = format_error_of([&] {
    nrnm::decode_safetensors(
        raw_file("{\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,4]}}", "1234"), kSource);
  });
  EXPECT_NE(message.find(kSource), std::string::npos) << message.substr(0, 300);
  EXPECT_NE(message.find("... (10000000 bytes)"), std::string::npos) << message.substr(0, 300);
  EXPECT_LT(message.size(), 400u);
  // Never cut inside a character.
  const std::string wide = nrnm::json::excerpt(std::string(63, 'a') + "\xc3\xa9" + std::string(10, 'b'));
  EXPECT_EQ(wide.substr(0, 68), "\"" + std::string(63, 'a') + "\"...");
}

}  // namespace
