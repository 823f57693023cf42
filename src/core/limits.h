/*
 * limits.h - every size, depth, count and time that the network can push
 * against, in one place. Defaults here; liaisond flags override them (see
 * server/main.c and docs/limits.md). Each has a test that hits it.
 */
#ifndef LI_CORE_LIMITS_H
#define LI_CORE_LIMITS_H

#include <stddef.h>
#include <stdint.h>

struct li_limits {
    size_t max_header_bytes;     /* whole request header block (MHD pool) */
    size_t max_content_length;   /* request body; announced in API root */
    size_t max_objects;          /* objects in one envelope */
    int max_json_depth;          /* nesting of arrays/objects in a body */
    unsigned max_connections;    /* concurrent connections */
    unsigned max_connections_per_ip; /* concurrent connections from one address */
    unsigned idle_timeout_s;     /* idle connection timeout */
    unsigned page_default;       /* objects per page when no limit= */
    unsigned page_max;           /* server cap on limit= */
    size_t max_query_params;     /* query-string parameters */
    size_t max_match_values;     /* comma-separated values in one match[] */
    size_t max_object_bytes;     /* one object's compact JSON */
    int64_t status_ttl_s;        /* how long status resources are kept */
    unsigned threads;            /* HTTP worker threads */
};

#define LI_DEFAULT_MAX_HEADER_BYTES (16u * 1024)
#define LI_DEFAULT_MAX_CONTENT_LENGTH (10u * 1024 * 1024)
#define LI_DEFAULT_MAX_OBJECTS 10000u
#define LI_DEFAULT_MAX_JSON_DEPTH 64
#define LI_DEFAULT_MAX_CONNECTIONS 512u
#define LI_DEFAULT_MAX_CONNECTIONS_PER_IP 64u
#define LI_DEFAULT_IDLE_TIMEOUT_S 60u
#define LI_DEFAULT_PAGE 100u
#define LI_DEFAULT_PAGE_MAX 1000u
#define LI_DEFAULT_MAX_QUERY_PARAMS 32u
#define LI_DEFAULT_MAX_MATCH_VALUES 100u
#define LI_DEFAULT_MAX_OBJECT_BYTES (4u * 1024 * 1024)
#define LI_DEFAULT_STATUS_TTL_S (48 * 3600)  /* spec: at least 24 hours */
/* A handler blocks its MHD worker thread (and that thread's other
 * connections) while its envelope waits for the group commit: 8 threads
 * keep 4 concurrent POSTs from queueing behind each other on 2 cores
 * (bench_hub, docs/bench.md). */
#define LI_DEFAULT_THREADS 8u

static inline void li_limits_default(struct li_limits *l)
{
    l->max_header_bytes = LI_DEFAULT_MAX_HEADER_BYTES;
    l->max_content_length = LI_DEFAULT_MAX_CONTENT_LENGTH;
    l->max_objects = LI_DEFAULT_MAX_OBJECTS;
    l->max_json_depth = LI_DEFAULT_MAX_JSON_DEPTH;
    l->max_connections = LI_DEFAULT_MAX_CONNECTIONS;
    l->max_connections_per_ip = LI_DEFAULT_MAX_CONNECTIONS_PER_IP;
    l->idle_timeout_s = LI_DEFAULT_IDLE_TIMEOUT_S;
    l->page_default = LI_DEFAULT_PAGE;
    l->page_max = LI_DEFAULT_PAGE_MAX;
    l->max_query_params = LI_DEFAULT_MAX_QUERY_PARAMS;
    l->max_match_values = LI_DEFAULT_MAX_MATCH_VALUES;
    l->max_object_bytes = LI_DEFAULT_MAX_OBJECT_BYTES;
    l->status_ttl_s = LI_DEFAULT_STATUS_TTL_S;
    l->threads = LI_DEFAULT_THREADS;
}

#endif
