#pragma once
// Project templates of `unroll new-plugin`: the CMakeLists.txt (with two ctest entries, the
// plugin's test) and the example experiment. Placeholders as in plugin_sources.hpp, plus
// @KIND@ and, in the experiment, one @...@ slot per place a component kind plugs in.
namespace unroll::cli::templates {

inline constexpr const char* kCMakeLists = R"TPL(# The unroll @KIND@ plugin @NAME@, built against an installed unroll:
#   cmake -S . -B build -DCMAKE_PREFIX_PATH=<unroll install prefix> -DCMAKE_BUILD_TYPE=Release
#   cmake --build build
#   ctest --test-dir build --output-on-failure   # check-plugin, then the example experiment
cmake_minimum_required(VERSION 3.20)
project(@NAME@ LANGUAGES CXX)

find_package(unroll REQUIRED)
# Compiles with the flags the host was built with and hidden visibility: build/lib@NAME@.so.
unroll_add_plugin(@NAME@ SOURCES @NAME@.cpp)

# The plugin's tests: the framework's checks of every component in the library, and a short
# run of the example experiment (2 epochs) with this build's library.
enable_testing()
add_test(NAME check_@NAME@ COMMAND "${UNROLL_EXECUTABLE}" check-plugin "$<TARGET_FILE:@NAME@>")
add_test(NAME run_@NAME@ COMMAND "${UNROLL_EXECUTABLE}" run "${CMAKE_CURRENT_SOURCE_DIR}/experiment.yaml" --quiet
  --set "plugins=[$<TARGET_FILE:@NAME@>]" --set train.epochs=2 --out "${CMAKE_CURRENT_BINARY_DIR}/test-run")
)TPL";

inline constexpr const char* kExperiment =
    R"TPL(# An experiment using the @KIND@ plugin @NAME@ (after building it into build/):
#   unroll run experiment.yaml
name: @NAME@_demo
seed: 1
plugins: [build/lib@NAME@.so]   # relative to this file
data: @DATA@
model:
  - {kind: dense, units: 8@INIT@}
  - {kind: tanh}
@LAYER@  - {kind: dense, units: 2}
loss: @LOSS@
optimizer: @OPTIMIZER@
@EXTRA@train:
  epochs: 20
  batch: 16
)TPL";

}  // namespace unroll::cli::templates
