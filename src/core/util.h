/*
 * util.h - small string, number, UUID and randomness helpers (libc only).
 */
#ifndef LI_CORE_UTIL_H
#define LI_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define LI_UUID_LEN 36   /* text form, without the NUL */

/* Copy src into dst (size dstsz), always NUL-terminating. Returns strlen(src)
 * so truncation shows as a result >= dstsz. */
size_t li_strlcpy(char *dst, const char *src, size_t dstsz);

/* 64-bit FNV-1a of n bytes, continuing from h (LI_FNV_OFFSET to start): a
 * fast hash for in-memory tables and signatures, not keyed; never for
 * anything an attacker's input must not collide in. */
#define LI_FNV_OFFSET 14695981039346656037ULL
uint64_t li_fnv1a(uint64_t h, const void *p, size_t n);

/* 1 if s[0..n) is a UUID in 8-4-4-4-12 hex form (either case), else 0. */
int li_uuid_valid(const char *s, size_t n);
/* The version nibble of a valid UUID text (1..8), -1 if s is not one. */
int li_uuid_version(const char *s, size_t n);
/* Write a random (version 4) UUID, lower case, NUL-terminated, into out. */
void li_uuid_v4(char out[LI_UUID_LEN + 1]);

/* Fill p with n cryptographically random bytes (getrandom(2)); aborts if the
 * kernel cannot supply them, which only happens on a broken system. */
void li_random_bytes(void *p, size_t n);

/* Parse the whole of s[0..n) as a decimal integer in [min, max].
 * No sign other than a leading '-', no spaces, no leading '+'.
 * 0 or LI_EINVAL. */
int li_parse_i64(const char *s, size_t n, int64_t min, int64_t max,
                 int64_t *out);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void li_hex(const void *p, size_t n, char *out);
/* Decode 2n hex chars into n bytes. 0 or LI_EINVAL. */
int li_unhex(const char *s, size_t slen, void *out, size_t n);

/* Base64url without padding. li_b64url_enc writes the NUL-terminated text
 * into out (room for 4*ceil(n/3)+1 bytes); returns its length.
 * li_b64url_dec decodes into out (room for outsz bytes): returns the decoded
 * length or -1 on malformed input or lack of room. */
size_t li_b64url_enc(const void *p, size_t n, char *out);
long li_b64url_dec(const char *s, size_t n, void *out, size_t outsz);

#endif
