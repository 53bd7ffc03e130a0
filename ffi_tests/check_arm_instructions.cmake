# An aarch64 library holds no instruction of the optional crypto extensions
# (AES, PMULL, SHA*, SM3/SM4, SHA3's EOR3/RAX1/XAR/BCAX, SVE2's AES and
# 128-bit PMULL): its NEON and SVE2 kernels then run on CPUs without them,
# although Highway 1.0.3 compiles those targets with +crypto / +sve2-aes.
# usage: cmake -DOBJDUMP=aarch64-linux-gnu-objdump -DLIBRARY=libbitnet_quant.so -P check_arm_instructions.cmake
cmake_minimum_required(VERSION 3.20)
foreach(var OBJDUMP LIBRARY)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "${var} is not set")
  endif()
endforeach()

execute_process(COMMAND "${OBJDUMP}" -d --no-show-raw-insn "${LIBRARY}"
                OUTPUT_VARIABLE dump RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${OBJDUMP} -d ${LIBRARY} failed: ${rc}")
endif()
string(REPLACE "\n" ";" lines "${dump}")
set(count 0)
set(found "")
foreach(line IN LISTS lines)
  # "  1234:	mnemonic	operands"
  if(NOT line MATCHES "^ *[0-9a-f]+:\t([a-z0-9.]+)")
    continue()
  endif()
  math(EXPR count "${count} + 1")
  if(CMAKE_MATCH_1 MATCHES "^(aes[a-z]*|pmull2?|sha[0-9a-z]*|sm3[a-z0-9]*|sm4[a-z]*|eor3|rax1|xar|bcax)$")
    list(APPEND found "${line}")
  elseif(CMAKE_MATCH_1 MATCHES "^pmull[bt]$" AND line MATCHES "\\.q")
    list(APPEND found "${line}")
  endif()
endforeach()
if(count LESS 1000)
  message(FATAL_ERROR "only ${count} instructions read from ${LIBRARY}: not an aarch64 disassembly?")
endif()
if(found)
  list(JOIN found "\n  " text)
  message(FATAL_ERROR "crypto-extension instructions in ${LIBRARY}:\n  ${text}")
endif()
message(STATUS "${count} instructions, none from the crypto extensions")
