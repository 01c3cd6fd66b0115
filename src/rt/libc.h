// Declarations of the runtime's C library functions that also build for the host
// (libc_string.cc, libc_stdlib.cc). In an image they carry their standard names; on the
// host they are prefixed `morgana_` so unit tests can call them next to glibc's.
//
// Do not include this together with <string.h>/<stdlib.h> in guest code: those declare
// the same functions with different exception specifications.
#pragma once

#include <cstddef>

#if defined(MORGANA_GUEST)
#define MORGANA_LIBC(name) name
#else
#define MORGANA_LIBC(name) morgana_##name
#endif

extern "C" {

void* MORGANA_LIBC(memcpy)(void* dst, const void* src, size_t n);
void* MORGANA_LIBC(memmove)(void* dst, const void* src, size_t n);
void* MORGANA_LIBC(memset)(void* dst, int c, size_t n);
int MORGANA_LIBC(memcmp)(const void* a, const void* b, size_t n);
void* MORGANA_LIBC(memchr)(const void* s, int c, size_t n);
size_t MORGANA_LIBC(strlen)(const char* s);
size_t MORGANA_LIBC(strnlen)(const char* s, size_t max);
int MORGANA_LIBC(strcmp)(const char* a, const char* b);
int MORGANA_LIBC(strncmp)(const char* a, const char* b, size_t n);
char* MORGANA_LIBC(strchr)(const char* s, int c);
char* MORGANA_LIBC(strrchr)(const char* s, int c);
char* MORGANA_LIBC(strcpy)(char* dst, const char* src);
char* MORGANA_LIBC(strncpy)(char* dst, const char* src, size_t n);
char* MORGANA_LIBC(strstr)(const char* haystack, const char* needle);

long MORGANA_LIBC(strtol)(const char* s, char** end, int base);
unsigned long MORGANA_LIBC(strtoul)(const char* s, char** end, int base);
long long MORGANA_LIBC(strtoll)(const char* s, char** end, int base);
unsigned long long MORGANA_LIBC(strtoull)(const char* s, char** end, int base);
int MORGANA_LIBC(atoi)(const char* s);
long MORGANA_LIBC(atol)(const char* s);
long long MORGANA_LIBC(atoll)(const char* s);
int MORGANA_LIBC(abs)(int v);
long MORGANA_LIBC(labs)(long v);
long long MORGANA_LIBC(llabs)(long long v);
void MORGANA_LIBC(qsort)(void* base, size_t count, size_t size,
                         int (*compare)(const void*, const void*));
void* MORGANA_LIBC(bsearch)(const void* key, const void* base, size_t count, size_t size,
                            int (*compare)(const void*, const void*));

}  // extern "C"
