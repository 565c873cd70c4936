// For the fuzzers over protobuf messages: included by exactly one file of
// each such fuzzer, it defines libFuzzer's start-up hook to silence
// protobuf's log. Protobuf logs every string field that is not UTF-8; at
// thousands of inputs a second that is most of the time and all of the
// output.
#ifndef TRIBUTARY_TESTS_FUZZ_QUIET_PROTOBUF_H_
#define TRIBUTARY_TESTS_FUZZ_QUIET_PROTOBUF_H_

#include "google/protobuf/stubs/logging.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

#endif  // TRIBUTARY_TESTS_FUZZ_QUIET_PROTOBUF_H_
