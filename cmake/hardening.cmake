# Checks that need clang or a sanitizer runtime (docs/TESTING.md):
#
#   -DTRIBUTARY_SANITIZE=address,undefined   every target under ASan+UBSan
#   -DTRIBUTARY_SANITIZE=thread              every target under TSan
#   -DTRIBUTARY_FUZZ=ON                      the libFuzzer targets in tests/fuzz
#
# With clang, -Wthread-safety is always on and an error: it checks the
# ABSL_GUARDED_BY / ABSL_EXCLUSIVE_LOCKS_REQUIRED annotations, which GCC
# ignores. A sanitizer makes any UB or race fail the program
# (-fno-sanitize-recover), so a test that trips one fails.
set(TRIBUTARY_SANITIZE "" CACHE STRING "Sanitizers for every target, as -fsanitize= takes them")
option(TRIBUTARY_FUZZ "Build the libFuzzer targets in tests/fuzz (clang only)" OFF)

if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  add_compile_options(-Wthread-safety -Werror=thread-safety)
endif()

if(TRIBUTARY_SANITIZE)
  add_compile_options(-fsanitize=${TRIBUTARY_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${TRIBUTARY_SANITIZE})
endif()

if(TRIBUTARY_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "TRIBUTARY_FUZZ needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
  endif()
  # Coverage feedback for libFuzzer in the code under test, not only in the
  # fuzz targets themselves; the sanitizer runtime stubs it out elsewhere.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
