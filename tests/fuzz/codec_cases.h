// What the codec fuzzer decodes: a small model layout with every kind of
// tensor the codecs treat differently (a matrix PowerSGD factors, one it
// sends whole, vectors), and one case per codec and value format. The first
// byte of a fuzz input picks the case; write_seeds.cc encodes a valid
// payload for each, so every seed starts out decodable.
#ifndef TRIBUTARY_TESTS_FUZZ_CODEC_CASES_H_
#define TRIBUTARY_TESTS_FUZZ_CODEC_CASES_H_

#include <cstddef>
#include <string>
#include <tuple>
#include <vector>

#include "common/params.h"
#include "tributary/v1/job.pb.h"

namespace tributary::fuzz {

inline ParamLayout CodecFuzzLayout() {
  ParamLayout layout;
  layout.Add("w1", {16, 32});  // Factored at every rank below 11.
  layout.Add("b1", {32});
  layout.Add("w2", {32, 3});  // Factored at rank 2, sent whole at rank 4.
  layout.Add("ln", {5});
  return layout;
}

struct CodecCase {
  std::string name;
  tributary::v1::CodecSpec spec;
};

// Case i is picked by a first byte b with b % (size() + 1) == i; the extra
// value, size(), picks the worker's model-delta decoder (model_delta.h).
inline std::vector<CodecCase> CodecFuzzCases() {
  using tributary::v1::CodecSpec;
  auto spec = [](const char* name) {
    CodecSpec s;
    s.set_name(name);
    return s;
  };
  std::vector<CodecCase> cases;
  cases.push_back({"none", spec("none")});
  cases.push_back({"fp16", spec("fp16")});
  for (const char* blockwise : {"int8", "int4"}) {
    cases.push_back({blockwise, spec(blockwise)});
    cases.back().spec.set_block_size(7);  // Odd: int4's blocks share bytes.
  }
  for (CodecSpec::Format format : {CodecSpec::FP32, CodecSpec::FP16, CodecSpec::INT8, CodecSpec::INT4}) {
    CodecSpec topk = spec("topk");
    topk.set_topk_fraction(0.05f);
    topk.set_values(format);
    if (format == CodecSpec::INT8 || format == CodecSpec::INT4) topk.set_block_size(4);
    cases.push_back({"topk-" + std::string(CodecSpec::Format_Name(format)), topk});
  }
  for (auto [rank, values, vectors] : {std::tuple{1, CodecSpec::FP32, CodecSpec::FP32},
                                       std::tuple{2, CodecSpec::FP16, CodecSpec::INT8},
                                       std::tuple{4, CodecSpec::INT8, CodecSpec::FP16}}) {
    CodecSpec powersgd = spec("powersgd");
    powersgd.set_rank(rank);
    powersgd.set_values(values);
    powersgd.set_vectors(vectors);
    if (values == CodecSpec::INT8 || vectors == CodecSpec::INT8) powersgd.set_block_size(5);
    cases.push_back({"powersgd-r" + std::to_string(rank), powersgd});
  }
  return cases;
}

}  // namespace tributary::fuzz

#endif  // TRIBUTARY_TESTS_FUZZ_CODEC_CASES_H_
