# install.cmake: what `cmake --install` puts under the prefix, and what `pip install .` puts
# in the wheel.
#   cmake --install BUILD --prefix P  ->  P/include/parallel_attn.h,
#     P/lib/libparallel_attn.so.<version> (+ the soname and development links),
#     P/lib/cmake/parallel_attn/ (find_package(parallel_attn): target parallel_attn::parallel_attn),
#     P/lib/pkgconfig/parallel_attn.pc (pkg-config parallel_attn).
#   pip install . (scikit-build-core sets SKBUILD)  ->  the library inside the Python package.
if(SKBUILD)
  install(TARGETS parallel_attn LIBRARY DESTINATION parallel_attn)
  return()
endif()

include(CMakePackageConfigHelpers)
set(PATTN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/parallel_attn)
set(PATTN_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(TARGETS parallel_attn EXPORT parallel_attnTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/parallel_attn.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT parallel_attnTargets NAMESPACE parallel_attn:: DESTINATION ${PATTN_CMAKE_DIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/parallel_attnConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/parallel_attnConfig.cmake
                              INSTALL_DESTINATION ${PATTN_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/parallel_attnConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/parallel_attnConfig.cmake
              ${PROJECT_BINARY_DIR}/parallel_attnConfigVersion.cmake
        DESTINATION ${PATTN_CMAKE_DIR})

# The .pc file finds the prefix from its own place, so `--prefix` at install time works.
file(RELATIVE_PATH PATTN_PKGCONFIG_TO_PREFIX /${PATTN_PKGCONFIG_DIR} /)
string(REGEX REPLACE "/$" "" PATTN_PKGCONFIG_TO_PREFIX ${PATTN_PKGCONFIG_TO_PREFIX})
configure_file(${CMAKE_CURRENT_LIST_DIR}/parallel_attn.pc.in
               ${PROJECT_BINARY_DIR}/parallel_attn.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/parallel_attn.pc DESTINATION ${PATTN_PKGCONFIG_DIR})
