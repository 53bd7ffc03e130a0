/* The library's thread pool under concurrent callers: several threads of
 * the caller each run products and tensor quantizations with 2 or 3
 * threads of the library (the pool takes one job at a time; a call that
 * finds it busy runs all its parts on its own thread) and products with row
 * ranges of their own pools' kind, on every layout; every output must be
 * the bits the single-threaded run gives. Run under ThreadSanitizer by
 * tools/test_hardening.sh. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define CALLERS 4
#define ROUNDS 12

struct job {
  bitnet_type type;
  int64_t rows, cols, batch;
  uint8_t* w;  /* absmean-quantized from wf on one thread */
  size_t w_len;
  float* wf;
  float* x;
  float* want;
};

static struct job g_jobs[4];
static int g_failures[CALLERS];

static void make_job(struct job* j, bitnet_type type, int64_t rows, int64_t cols, int64_t batch,
                     uint64_t seed) {
  j->type = type;
  j->rows = rows;
  j->cols = cols;
  j->batch = batch;
  bitnet_tensor_size(type, rows, cols, &j->w_len);
  j->w = malloc(j->w_len);
  j->wf = malloc((size_t)(rows * cols) * sizeof(float));
  fill_random(GAUSS, j->wf, (size_t)(rows * cols), 256, seed);
  bitnet_tensor_options to = BITNET_TENSOR_OPTIONS_INIT;
  to.ternarize = BITNET_TERNARIZE_ABSMEAN;
  check(bitnet_tensor_quantize(type, &to, BITNET_TYPE_F32, j->wf, rows, cols, j->w, j->w_len) ==
            BITNET_OK,
        "quantize %s", bitnet_type_name(type));
  j->x = malloc((size_t)(batch * cols) * sizeof(float));
  fill_random(GAUSS, j->x, (size_t)(batch * cols), 256, seed + 1);
  j->want = malloc((size_t)(batch * rows) * sizeof(float));
  bitnet_gemm_options o = BITNET_GEMM_OPTIONS_INIT;
  o.cpu_target = BITNET_CPU_REFERENCE;
  check(bitnet_gemm(type, j->w, j->w_len, rows, cols, j->x, batch, j->want, &o) == BITNET_OK,
        "reference %s", bitnet_type_name(type));
}

static void* caller(void* arg) {
  const int id = (int)(intptr_t)arg;
  uint64_t s = 100 + (uint64_t)id;
  for (int round = 0; round < ROUNDS; ++round) {
    const struct job* j = &g_jobs[rng_next(&s) % 4];
    const size_t ny = (size_t)(j->batch * j->rows);
    float* y = malloc(ny * sizeof(float));
    bitnet_gemm_options o = BITNET_GEMM_OPTIONS_INIT;
    o.n_threads = 2 + (int)(rng_next(&s) % 2);
    if (round % 3 == 0) {
      /* This caller's own split: two calls, one per half of the rows. */
      o.flags = BITNET_GEMM_ROW_RANGE;
      o.n_threads = 1;
      const int64_t mid = j->rows / 2;
      o.row_begin = 0;
      o.row_end = mid;
      int status = bitnet_gemm(j->type, j->w, j->w_len, j->rows, j->cols, j->x, j->batch, y, &o);
      o.row_begin = mid;
      o.row_end = j->rows;
      status |= bitnet_gemm(j->type, j->w, j->w_len, j->rows, j->cols, j->x, j->batch, y, &o);
      g_failures[id] += status != BITNET_OK;
    } else {
      g_failures[id] +=
          bitnet_gemm(j->type, j->w, j->w_len, j->rows, j->cols, j->x, j->batch, y, &o) != BITNET_OK;
    }
    for (size_t i = 0; i < ny; ++i) g_failures[id] += !same_result(y[i], j->want[i]);
    free(y);
    /* A tensor call on the same pool: the single-threaded bytes. */
    uint8_t* w = malloc(j->w_len);
    bitnet_tensor_options to = BITNET_TENSOR_OPTIONS_INIT;
    to.ternarize = BITNET_TERNARIZE_ABSMEAN;
    to.n_threads = 2 + (int)(rng_next(&s) % 2);
    g_failures[id] += bitnet_tensor_quantize(j->type, &to, BITNET_TYPE_F32, j->wf, j->rows, j->cols, w,
                                             j->w_len) != BITNET_OK;
    g_failures[id] += memcmp(w, j->w, j->w_len) != 0;
    free(w);
  }
  return NULL;
}

int main(void) {
  make_job(&g_jobs[0], BITNET_TYPE_I2_S, 70, 512, 3, 1);
  make_job(&g_jobs[1], BITNET_TYPE_TQ2_0, 45, 768, 5, 2);
  make_job(&g_jobs[2], BITNET_TYPE_TQ1_0, 33, 512, 1, 3);
  make_job(&g_jobs[3], BITNET_TYPE_Q2_0, 50, 320, 4, 4);
  pthread_t threads[CALLERS];
  for (int i = 0; i < CALLERS; ++i) pthread_create(&threads[i], NULL, caller, (void*)(intptr_t)i);
  for (int i = 0; i < CALLERS; ++i) pthread_join(threads[i], NULL);
  for (int i = 0; i < CALLERS; ++i) {
    check(g_failures[i] == 0, "caller %d: %d outputs or statuses differ from the reference", i,
          g_failures[i]);
  }
  for (int i = 0; i < 4; ++i) {
    free(g_jobs[i].w);
    free(g_jobs[i].wf);
    free(g_jobs[i].x);
    free(g_jobs[i].want);
  }
  return finish("gemm_threads");
}
