/* log.c - see log.h. One fprintf per line keeps lines whole across threads. */
#include "core/log.h"
#include "core/time.h"

#include <stdarg.h>
#include <stdio.h>

static enum li_log_level cur_level = LI_LOG_INFO;

void li_log_set_level(enum li_log_level lvl) { cur_level = lvl; }
enum li_log_level li_log_get_level(void) { return cur_level; }

void li_log(enum li_log_level lvl, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    char ts[LI_TIME_BUF], line[1024];
    va_list ap;

    if (lvl > cur_level)
        return;
    li_time_format(li_time_now_us(), 3, ts);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %s %s\n", ts, names[lvl], line);
}
