#include "safetensors.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char* what, const char* detail) {
  fprintf(stderr, "FATAL: %s: %s\n", what, detail);
  exit(2);
}

typedef struct json_cursor {
  const char* p;
  const char* end;
} json_cursor;

static void skip_ws(json_cursor* c) {
  while (c->p < c->end && isspace((unsigned char)*c->p)) ++c->p;
}

static int expect(json_cursor* c, char ch) {
  skip_ws(c);
  if (c->p < c->end && *c->p == ch) {
    ++c->p;
    return 1;
  }
  return 0;
}

/* Reads a JSON string without escapes other than \" and \\ (safetensors
 * names never need more). */
static int read_string(json_cursor* c, char* out, size_t cap) {
  size_t len = 0;
  if (!expect(c, '"')) return 0;
  while (c->p < c->end && *c->p != '"') {
    char ch = *c->p++;
    if (ch == '\\' && c->p < c->end) ch = *c->p++;
    if (len + 1 < cap) out[len++] = ch;
  }
  if (c->p >= c->end) return 0;
  ++c->p;
  out[len] = '\0';
  return 1;
}

static int read_uint(json_cursor* c, size_t* out) {
  size_t v = 0;
  int digits = 0;
  skip_ws(c);
  while (c->p < c->end && isdigit((unsigned char)*c->p)) {
    v = v * 10 + (size_t)(*c->p++ - '0');
    ++digits;
  }
  *out = v;
  return digits > 0;
}

static int read_uint_array(json_cursor* c, size_t* out, int cap, int* count) {
  *count = 0;
  if (!expect(c, '[')) return 0;
  skip_ws(c);
  if (expect(c, ']')) return 1;
  for (;;) {
    size_t v;
    if (!read_uint(c, &v) || *count >= cap) return 0;
    out[(*count)++] = v;
    if (expect(c, ']')) return 1;
    if (!expect(c, ',')) return 0;
  }
}

/* Skips one value of any kind (used for __metadata__). */
static int skip_value(json_cursor* c) {
  char buf[4096];
  int depth = 0;
  skip_ws(c);
  if (c->p < c->end && *c->p == '"') return read_string(c, buf, sizeof(buf));
  do {
    if (c->p >= c->end) return 0;
    if (*c->p == '"') {
      if (!read_string(c, buf, sizeof(buf))) return 0;
      continue;
    }
    if (*c->p == '{' || *c->p == '[') ++depth;
    if (*c->p == '}' || *c->p == ']') --depth;
    ++c->p;
  } while (depth > 0);
  return 1;
}

static int parse_tensor(json_cursor* c, st_tensor* t, const uint8_t* data, size_t data_size) {
  size_t offsets[2] = {0, 0};
  int have_dtype = 0, have_offsets = 0, count;
  char key[64];
  if (!expect(c, '{')) return 0;
  for (;;) {
    if (!read_string(c, key, sizeof(key)) || !expect(c, ':')) return 0;
    if (strcmp(key, "dtype") == 0) {
      if (!read_string(c, t->dtype, sizeof(t->dtype))) return 0;
      have_dtype = 1;
    } else if (strcmp(key, "shape") == 0) {
      if (!read_uint_array(c, t->shape, 4, &t->ndim)) return 0;
    } else if (strcmp(key, "data_offsets") == 0) {
      if (!read_uint_array(c, offsets, 2, &count) || count != 2) return 0;
      have_offsets = 1;
    } else if (!skip_value(c)) {
      return 0;
    }
    if (expect(c, '}')) break;
    if (!expect(c, ',')) return 0;
  }
  if (!have_dtype || !have_offsets || offsets[0] > offsets[1] || offsets[1] > data_size) return 0;
  t->data = data + offsets[0];
  t->nbytes = offsets[1] - offsets[0];
  return 1;
}

st_file* st_open(const char* path) {
  st_file* f = (st_file*)calloc(1, sizeof(st_file));
  FILE* fp = fopen(path, "rb");
  uint64_t header_len = 0;
  size_t cap = 64, k;
  json_cursor c;
  const uint8_t* data;
  if (!f || !fp) die("cannot open", path);
  fseek(fp, 0, SEEK_END);
  f->size = (size_t)ftell(fp);
  fseek(fp, 0, SEEK_SET);
  f->bytes = (uint8_t*)malloc(f->size ? f->size : 1);
  if (fread(f->bytes, 1, f->size, fp) != f->size) die("cannot read", path);
  fclose(fp);
  if (f->size < 8) die("too short", path);
  for (k = 0; k < 8; ++k) header_len |= (uint64_t)f->bytes[k] << (8 * k);
  if (header_len > f->size - 8) die("bad header length", path);
  c.p = (const char*)f->bytes + 8;
  c.end = c.p + header_len;
  data = f->bytes + 8 + header_len;
  f->tensors = (st_tensor*)calloc(cap, sizeof(st_tensor));
  if (!expect(&c, '{')) die("bad header", path);
  for (;;) {
    char key[128];
    if (!read_string(&c, key, sizeof(key)) || !expect(&c, ':')) die("bad key", path);
    if (strcmp(key, "__metadata__") == 0) {
      if (!skip_value(&c)) die("bad metadata", path);
    } else {
      if (f->count == cap) {
        cap *= 2;
        f->tensors = (st_tensor*)realloc(f->tensors, cap * sizeof(st_tensor));
        memset(f->tensors + f->count, 0, (cap - f->count) * sizeof(st_tensor));
      }
      strcpy(f->tensors[f->count].name, key);
      if (!parse_tensor(&c, &f->tensors[f->count], data, f->size - 8 - header_len)) {
        die("bad tensor entry", key);
      }
      ++f->count;
    }
    if (expect(&c, '}')) break;
    if (!expect(&c, ',')) die("bad separator", path);
  }
  return f;
}

void st_close(st_file* f) {
  if (!f) return;
  free(f->bytes);
  free(f->tensors);
  free(f);
}

const st_tensor* st_find(const st_file* f, const char* name) {
  size_t i;
  for (i = 0; i < f->count; ++i) {
    if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
  }
  return NULL;
}

const st_tensor* st_field(const st_file* f, const char* prefix, const char* field) {
  char name[256];
  snprintf(name, sizeof(name), "%s/%s", prefix, field);
  return st_find(f, name);
}

size_t st_numel(const st_tensor* t) {
  size_t n = 1;
  int i;
  for (i = 0; i < t->ndim; ++i) n *= t->shape[i];
  return n;
}

float* st_floats(const st_tensor* t) {
  float* out = (float*)malloc(t->nbytes ? t->nbytes : sizeof(float));
  if (strcmp(t->dtype, "F32") != 0) die("not F32", t->name);
  memcpy(out, t->data, t->nbytes);
  return out;
}

