# CMake toolchain file: cross-compile mla4j for linux-aarch64 with Debian's gcc-aarch64-linux-gnu
# (apt-get install gcc-aarch64-linux-gnu qemu-user):
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=native/toolchain-aarch64-linux-gnu.cmake
# The test binaries then run under qemu-aarch64 (ctest uses CMAKE_CROSSCOMPILING_EMULATOR; QEMU_CPU picks the CPU
# model, e.g. QEMU_CPU=cortex-a72); native/tests/qemu-aarch64.sh does all of it.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(MLA4J_CROSS_PREFIX aarch64-linux-gnu- CACHE STRING "Prefix of the cross tools")
set(CMAKE_C_COMPILER ${MLA4J_CROSS_PREFIX}gcc)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# -L: where the emulator finds the target's dynamic loader and C library.
find_program(MLA4J_QEMU_AARCH64 qemu-aarch64)
if(MLA4J_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MLA4J_QEMU_AARCH64} -L /usr/aarch64-linux-gnu)
endif()
