// FUZZ_REQUIRE: a contract the code under test promises, checked on every
// fuzz input. A broken one prints what broke and aborts, which libFuzzer
// reports as a crash and saves the input for.
#ifndef TRIBUTARY_TESTS_FUZZ_REQUIRE_H_
#define TRIBUTARY_TESTS_FUZZ_REQUIRE_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_REQUIRE(condition, what)                                                       \
  do {                                                                                      \
    if (!(condition)) {                                                                     \
      std::fprintf(stderr, "%s:%d: contract broken: %s (%s)\n", __FILE__, __LINE__, what, \
                   #condition);                                                             \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

#endif  // TRIBUTARY_TESTS_FUZZ_REQUIRE_H_
