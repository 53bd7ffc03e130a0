/* Threaded calls in a child of fork(): the child has none of the parent's
 * pool workers (and the parent's pool may be mid-job, its locks held by
 * threads the child lacks), so the library must start a pool of the
 * child's own. Each child runs a product and a tensor quantization on 2
 * threads under an alarm (a hang kills it) and compares their bytes with
 * the parent's; some children are forked while another thread of the
 * parent runs threaded calls. Built twice: test_fork_no_atfork links
 * refuse_atfork.c, so the library's pthread_atfork fails. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

/* A fork while another thread allocates is beyond what POSIX promises
 * (only async-signal-safe calls until exec): glibc's malloc allows it, the
 * sanitizers' allocator of GCC 12 does not (an ASan child hung in that
 * allocator's lock, in no call of the library). Sanitizer builds fork only
 * while the parent is idle. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FORK_WHILE_BUSY 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define FORK_WHILE_BUSY 0
#endif
#endif
#ifndef FORK_WHILE_BUSY
#define FORK_WHILE_BUSY 1
#endif

#define ROWS 256
#define COLS 512
#define BATCH 4
#define FORKS 16
#define CHILD_SECONDS 60

#ifdef REFUSE_ATFORK
extern atomic_int g_atfork_refusals;
#endif

static float g_wf[ROWS * COLS], g_x[BATCH * COLS];
static uint8_t* g_w;
static size_t g_w_len;
static float g_want_y[BATCH * ROWS];
static atomic_int g_stop;

/* The two threaded calls; 0 when both give the parent's bytes. */
static int threaded_calls(uint8_t* w, float* y) {
  bitnet_tensor_options to = BITNET_TENSOR_OPTIONS_INIT;
  to.n_threads = 2;
  if (bitnet_tensor_quantize(BITNET_TYPE_TQ2_0, &to, BITNET_TYPE_F32, g_wf, ROWS, COLS, w, g_w_len) != BITNET_OK) {
    return 1;
  }
  bitnet_gemm_options go = BITNET_GEMM_OPTIONS_INIT;
  go.n_threads = 2;
  if (bitnet_gemm(BITNET_TYPE_TQ2_0, w, g_w_len, ROWS, COLS, g_x, BATCH, y, &go) != BITNET_OK) return 2;
  if (memcmp(w, g_w, g_w_len) != 0) return 3;
  if (first_result_diff(y, g_want_y, BATCH * ROWS) >= 0) return 4;
  return 0;
}

static void* busy_parent(void* arg) {
  (void)arg;
  uint8_t* w = xmalloc(g_w_len);
  float* y = xmalloc(sizeof g_want_y);
  while (!atomic_load(&g_stop)) check(threaded_calls(w, y) == 0, "parent's busy thread");
  free(w);
  free(y);
  return NULL;
}

/* Forks a child that runs the threaded calls; checks how it ended. */
static void fork_child(const char* when) {
  const pid_t pid = fork();
  if (pid < 0) {
    check(0, "fork failed (%s)", when);
    return;
  }
  if (pid == 0) {
    alarm(CHILD_SECONDS);
    uint8_t* w = malloc(g_w_len);
    float* y = malloc(sizeof g_want_y);
    _exit(w != NULL && y != NULL ? threaded_calls(w, y) : 5);
  }
  int status = 0;
  if (!check(waitpid(pid, &status, 0) == pid, "waitpid (%s)", when)) return;
  if (WIFSIGNALED(status)) {
    check(0, "child %s: killed by signal %d%s", when, WTERMSIG(status),
          WTERMSIG(status) == SIGALRM ? " (hung: its threaded call never returned)" : "");
  } else {
    check(WEXITSTATUS(status) == 0, "child %s: exit %d (1-2: a call failed, 3-4: other bytes)", when,
          WEXITSTATUS(status));
  }
}

int main(void) {
  fill_random(GAUSS, g_wf, ROWS * COLS, 256, 11);
  fill_random(GAUSS, g_x, BATCH * COLS, 256, 12);
  bitnet_tensor_size(BITNET_TYPE_TQ2_0, ROWS, COLS, &g_w_len);
  g_w = xmalloc(g_w_len);
  /* The wanted bytes from one thread, then the parent's pool started. */
  expect_status(bitnet_tensor_quantize(BITNET_TYPE_TQ2_0, NULL, BITNET_TYPE_F32, g_wf, ROWS, COLS, g_w, g_w_len),
                BITNET_OK, "quantize, one thread");
  expect_status(bitnet_gemm(BITNET_TYPE_TQ2_0, g_w, g_w_len, ROWS, COLS, g_x, BATCH, g_want_y, NULL), BITNET_OK,
                "gemm, one thread");
  uint8_t* w = xmalloc(g_w_len);
  float* y = xmalloc(sizeof g_want_y);
  check(threaded_calls(w, y) == 0, "parent's threaded calls");
#ifdef REFUSE_ATFORK
  check(atomic_load(&g_atfork_refusals) > 0, "the library's pthread_atfork was not refused: nothing tested");
  printf("fork: pthread_atfork refused %d time(s)\n", atomic_load(&g_atfork_refusals));
#endif
  if (emulated()) {
    /* Debian 12's qemu-user aborts a child forked from a program with
     * threads (an assertion of its own, in cpu_exec). */
    printf("fork: under the emulator only the parent's calls\n");
  } else {
    fork_child("after the parent's threaded calls");
    pthread_t busy;
    if (!FORK_WHILE_BUSY) {
      printf("fork: a sanitizer build: no fork while another parent thread runs calls\n");
    } else if (check(pthread_create(&busy, NULL, busy_parent, NULL) == 0, "start the parent's busy thread")) {
      for (int i = 0; i < FORKS; ++i) fork_child("while the parent runs threaded calls");
      atomic_store(&g_stop, 1);
      pthread_join(busy, NULL);
    }
  }
  check(threaded_calls(w, y) == 0, "parent's threaded calls after the forks");
  free(w);
  free(y);
  free(g_w);
  return finish("fork");
}
