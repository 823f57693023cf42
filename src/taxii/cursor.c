/*
 * cursor.c - stateless `next` tokens for TAXII pagination.
 *
 * A token is base64url (no padding) of 25 bytes:
 *   byte 0      format version (1)
 *   bytes 1-8   position: date_added (microseconds, big-endian two's
 *               complement) of the last row delivered
 *   bytes 9-24  MAC: keyed BLAKE2b-128 (libsodium crypto_generichash) with
 *               the hub's "cursor" secret (store_secret), over the version,
 *               the position and the scope: endpoint, API root, collection,
 *               reader partner, object id, and every filter except limit and
 *               next (added_after, match[id], match[type], match[version],
 *               match[spec_version], values in request order).
 * The server keeps nothing: a token is valid on any process sharing the
 * store, across restarts, until the secret changes. A token that does not
 * decode to 25 bytes, has another version, or whose MAC does not match the
 * request's scope (forged, truncated, other filters, other reader, other
 * collection) is refused. date_added is unique and strictly increasing per
 * hub, so "date_added > position" resumes exactly after the last row.
 */
#include "taxii/taxii_int.h"

#include <sodium.h>
#include <string.h>

#define CURSOR_VERSION 1
#define CURSOR_MAC_LEN 16
#define CURSOR_RAW_LEN (1 + 8 + CURSOR_MAC_LEN)

static void put_i64(uint8_t out[8], int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(u & 0xff);
        u >>= 8;
    }
}

static int64_t get_i64(const uint8_t in[8])
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | in[i];
    return (int64_t)u;
}

static void feed_i64(crypto_generichash_state *st, int64_t v)
{
    uint8_t b[8];
    put_i64(b, v);
    crypto_generichash_update(st, b, sizeof b);
}

/* Length-prefixed, so that ("ab","c") and ("a","bc") differ. */
static void feed_str(crypto_generichash_state *st, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    feed_i64(st, s ? (int64_t)n : -1);
    if (n)
        crypto_generichash_update(st, (const unsigned char *)s, n);
}

static void feed_strs(crypto_generichash_state *st, const char *const *v,
                      size_t n)
{
    feed_i64(st, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        feed_str(st, v[i]);
}

static void cursor_mac(const uint8_t key[32],
                       const struct taxii_cursor_scope *sc,
                       const uint8_t head[9], uint8_t mac[CURSOR_MAC_LEN])
{
    crypto_generichash_state st;
    const struct taxii_filter *f = sc->f;
    static const char domain[] = "liaison taxii cursor v1";

    crypto_generichash_init(&st, key, 32, CURSOR_MAC_LEN);
    crypto_generichash_update(&st, (const unsigned char *)domain,
                              sizeof domain);
    crypto_generichash_update(&st, head, 9);
    feed_i64(&st, (int64_t)sc->ep);
    feed_i64(&st, sc->root_id);
    feed_i64(&st, sc->coll_id);
    feed_i64(&st, sc->reader);
    feed_str(&st, sc->object);
    feed_i64(&st, f->added_after);
    feed_strs(&st, f->ids, f->n_ids);
    feed_strs(&st, f->types, f->n_types);
    feed_i64(&st, (int64_t)f->version_flags);
    feed_i64(&st, (int64_t)f->n_versions);
    for (size_t i = 0; i < f->n_versions; i++)
        feed_i64(&st, f->versions[i]);
    feed_strs(&st, f->spec_versions, f->n_spec_versions);
    crypto_generichash_final(&st, mac, CURSOR_MAC_LEN);
}

void taxii_cursor_make(const uint8_t key[32],
                       const struct taxii_cursor_scope *sc, int64_t pos,
                       char out[TAXII_CURSOR_MAX])
{
    uint8_t raw[CURSOR_RAW_LEN];

    raw[0] = CURSOR_VERSION;
    put_i64(raw + 1, pos);
    cursor_mac(key, sc, raw, raw + 9);
    li_b64url_enc(raw, sizeof raw, out);
}

int taxii_cursor_check(const uint8_t key[32],
                       const struct taxii_cursor_scope *sc,
                       const char *token, int64_t *pos_out)
{
    uint8_t raw[CURSOR_RAW_LEN + 1];
    uint8_t mac[CURSOR_MAC_LEN];
    size_t n = strlen(token);
    long got;

    if (n > TAXII_CURSOR_MAX)
        return LI_EINVAL;
    got = li_b64url_dec(token, n, raw, sizeof raw);
    if (got != CURSOR_RAW_LEN || raw[0] != CURSOR_VERSION)
        return LI_EINVAL;
    cursor_mac(key, sc, raw, mac);
    if (sodium_memcmp(mac, raw + 9, CURSOR_MAC_LEN) != 0)
        return LI_EINVAL;
    *pos_out = get_i64(raw + 1);
    return 0;
}
