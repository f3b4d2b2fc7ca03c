# unroll_add_plugin(NAME SOURCES a.cpp [b.cpp ...])
#
# Builds one plugin library exactly as the host expects it: a MODULE library linked against
# unroll::api (the plugin API library and its public headers, nothing of the host), compiled
# with the host's ABI-relevant flags (through unroll_flags), hidden visibility (only the two
# Boost.DLL aliases are exported), and placed in the plugin folder.
# In-tree plugins use this same function that out-of-tree plugin authors get from
# find_package(unroll).
function(unroll_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "unroll_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE unroll::api)
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  elseif(DEFINED UNROLL_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${UNROLL_PLUGIN_OUTPUT_DIR}")
  endif()
  if(UNROLL_IN_TREE)
    target_link_libraries(${name} PRIVATE unroll_warnings)
    add_dependencies(unroll_all_plugins ${name})
    set_target_properties(${name} PROPERTIES INSTALL_RPATH "$ORIGIN/../..")
    install(TARGETS ${name} LIBRARY DESTINATION lib/unroll/plugins)
  endif()
endfunction()
