/* LD_PRELOAD for aarch64 programs under qemu-user: getauxval() reports the
 * CPU without its crypto extensions (AES, PMULL, SHA*, SM3/SM4, SVE2's AES,
 * 128-bit PMULL, SHA3, SM4), as on a Raspberry Pi 3 or 4, which qemu 7.2's
 * CPU models cannot be made into. tools/test_arm.sh runs the suite so, and
 * every target must still be supported and match the reference; the line
 * each process prints at load shows it that the preload took effect. */
#define _GNU_SOURCE
#include <asm/hwcap.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

__attribute__((constructor)) static void announce(void) {
  fputs("hwcap_no_crypto: getauxval reports no crypto extensions\n", stderr);
}

unsigned long getauxval(unsigned long type) {
  static const unsigned long kCrypto = HWCAP_AES | HWCAP_PMULL | HWCAP_SHA1 | HWCAP_SHA2 |
                                       HWCAP_SHA3 | HWCAP_SHA512 | HWCAP_SM3 | HWCAP_SM4;
  static const unsigned long kSveCrypto =
      HWCAP2_SVEAES | HWCAP2_SVEPMULL | HWCAP2_SVESHA3 | HWCAP2_SVESM4;
  unsigned long (*real)(unsigned long);
  void* sym = dlsym(RTLD_NEXT, "getauxval");
  /* POSIX: a function pointer and void* share their representation. */
  memcpy(&real, &sym, sizeof(real));
  if (type == AT_HWCAP) return real(type) & ~kCrypto;
  if (type == AT_HWCAP2) return real(type) & ~kSveCrypto;
  return real(type);
}
