// Model specs for tests, each in one call.
#ifndef TRIBUTARY_TESTS_COMMON_MODELS_TEST_SPECS_H_
#define TRIBUTARY_TESTS_COMMON_MODELS_TEST_SPECS_H_

#include "tributary/v1/job.pb.h"

namespace tributary {

inline tributary::v1::GptSpec TestGptSpec(int layers, int heads, int channels, int context) {
  tributary::v1::GptSpec spec;
  spec.set_layers(layers);
  spec.set_heads(heads);
  spec.set_channels(channels);
  spec.set_context(context);
  return spec;
}

}  // namespace tributary

#endif  // TRIBUTARY_TESTS_COMMON_MODELS_TEST_SPECS_H_
