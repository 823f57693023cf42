/*
 * time.h - RFC 3339 timestamps as int64 microseconds since the Unix epoch.
 *
 * STIX and TAXII timestamps are "YYYY-MM-DDTHH:MM:SS[.fraction]Z". Parsing is
 * strict (UTC 'Z' only unless LI_TIME_ALLOW_OFFSET); digits of the fraction
 * past the sixth are accepted and truncated (they are reported through
 * *precision_out so callers can tell).
 */
#ifndef LI_CORE_TIME_H
#define LI_CORE_TIME_H

#include <stddef.h>
#include <stdint.h>

#define LI_TIME_ALLOW_OFFSET 1  /* accept +hh:mm / -hh:mm as well as Z */
#define LI_TIME_MAX_LEN 40      /* longest accepted text */
#define LI_TIME_BUF 32          /* room for a formatted timestamp */

/* Parse n bytes of s. On success writes *us_out and, if not NULL, the number
 * of fraction digits in *precision_out. LI_EINVAL on any deviation. */
int li_time_parse(const char *s, size_t n, unsigned flags, int64_t *us_out,
                  int *precision_out);

/* Format us into out (LI_TIME_BUF bytes) with `digits` fraction digits
 * (0, 3 or 6; other values are clamped to 6). Returns the length. */
size_t li_time_format(int64_t us, int digits, char out[LI_TIME_BUF]);

/* Wall clock, microseconds since the epoch. */
int64_t li_time_now_us(void);

/* Monotonic clock in microseconds, for timeouts and measurements. */
int64_t li_time_mono_us(void);

#endif
