# PattnGitCommit.cmake: PATTN_GIT_COMMIT, the short commit of the source tree (with "-dirty" when
# it has local changes) at configure time, for the programs' --version and pattn-bench's JSON;
# "unknown" outside a git checkout.
if(NOT DEFINED PATTN_GIT_COMMIT)
  execute_process(COMMAND git -C ${CMAKE_SOURCE_DIR} describe --always --dirty --abbrev=12
                  OUTPUT_VARIABLE PATTN_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET RESULT_VARIABLE pattn_git_result)
  if(NOT pattn_git_result EQUAL 0 OR PATTN_GIT_COMMIT STREQUAL "")
    set(PATTN_GIT_COMMIT unknown)
  endif()
endif()
