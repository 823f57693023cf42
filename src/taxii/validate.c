/*
 * validate.c - the checks the TAXII layer applies to each object of a POSTed
 * envelope before storing it (what a TAXII server needs to key, version and
 * serve an object; deeper STIX validation belongs to src/stix/ when it
 * exists, and ingest.c is the place that would call it).
 *
 *   - a JSON object with "type" (STIX type name) and "id" ("<type>--<UUID>",
 *     the prefix equal to "type");
 *   - "spec_version": a string, and "2.1" (the only version our collections
 *     announce in media_types); SCOs may omit it (STIX 2.1: it defaults to
 *     2.1 for them);
 *   - SDOs, SROs, language-content and extension-definition need "created"
 *     and "modified"; marking-definition needs "created"; SCOs need neither;
 *     any other (custom) type may have either. Whatever is present must be an
 *     RFC 3339 UTC timestamp, and modified must not precede created.
 * The version is modified, else created, else STORE_NO_VERSION.
 */
#include "taxii/taxii_int.h"

#include "json/jsonx.h"

#include <stdio.h>
#include <string.h>

static const char *const sdo_sro_types[] = {
    "attack-pattern", "campaign", "course-of-action", "extension-definition",
    "grouping", "identity", "incident", "indicator", "infrastructure",
    "intrusion-set", "language-content", "location", "malware",
    "malware-analysis", "note", "observed-data", "opinion", "relationship",
    "report", "sighting", "threat-actor", "tool", "vulnerability",
};

static const char *const sco_types[] = {
    "artifact", "autonomous-system", "directory", "domain-name",
    "email-addr", "email-message", "file", "ipv4-addr", "ipv6-addr",
    "mac-addr", "mutex", "network-traffic", "process", "software", "url",
    "user-account", "windows-registry-key", "x509-certificate",
};

static int in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

#define IN(s, l) in_list(s, l, sizeof l / sizeof l[0])

/* A timestamp property: absent (0, *us untouched), valid (1), or bad (-1
 * with msg). */
static int time_prop(const json_t *o, const char *key, int64_t *us,
                     const char **text, char *msg, size_t msgsz)
{
    json_t *v = json_object_get(o, key);
    const char *s;

    if (!v)
        return 0;
    if (!json_is_string(v)) {
        snprintf(msg, msgsz, "'%s' is not a string", key);
        return -1;
    }
    s = json_string_value(v);
    if (li_time_parse(s, json_string_length(v), 0, us, NULL)) {
        snprintf(msg, msgsz, "'%s' is not an RFC 3339 timestamp", key);
        return -1;
    }
    *text = s;
    return 1;
}

int taxii_validate_object(const json_t *o, struct taxii_obj_info *info,
                          char *msg, size_t msgsz)
{
    const char *type, *id, *created_text = NULL, *modified_text = NULL;
    json_t *v;
    size_t tl, il;
    int64_t created = 0, modified = 0;
    int has_c, has_m, is_sco, rc = LI_EINVAL;

    memset(info, 0, sizeof *info);
    info->version_us = STORE_NO_VERSION;
    if (!json_is_object(o)) {
        snprintf(msg, msgsz, "not a JSON object");
        goto out;
    }
    /* Fill what we can first, for the failure entry. */
    id = jsonx_str(o, "id");
    info->id = id;
    v = json_object_get(o, "modified");
    if (!json_is_string(v))
        v = json_object_get(o, "created");
    if (json_is_string(v))
        info->version_text = json_string_value(v);

    v = json_object_get(o, "type");
    if (!v) {
        snprintf(msg, msgsz, "'type' is missing");
        goto out;
    }
    if (!json_is_string(v)) {
        snprintf(msg, msgsz, "'type' is not a string");
        goto out;
    }
    type = json_string_value(v);
    tl = json_string_length(v);
    if (strlen(type) != tl || !taxii_stix_type_ok(type, tl)) {
        snprintf(msg, msgsz, "'type' is not a STIX type name");
        goto out;
    }
    if (strcmp(type, "bundle") == 0) {
        snprintf(msg, msgsz, "a bundle is not an object: send its objects "
                             "in the envelope");
        goto out;
    }
    v = json_object_get(o, "id");
    if (!v) {
        snprintf(msg, msgsz, "'id' is missing");
        goto out;
    }
    if (!json_is_string(v)) {
        snprintf(msg, msgsz, "'id' is not a string");
        goto out;
    }
    il = json_string_length(v);
    if (strlen(id) != il || !taxii_stix_id_ok(id, il)) {
        snprintf(msg, msgsz, "'id' is not of the form <type>--<UUID>");
        goto out;
    }
    if (il != tl + 2 + LI_UUID_LEN || memcmp(id, type, tl) != 0) {
        snprintf(msg, msgsz, "'id' does not begin with its type '%s--'",
                 type);
        goto out;
    }
    info->type = type;

    is_sco = IN(type, sco_types);
    v = json_object_get(o, "spec_version");
    if (!v) {
        if (!is_sco) {
            snprintf(msg, msgsz, "'spec_version' is missing");
            goto out;
        }
        info->spec_version = "2.1";
    } else if (!json_is_string(v)) {
        snprintf(msg, msgsz, "'spec_version' is not a string");
        goto out;
    } else if (strcmp(json_string_value(v), "2.1") != 0) {
        snprintf(msg, msgsz,
                 "spec_version '%.16s' is not supported: collections here "
                 "hold STIX 2.1 (" STIX_MEDIA ")",
                 json_string_value(v));
        goto out;
    } else {
        info->spec_version = json_string_value(v);
    }

    has_c = time_prop(o, "created", &created, &created_text, msg, msgsz);
    if (has_c < 0)
        goto out;
    has_m = time_prop(o, "modified", &modified, &modified_text, msg, msgsz);
    if (has_m < 0)
        goto out;
    if (IN(type, sdo_sro_types) || strcmp(type, "marking-definition") == 0) {
        if (!has_c) {
            snprintf(msg, msgsz, "'created' is missing");
            goto out;
        }
        if (!has_m && strcmp(type, "marking-definition") != 0) {
            snprintf(msg, msgsz, "'modified' is missing");
            goto out;
        }
    }
    if (has_c && has_m && modified < created) {
        snprintf(msg, msgsz, "'modified' is earlier than 'created'");
        goto out;
    }
    if (has_m) {
        info->version_us = modified;
        info->version_text = modified_text;
    } else if (has_c) {
        info->version_us = created;
        info->version_text = created_text;
    } else {
        info->version_text = NULL;
    }
    msg[0] = '\0';
    rc = 0;
out:
    return rc;
}
