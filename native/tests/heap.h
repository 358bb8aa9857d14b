// Heap figures for tests that check what memory really costs: glibc's mallinfo2, defined as
// PODSPAN_GLIBC_MALLOC only in the plain build (sanitizer builds replace malloc).
#pragma once

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PODSPAN_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PODSPAN_SANITIZED 1
#endif
#if defined(__GLIBC__) && !defined(PODSPAN_SANITIZED)
#define PODSPAN_GLIBC_MALLOC 1
#include <malloc.h>
#endif
