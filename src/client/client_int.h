/*
 * client_int.h - internals shared by the files of src/client/ (not part of
 * the client's API; tests reach the pure parts through client.h).
 */
#ifndef LI_CLIENT_CLIENT_INT_H
#define LI_CLIENT_CLIENT_INT_H

#include <curl/curl.h>
#include <stdatomic.h>

#include "client/client.h"

struct client_resp {
    long status;        /* HTTP status of the final answer */
    struct li_buf body; /* limited to max_response_bytes */
    int too_big;        /* the write callback hit the limit */
    char content_type[128];
    char date_first[LI_TIME_MAX_LEN + 1];
    char date_last[LI_TIME_MAX_LEN + 1];
    char retry_after[64];
};

struct client {
    struct client_opts o; /* strings point at the copies below */
    char *ca_file, *user, *password, *token;
    CURL *easy;
    int ready; /* handle options set */
    struct curl_slist *get_headers, *post_headers;
    struct client_resp resp; /* the last response */
    char errbuf[CURL_ERROR_SIZE];
    unsigned long requests;
    _Atomic int cancel; /* set by client_cancel(): stop soon */
};

/* Ask a request running on another thread to stop (between attempts, in a
 * backoff wait, or mid-transfer); it then fails with LI_EIO "cancelled".
 * Cleared by the caller (client_cancel(c, 0)) before the next use. */
void client_cancel(struct client *c, int on);

/* Wait ms, in slices of 100 ms, returning early when the client is
 * cancelled (client_cancelled). */
void client_sleep_ms(struct client *c, long ms);

/* One request with the retries of client_opts; on 0, c->resp holds the
 * final answer (any status other than a retried-out 429/503). */
int client_http(struct client *c, const char *method, const char *url,
                const char *body, size_t body_len, struct li_err *e);

/* client_http, then: status must be want1 or want2 (else an error built
 * from the TAXII error body); if out is not NULL the body must be TAXII
 * JSON holding an object, returned in *out. */
int client_call(struct client *c, const char *method, const char *url,
                const char *body, size_t body_len, long want1, long want2,
                json_t **out, struct li_err *e);

#endif
