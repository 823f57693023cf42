/*
 * jsonx.h - thin helpers over jansson: bounded parsing of untrusted bodies
 * and compact serialisation into a li_buf.
 *
 * jansson keeps object keys in insertion order (since 2.8), so parse + dump
 * preserves the key order a partner sent; that is what the store keeps.
 */
#ifndef LI_JSON_JSONX_H
#define LI_JSON_JSONX_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

/* Scan n bytes of JSON text and fail with LI_ELIMIT if arrays/objects nest
 * deeper than max_depth (1 = a flat object), or the text holds more than
 * max_values values (an upper bound: every '{', '[' and ',' counts, plus
 * one), so that a small body of many tiny values ("[[],[],...]") cannot
 * make the parser allocate far more memory than the body's size suggests.
 * Does not validate the text otherwise. One pass, no allocation. */
int jsonx_check_shape(const char *p, size_t n, int max_depth,
                      size_t max_values);

/* Values one parse may create at most: about 60-100 bytes of memory each in
 * jansson, so this bounds one parse to some tens of MB. */
#define JSONX_DEFAULT_MAX_VALUES 500000u

/* For a tree parsed elsewhere: 0 when v nests arrays and objects at most
 * max_depth deep and holds at most max_values values in all (the limits
 * jsonx_check_shape applies to text), else LI_ELIMIT. Recursion is bounded
 * by max_depth. */
int jsonx_check_tree(const json_t *v, int max_depth, size_t max_values);

/* Parse n bytes into a new value (caller json_decref()s *out). Duplicate keys
 * are rejected; nesting is limited to max_depth and the value count to
 * JSONX_DEFAULT_MAX_VALUES. Errors: LI_ELIMIT (depth or count, with which
 * in e), LI_EPARSE (with "line L, column C: reason" in e). */
int jsonx_parse(const char *p, size_t n, int max_depth, json_t **out,
                struct li_err *e);

/* Append the compact serialisation of v (no spaces, keys in stored order,
 * UTF-8 kept) to b. 0, LI_ENOMEM or LI_ELIMIT (b's limit). */
int jsonx_dump(const json_t *v, struct li_buf *b);

/* The string value of obj[key], or NULL if absent or not a string. */
const char *jsonx_str(const json_t *obj, const char *key);

#endif
