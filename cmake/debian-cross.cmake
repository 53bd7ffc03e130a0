# Shared part of the Debian cross toolchain files: the compilers and binutils
# of BITNET_CROSS_TRIPLE, the target's libraries and headers only from its
# sysroot, and qemu-user as the emulator that ctest runs target programs
# with (-L: the sysroot's dynamic loader and libraries).
set(BITNET_CROSS_SYSROOT /usr/${BITNET_CROSS_TRIPLE})
set(CMAKE_C_COMPILER ${BITNET_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${BITNET_CROSS_TRIPLE}-g++)
# Appended: -DCMAKE_FIND_ROOT_PATH=<install root> adds where to find packages.
list(APPEND CMAKE_FIND_ROOT_PATH ${BITNET_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
find_program(BITNET_CROSS_QEMU_PATH ${BITNET_CROSS_QEMU} REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${BITNET_CROSS_QEMU_PATH} -L ${BITNET_CROSS_SYSROOT})
