/*
 * taxii_int.h - internals shared by the files of the taxii module.
 *
 * Not a public interface: only the .c files of src/taxii include it (and the unit test,
 * which reaches a few helpers through it). The pieces:
 *   taxii.c     handle lifecycle, routing, discovery / API root /
 *               collections / collection / status resources
 *   objects.c   object, manifest, object-by-id and versions pages; DELETE
 *   ingest.c    POST objects: envelope, per-object checks, store, status
 *   validate.c  the per-object STIX checks used by ingest.c
 *   params.c    query-string filters (added_after, limit, next, match[...])
 *   cursor.c    stateless MAC-protected `next` tokens
 *   media.c     Accept / Content-Type negotiation
 *   errors.c    every HTTP status and TAXII error body this module makes
 */
#ifndef LI_TAXII_TAXII_INT_H
#define LI_TAXII_TAXII_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "taxii/taxii.h"

struct taxii {
    struct store *store;
    struct policy *policy;
    char *title;
    char *description;          /* NULL: none */
    char *contact;              /* NULL: none */
    char *default_root;         /* NULL: none */
    struct li_limits limits;
    int stix_validation;        /* run stix_validate() on posted objects */
    struct audit *audit;        /* NULL: no audit trail */
    uint8_t cursor_key[32];     /* store_secret(s, "cursor") */
};

/* ---- routing ---- */

enum taxii_ep {
    TAXII_EP_DISCOVERY = 0,
    TAXII_EP_API_ROOT,
    TAXII_EP_STATUS,
    TAXII_EP_COLLECTIONS,
    TAXII_EP_COLLECTION,
    TAXII_EP_OBJECTS,
    TAXII_EP_MANIFEST,
    TAXII_EP_OBJECT,
    TAXII_EP_VERSIONS
};

/* Path segments point into a private copy of the request path. */
struct taxii_route {
    enum taxii_ep ep;
    const char *root;      /* API root name, NULL for discovery */
    const char *coll;      /* collection id or alias */
    const char *object;    /* STIX id of the object */
    const char *status;    /* status id */
};

/* Everything a resource handler needs for one request. */
struct taxii_ctx {
    struct taxii *t;
    const struct taxii_req *req;
    struct taxii_resp *resp;
    struct policy_snap *snap;
    const struct taxii_route *route;
    const struct store_api_root *root;     /* NULL for discovery */
    const struct store_collection *coll;   /* NULL above collection level */
    int can_read;
    int can_write;
    size_t audited;        /* audit entries (deny/redact) this request made */
};

/* ---- errors.c: conditions -> HTTP status + TAXII error body ---- */

enum taxii_cond {
    TAXII_C_BAD_PARAM,         /* malformed query parameter */
    TAXII_C_BAD_CURSOR,        /* forged, truncated or mismatched next */
    TAXII_C_BAD_BODY,          /* body is not JSON */
    TAXII_C_TOO_DEEP,          /* body nests deeper than max_json_depth */
    TAXII_C_TOO_MANY,          /* more objects than max_objects */
    TAXII_C_UNPROCESSABLE,     /* JSON, but not a TAXII envelope */
    TAXII_C_UNAUTHENTICATED,   /* no principal */
    TAXII_C_FORBIDDEN,         /* one right missing for the operation */
    TAXII_C_NOT_FOUND,         /* no such resource, or no right at all */
    TAXII_C_NO_ENDPOINT,       /* the path names no TAXII endpoint */
    TAXII_C_METHOD,            /* endpoint exists, method does not */
    TAXII_C_NOT_ACCEPTABLE,    /* Accept names no media type we define */
    TAXII_C_UNSUPPORTED_MEDIA, /* Content-Type is not a TAXII envelope */
    TAXII_C_TOO_LARGE_RESP,    /* one stored object does not fit a response */
    TAXII_C_INTERNAL           /* anything else */
};

/* Fill resp with the error for condition c; description is printf-style
 * (may be NULL). */
void taxii_fail(struct taxii_resp *resp, enum taxii_cond c, const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));
/* Fill resp with the error for a failed LI_E* code from a lower layer
 * (store, policy), using e's message as description when given. */
void taxii_fail_code(struct taxii_resp *resp, int code,
                     const struct li_err *e);
/* The HTTP status for condition c (for tests and docs). */
int taxii_cond_status(enum taxii_cond c);

/* ---- media.c ---- */

/* 1 if an Accept header value (NULL or "" = absent) accepts a response in
 * the TAXII 2.1 media type; stix_ok also accepts
 * application/stix+json;version=2.1 (the manifest endpoint lists it). */
