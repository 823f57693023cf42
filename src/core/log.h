/*
 * log.h - leveled logging to stderr. Never log a secret (passwords, tokens,
 * cursor keys): log identifiers such as partner names and token ids only.
 */
#ifndef LI_CORE_LOG_H
#define LI_CORE_LOG_H

enum li_log_level { LI_LOG_ERROR = 0, LI_LOG_WARN, LI_LOG_INFO, LI_LOG_DEBUG };

void li_log_set_level(enum li_log_level lvl);
enum li_log_level li_log_get_level(void);
void li_log(enum li_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define li_error(...) li_log(LI_LOG_ERROR, __VA_ARGS__)
#define li_warn(...) li_log(LI_LOG_WARN, __VA_ARGS__)
#define li_info(...) li_log(LI_LOG_INFO, __VA_ARGS__)
#define li_debug(...) li_log(LI_LOG_DEBUG, __VA_ARGS__)

#endif
