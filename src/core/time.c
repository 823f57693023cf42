/* time.c - RFC 3339 parsing and formatting in microseconds. See time.h. */
#include "core/time.h"
#include "core/err.h"

#include <stdio.h>
#include <time.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    *y = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y += *m <= 2;
}

static int digits(const char *s, size_t n, size_t at, size_t cnt, int *out)
{
    int v = 0;
    size_t i;
    if (at + cnt > n)
        return -1;
    for (i = 0; i < cnt; i++) {
        char c = s[at + i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 0;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int li_time_parse(const char *s, size_t n, unsigned flags, int64_t *us_out,
                  int *precision_out)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int Y, M, D, h, mi, sec, frac = 0, prec = 0, off = 0;
    size_t i;
    int64_t us;

    if (n < 20 || n > LI_TIME_MAX_LEN)
        return LI_EINVAL;
    if (digits(s, n, 0, 4, &Y) || s[4] != '-' || digits(s, n, 5, 2, &M) ||
        s[7] != '-' || digits(s, n, 8, 2, &D) || (s[10] != 'T') ||
        digits(s, n, 11, 2, &h) || s[13] != ':' || digits(s, n, 14, 2, &mi) ||
        s[16] != ':' || digits(s, n, 17, 2, &sec))
        return LI_EINVAL;
    if (M < 1 || M > 12 || D < 1 || h > 23 || mi > 59 || sec > 60)
        return LI_EINVAL;
    if (D > mdays[M - 1] + (M == 2 && is_leap(Y)))
        return LI_EINVAL;
    i = 19;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return LI_EINVAL;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (prec < 6)
                frac = frac * 10 + (s[i] - '0');
            prec++;
            i++;
        }
        for (int k = prec; k < 6; k++)
            frac *= 10;
    }
    if (i < n && s[i] == 'Z') {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-') &&
               (flags & LI_TIME_ALLOW_OFFSET)) {
        int oh, om;
        int sign = s[i] == '-' ? -1 : 1;
        if (digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
            digits(s, n, i + 4, 2, &om) || oh > 23 || om > 59)
            return LI_EINVAL;
        off = sign * (oh * 60 + om);
        i += 6;
    } else {
        return LI_EINVAL;
    }
    if (i != n)
        return LI_EINVAL;
    us = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400LL +
         h * 3600LL + mi * 60LL + sec - off * 60LL;
    us = us * 1000000LL + frac;
    *us_out = us;
    if (precision_out)
        *precision_out = prec;
    return 0;
}

size_t li_time_format(int64_t us, int ndigits, char out[LI_TIME_BUF])
{
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t frac = us - secs * 1000000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int64_t y;
    unsigned m, d;
    int len;

    civil_from_days(days, &y, &m, &d);
    if (ndigits == 0) {
        len = snprintf(out, LI_TIME_BUF, "%04lld-%02u-%02uT%02d:%02d:%02dZ",
                       (long long)y, m, d, (int)(rem / 3600),
                       (int)(rem / 60 % 60), (int)(rem % 60));
    } else if (ndigits == 3) {
        len = snprintf(out, LI_TIME_BUF,
                       "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y,
                       m, d, (int)(rem / 3600), (int)(rem / 60 % 60),
                       (int)(rem % 60), (int)(frac / 1000));
    } else {
        len = snprintf(out, LI_TIME_BUF,
                       "%04lld-%02u-%02uT%02d:%02d:%02d.%06dZ", (long long)y,
                       m, d, (int)(rem / 3600), (int)(rem / 60 % 60),
                       (int)(rem % 60), (int)frac);
    }
    return len < 0 ? 0 : (size_t)len;
}

int64_t li_time_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t li_time_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