int taxii_accept_ok(const char *accept, int stix_ok);
/* 1 if a Content-Type value names the TAXII 2.1 envelope media type
 * (application/taxii+json, with version=2.1 or no version; other
 * parameters, case and spaces tolerated). */
int taxii_content_type_ok(const char *ctype);

/* ---- params.c ---- */

enum {
    TAXII_P_ADDED_AFTER = 1u << 0,
    TAXII_P_LIMIT = 1u << 1,
    TAXII_P_NEXT = 1u << 2,
    TAXII_P_ID = 1u << 3,
    TAXII_P_TYPE = 1u << 4,
    TAXII_P_VERSION = 1u << 5,
    TAXII_P_SPEC = 1u << 6
};

struct taxii_filter {
    unsigned allowed;             /* TAXII_P_* the endpoint defines */
    int64_t added_after;          /* INT64_MIN: none */
    size_t limit;                 /* effective page size */
    const char *next;             /* raw token, NULL: first page */
    const char **ids;
    size_t n_ids;
    const char **types;
    size_t n_types;
    unsigned version_flags;       /* STORE_V_*; default chosen by caller */
    int64_t *versions;
    size_t n_versions;
    const char **spec_versions;
    size_t n_spec_versions;
    /* private: one allocation holding copies of the values */
    char *strings;
    void *arrays;
};

/* Parse req's query parameters for an endpoint that defines `allowed`
 * (parameters it does not define are ignored, as TAXII 3.4 permits).
 * default_version is the STORE_V_* used when match[version] is absent.
 * 0, or LI_EINVAL / LI_ELIMIT with the reason in e (-> 400), LI_ENOMEM. */
int taxii_filter_parse(struct taxii_filter *f, const struct taxii_req *req,
                       unsigned allowed, unsigned default_version,
                       const struct li_limits *lim, struct li_err *e);
void taxii_filter_release(struct taxii_filter *f);

/* 1 if s[0..n) is a STIX type name (3-250 of a-z 0-9 '-', no "--", not
 * starting or ending with '-'). */
int taxii_stix_type_ok(const char *s, size_t n);
/* 1 if s is a STIX identifier "type--uuid". */
int taxii_stix_id_ok(const char *s, size_t n);

/* ---- cursor.c ---- */

#define TAXII_CURSOR_MAX 64      /* text length bound, NUL included */

/* The query a cursor is bound to. */
struct taxii_cursor_scope {
    enum taxii_ep ep;
    int64_t root_id;
    int64_t coll_id;
    int64_t reader;               /* partner id */
    const char *object;           /* object id or NULL */
    const struct taxii_filter *f;
};

/* Make the token for position pos (date_added of the last row delivered). */
void taxii_cursor_make(const uint8_t key[32],
                       const struct taxii_cursor_scope *sc, int64_t pos,
                       char out[TAXII_CURSOR_MAX]);
/* Check token and recover pos. LI_EINVAL if it is malformed, forged or was
 * made for another query, reader or collection. */
int taxii_cursor_check(const uint8_t key[32],
                       const struct taxii_cursor_scope *sc,
                       const char *token, int64_t *pos_out);

/* ---- validate.c ---- */

/* The facts ingest needs about one submitted object. Strings point into the
 * json_t (valid while it lives). */
struct taxii_obj_info {
    const char *id;
    const char *type;
    const char *spec_version;
    int64_t version_us;           /* modified, else created, else
                                   * STORE_NO_VERSION */
    const char *version_text;     /* the text version_us came from, or NULL */
};

/* Check one element of an envelope's "objects". On failure returns
 * LI_EINVAL with a message for the status resource in msg (msgsz bytes).
 * info is filled as far as it could be even on failure (id, version text
 * for the failure entry). */
int taxii_validate_object(const json_t *o, struct taxii_obj_info *info,
                          char *msg, size_t msgsz);

/* ---- shared formatting helpers (objects.c) ---- */

/* A STIX version timestamp: 3 fraction digits when the value is whole
 * milliseconds, else 6, so that match[version]=<text> selects it again. */
size_t taxii_format_version(int64_t us, char out[LI_TIME_BUF]);

/* ---- handlers ---- */
void taxii_get_objects(struct taxii_ctx *c);   /* objects and manifest */
void taxii_get_object(struct taxii_ctx *c);    /* object by id */
void taxii_get_versions(struct taxii_ctx *c);
void taxii_delete_object(struct taxii_ctx *c);
void taxii_post_objects(struct taxii_ctx *c);

#endif
