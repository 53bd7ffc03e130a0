# Cross-compiling bitnet-quant for 64-bit ARM Linux with Debian's cross
# toolchain (g++-aarch64-linux-gnu, libc6-dev-arm64-cross); tests run under
# qemu-user (qemu-aarch64), which reads the CPU model from QEMU_CPU.
# Usage: cmake -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake ...
# (tools/test_arm.sh does all of it).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(BITNET_CROSS_TRIPLE aarch64-linux-gnu)
set(BITNET_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
