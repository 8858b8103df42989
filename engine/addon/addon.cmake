# The Node addon dist/bin/rwkv_studio.node (engine/addon), built offline against the Node
# headers already on the machine (no node-gyp download): /usr/include/node (npm's nodedir=/usr)
# or $RWKV_NODE_INCLUDE_DIR, and node-addon-api from node_modules. Without them the engine still
# builds and the language server falls back (addonFacts.ts says so once).

# facts.cpp is plain C++ over the core library: it goes into rwkv_core so the CLI and the
# CTest executables use the very code the addon exposes.
target_sources(rwkv_core PRIVATE "${CMAKE_CURRENT_LIST_DIR}/facts.cpp")

# A fake libnvidia-ml.so for gpus_test (placed beside the test executables).
add_library(fake_nvml SHARED "${CMAKE_CURRENT_LIST_DIR}/testing/fake_nvml.cpp")
set_target_properties(fake_nvml PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/tests")

find_path(RWKV_NODE_INCLUDE_DIR node_api.h
  PATHS "$ENV{RWKV_NODE_INCLUDE_DIR}" /usr/include/node /usr/local/include/node NO_DEFAULT_PATH)
set(RWKV_NAPI_INCLUDE_DIR "${CMAKE_SOURCE_DIR}/../node_modules/node-addon-api")
if(RWKV_NODE_INCLUDE_DIR AND EXISTS "${RWKV_NODE_INCLUDE_DIR}/node_api.h" AND EXISTS "${RWKV_NAPI_INCLUDE_DIR}/napi.h")
  add_library(rwkv_studio_addon MODULE
    "${CMAKE_CURRENT_LIST_DIR}/addon.cpp"
    "${CMAKE_CURRENT_LIST_DIR}/js_values.cpp")
  target_include_directories(rwkv_studio_addon PRIVATE "${RWKV_NODE_INCLUDE_DIR}" "${RWKV_NAPI_INCLUDE_DIR}")
  # N-API 8 (Node >= 12.22/14.17/16): the ABI-stable subset, so one build serves every Node 20+
  # and VS Code's Electron. C++ exceptions carry JavaScript errors (NAPI_CPP_EXCEPTIONS).
  target_compile_definitions(rwkv_studio_addon PRIVATE NAPI_VERSION=8 NAPI_CPP_EXCEPTIONS
                                                       NODE_ADDON_API_DISABLE_DEPRECATED)
  target_link_libraries(rwkv_studio_addon PRIVATE rwkv_options)
  set_target_properties(rwkv_studio_addon PROPERTIES PREFIX "" SUFFIX ".node" OUTPUT_NAME rwkv_studio
                        CXX_VISIBILITY_PRESET hidden
                        LIBRARY_OUTPUT_DIRECTORY "${RWKV_DIST_DIR}/bin")
  if(NOT APPLE)
    # napi_* symbols come from the node (or Electron) process that loads us. Bind everything
    # at load time (-z now): a missing symbol must fail require() (the server then falls
    # back), not kill the server at the first call as lazy binding would.
    target_link_options(rwkv_studio_addon PRIVATE "-Wl,--allow-shlib-undefined" "-Wl,-z,now")
    # The VSIX runs on users' machines whose libstdc++ may be older than the build machine's.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_link_options(rwkv_studio_addon PRIVATE "-static-libstdc++" "-static-libgcc")
    endif()
  else()
    target_link_options(rwkv_studio_addon PRIVATE "-undefined" "dynamic_lookup")
  endif()
  message(STATUS "RWKV Studio addon: Node headers ${RWKV_NODE_INCLUDE_DIR}")
else()
  message(STATUS "RWKV Studio addon: skipped (no node_api.h or node-addon-api; set RWKV_NODE_INCLUDE_DIR)")
endif()
