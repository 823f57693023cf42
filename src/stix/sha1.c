/*
 * sha1.c - SHA-1 for deterministic SCO ids (UUIDv5, STIX 2.1 §2.9), from
 * nettle (pkg-config nettle; Debian nettle-dev). No hand-written crypto.
 * nettle's sha1 functions keep all state in the caller's context, so this
 * is thread-safe.
 */
#include "stix/stix_int.h"

#include <nettle/sha1.h>

int stix_sha1(const void *const *parts, const size_t *lens, int n,
              unsigned char out[20])
{
    struct sha1_ctx ctx;
    int i;
    sha1_init(&ctx);
    for (i = 0; i < n; i++)
        sha1_update(&ctx, lens[i], parts[i]);
    sha1_digest(&ctx, SHA1_DIGEST_SIZE, out);
    return 0;
}
