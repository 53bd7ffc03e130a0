/* Linked into test_fork_no_atfork: glibc's pthread_atfork registers its
 * handlers through __register_atfork, which this definition (the
 * executable's, found before libc's) refuses as libc does when out of
 * memory. The library must then tell a child from its parent by itself. */
#include <errno.h>
#include <stdatomic.h>

atomic_int g_atfork_refusals;

int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void), void* dso_handle) {
  (void)prepare;
  (void)parent;
  (void)child;
  (void)dso_handle;
  atomic_fetch_add(&g_atfork_refusals, 1);
  return ENOMEM;
}
