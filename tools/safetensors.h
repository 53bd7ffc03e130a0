/* A reader of safetensors files (the golden vectors' format): an 8-byte
 * little-endian header length, a JSON header, then the tensor data. */
#ifndef BITNET_TOOLS_SAFETENSORS_H
#define BITNET_TOOLS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_tensor {
  char name[128];
  char dtype[8]; /* "F32", "U8", "I8", "I32" */
  size_t shape[4];
  int ndim;
  const uint8_t* data;
  size_t nbytes;
} st_tensor;

typedef struct st_file {
  uint8_t* bytes;
  size_t size;
  st_tensor* tensors;
  size_t count;
} st_file;

/* Loads and parses a whole file; exits the test with a message on error. */
st_file* st_open(const char* path);
void st_close(st_file* f);
/* The tensor called name, or NULL. */
const st_tensor* st_find(const st_file* f, const char* name);
/* Like st_find with "<prefix>/<field>". */
const st_tensor* st_field(const st_file* f, const char* prefix, const char* field);
/* Number of elements of a tensor. */
size_t st_numel(const st_tensor* t);
/* Copies a F32 tensor into a malloc'ed, aligned float array. */
float* st_floats(const st_tensor* t);

#endif /* BITNET_TOOLS_SAFETENSORS_H */
