# SPDX-License-Identifier: MIT
# The git commit shown beside project(VERSION) by `vmm --version` and the
# control API (base/version.cc). Asked once at configure time; CMake is
# re-run when HEAD or the branch it points to moves, so a new commit shows in
# the next build. Outside a git checkout (a release tarball) it is empty.
set(VMM_GIT_COMMIT "")
find_package(Git QUIET)

function(vmm_git out)
  execute_process(COMMAND ${GIT_EXECUTABLE} ${ARGN} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
    OUTPUT_VARIABLE text OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    set(text "")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

if(GIT_FOUND)
  vmm_git(VMM_GIT_COMMIT rev-parse --short=12 HEAD)
  if(VMM_GIT_COMMIT)
    # A worktree keeps its HEAD apart from the shared refs: ask git where each is.
    vmm_git(branch_ref symbolic-ref -q HEAD)
    foreach(name HEAD packed-refs ${branch_ref})
      vmm_git(ref_path rev-parse --path-format=absolute --git-path ${name})
      if(ref_path AND EXISTS ${ref_path})
        set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${ref_path})
      endif()
    endforeach()
  endif()
endif()
