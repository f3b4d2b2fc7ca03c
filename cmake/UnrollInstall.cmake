# Install layout (identical to the build tree's, so the host finds its plugins relative to its
# own executable in both):
#   bin/unroll  lib/libunroll_{api,host,tools}.so  lib/unroll/plugins/*.so  include/unroll/*.hpp
#   lib/cmake/unroll/{unrollConfig,unrollConfigVersion,unrollTargets,UnrollPlugin}.cmake
# The executable, the core library and the plugins are installed by their own CMakeLists.txt.
include(CMakePackageConfigHelpers)

set(UNROLL_INSTALL_BIN_DIR bin)
set(UNROLL_INSTALL_PLUGIN_DIR lib/unroll/plugins)
set(UNROLL_INSTALL_CMAKE_DIR lib/cmake/unroll)
set(UNROLL_EIGEN_MIN 3.3)

# The plugin API's headers only: the host's (framework/host_include) are not part of the SDK.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/framework/include/unroll" DESTINATION include)
# The model of an equation cell (docs/writing-cells.md): copy it next to a scaffolded plugin.
install(FILES "${PROJECT_SOURCE_DIR}/plugins/layers/mgu.cpp" DESTINATION share/unroll/examples)
# unroll_flags travels with unroll::api: an out-of-tree plugin gets exactly the host's
# compile definitions and options (BOOST_DLL_USE_STD_FS, -march=native when the host had it).
install(TARGETS unroll_flags EXPORT unrollTargets)
install(EXPORT unrollTargets NAMESPACE unroll:: DESTINATION ${UNROLL_INSTALL_CMAKE_DIR})

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/unrollConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/unrollConfig.cmake"
  INSTALL_DESTINATION ${UNROLL_INSTALL_CMAKE_DIR}
  PATH_VARS UNROLL_INSTALL_PLUGIN_DIR UNROLL_INSTALL_BIN_DIR)
# 0.x: minor versions may change the plugin API (the host checks UNROLL_API_VERSION anyway).
write_basic_package_version_file("${PROJECT_BINARY_DIR}/unrollConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/unrollConfig.cmake" "${PROJECT_BINARY_DIR}/unrollConfigVersion.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/UnrollPlugin.cmake"
  DESTINATION ${UNROLL_INSTALL_CMAKE_DIR})
