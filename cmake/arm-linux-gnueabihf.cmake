# Cross-compiling bitnet-quant for 32-bit ARM Linux (armhf: ARMv7-A, VFPv3,
# hard float) with Debian's cross toolchain (g++-arm-linux-gnueabihf,
# libc6-dev-armhf-cross); tests run under qemu-user (qemu-arm), which reads
# the CPU model from QEMU_CPU. Highway's NEON target is left out on this
# architecture (CMakeLists.txt says why): the SCALAR target and the
# reference run. Usage: cmake -DCMAKE_TOOLCHAIN_FILE=cmake/arm-linux-gnueabihf.cmake ...
# (tools/test_arm.sh does all of it).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(BITNET_CROSS_TRIPLE arm-linux-gnueabihf)
set(BITNET_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
