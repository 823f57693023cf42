/*
 * sco.c - the STIX Cyber-observable Objects (STIX 2.1 §6, and the 2.0
 * names that 2.1 renamed or moved) with their properties and predefined
 * extensions, so that object paths in patterns can be checked. Read-only
 * tables: thread-safe.
 */
#include "pattern/internal.h"

#include <string.h>

#define V20 1u
#define V21 2u
#define VALL (V20 | V21)

/* clang-format off */
#define P(n, t) {n, t, VALL, NULL}
#define P21(n, t) {n, t, V21, NULL}
#define P20(n, t) {n, t, V20, NULL}
#define R(n, t, r) {n, t, VALL, r}
#define R21(n, t, r) {n, t, V21, r}
#define R20(n, t, r) {n, t, V20, r}
#define END {NULL, 0, 0, NULL}
/* clang-format on */

static const struct pat_prop common[] = {
    P("type", PT_STR),
    P21("id", PT_STR),
    P21("spec_version", PT_STR),
    P21("object_marking_refs", PT_REF | PT_LIST),
    P21("granular_markings", PT_OBJ | PT_LIST),
    P21("defanged", PT_BOOL),
    P("extensions", PT_EXT),
    END};

static const struct pat_prop artifact[] = {P("mime_type", PT_STR),
                                           P("payload_bin", PT_BIN),
                                           P("url", PT_STR),
                                           P("hashes", PT_HASHES),
                                           P21("encryption_algorithm", PT_STR),
                                           P21("decryption_key", PT_STR),
                                           END};

static const struct pat_prop autonomous_system[] = {
    P("number", PT_INT), P("name", PT_STR), P("rir", PT_STR), END};

static const struct pat_prop directory[] = {
    P("path", PT_STR),
    P("path_enc", PT_STR),
    P21("ctime", PT_TS),
    P21("mtime", PT_TS),
    P21("atime", PT_TS),
    P20("created", PT_TS),
    P20("modified", PT_TS),
    P20("accessed", PT_TS),
    R("contains_refs", PT_REF | PT_LIST, "file directory"),
    END};

static const struct pat_prop domain_name[] = {
    P("value", PT_STR),
    R("resolves_to_refs", PT_REF | PT_LIST, "ipv4-addr ipv6-addr domain-name"),
    END};

static const struct pat_prop email_addr[] = {
    P("value", PT_STR), P("display_name", PT_STR),
    R("belongs_to_ref", PT_REF, "user-account"), END};

static const struct pat_prop email_message[] = {
    P("is_multipart", PT_BOOL),
    P("date", PT_TS),
    P("content_type", PT_STR),
    R("from_ref", PT_REF, "email-addr"),
    R("sender_ref", PT_REF, "email-addr"),
    R("to_refs", PT_REF | PT_LIST, "email-addr"),
    R("cc_refs", PT_REF | PT_LIST, "email-addr"),
    R("bcc_refs", PT_REF | PT_LIST, "email-addr"),
    P21("message_id", PT_STR),
    P("subject", PT_STR),
    P("received_lines", PT_STR | PT_LIST),
    P("additional_header_fields", PT_DICT),
    P("body", PT_STR),
    P("body_multipart", PT_OBJ | PT_LIST),
    R("raw_email_ref", PT_REF, "artifact"),
    END};

static const struct pat_prop file[] = {
    P("hashes", PT_HASHES),
    P("size", PT_INT),
    P("name", PT_STR),
    P("name_enc", PT_STR),
    P("magic_number_hex", PT_HEX),
    P("mime_type", PT_STR),
    P21("ctime", PT_TS),
    P21("mtime", PT_TS),
    P21("atime", PT_TS),
    P20("created", PT_TS),
    P20("modified", PT_TS),
    P20("accessed", PT_TS),
    P20("is_encrypted", PT_BOOL),
    P20("encryption_algorithm", PT_STR),
    P20("decryption_key", PT_STR),
    R("parent_directory_ref", PT_REF, "directory"),
    P("contains_refs", PT_REF | PT_LIST),
    R("content_ref", PT_REF, "artifact"),
    END};

static const struct pat_prop ext_archive[] = {
    R("contains_refs", PT_REF | PT_LIST, "file directory"),
    P20("version", PT_STR), P("comment", PT_STR), END};

static const struct pat_prop ext_ntfs[] = {
    P("sid", PT_STR), P("alternate_data_streams", PT_OBJ | PT_LIST), END};

static const struct pat_prop ext_pdf[] = {P("version", PT_STR),
                                          P("is_optimized", PT_BOOL),
                                          P("document_info_dict", PT_DICT),
                                          P("pdfid0", PT_STR),
                                          P("pdfid1", PT_STR),
                                          END};

static const struct pat_prop ext_raster[] = {
    P("image_height", PT_INT),   P("image_width", PT_INT),
    P("bits_per_pixel", PT_INT), P20("image_compression_algorithm", PT_STR),
    P("exif_tags", PT_DICT),     END};

static const struct pat_prop ext_pe[] = {
    P("pe_type", PT_STR),
    P("imphash", PT_STR),
    P("machine_hex", PT_HEX),
    P("number_of_sections", PT_INT),
    P("time_date_stamp", PT_TS),
    P("pointer_to_symbol_table_hex", PT_HEX),
    P("number_of_symbols", PT_INT),
    P("size_of_optional_header", PT_INT),
    P("characteristics_hex", PT_HEX),
    P("file_header_hashes", PT_HASHES),
    P("optional_header", PT_OBJ),
    P("sections", PT_OBJ | PT_LIST),
    END};

static const struct pat_prop ipv_addr[] = {
    P("value", PT_STR), R("resolves_to_refs", PT_REF | PT_LIST, "mac-addr"),
    R("belongs_to_refs", PT_REF | PT_LIST, "autonomous-system"), END};

static const struct pat_prop mac_addr[] = {P("value", PT_STR), END};

static const struct pat_prop mutex[] = {P("name", PT_STR), END};

static const struct pat_prop network_traffic[] = {
    P("start", PT_TS),
    P("end", PT_TS),
    P21("is_active", PT_BOOL),
    R("src_ref", PT_REF, "ipv4-addr ipv6-addr mac-addr domain-name"),
    R("dst_ref", PT_REF, "ipv4-addr ipv6-addr mac-addr domain-name"),
    P("src_port", PT_INT),
    P("dst_port", PT_INT),
    P("protocols", PT_STR | PT_LIST),
    P("src_byte_count", PT_INT),
    P("dst_byte_count", PT_INT),
    P("src_packets", PT_INT),
    P("dst_packets", PT_INT),
    P("ipfix", PT_DICT),
    R("src_payload_ref", PT_REF, "artifact"),
    R("dst_payload_ref", PT_REF, "artifact"),
    R("encapsulates_refs", PT_REF | PT_LIST, "network-traffic"),
    R("encapsulated_by_ref", PT_REF, "network-traffic"),
    P20("is_active", PT_BOOL),
    END};

static const struct pat_prop ext_http[] = {
    P("request_method", PT_STR),
    P("request_value", PT_STR),
    P("request_version", PT_STR),
    P("request_header", PT_DICT),
    P("message_body_length", PT_INT),
    R("message_body_data_ref", PT_REF, "artifact"),
    END};

static const struct pat_prop ext_icmp[] = {P("icmp_type_hex", PT_HEX),
                                           P("icmp_code_hex", PT_HEX), END};

static const struct pat_prop ext_socket[] = {P("address_family", PT_STR),
                                             P("is_blocking", PT_BOOL),
                                             P("is_listening", PT_BOOL),
                                             P20("protocol_family", PT_STR),
                                             P("options", PT_DICT),
                                             P("socket_type", PT_STR),
                                             P("socket_descriptor", PT_INT),
                                             P("socket_handle", PT_INT),
                                             END};

static const struct pat_prop ext_tcp[] = {P("src_flags_hex", PT_HEX),
                                          P("dst_flags_hex", PT_HEX), END};

static const struct pat_prop process[] = {
    P("is_hidden", PT_BOOL),
    P("pid", PT_INT),
    P21("created_time", PT_TS),
    P("cwd", PT_STR),
    P("command_line", PT_STR),
    P("environment_variables", PT_DICT),
    R("opened_connection_refs", PT_REF | PT_LIST, "network-traffic"),
    R("creator_user_ref", PT_REF, "user-account"),
    R21("image_ref", PT_REF, "file"),
    R("parent_ref", PT_REF, "process"),
    R("child_refs", PT_REF | PT_LIST, "process"),
    P20("name", PT_STR),
    P20("arguments", PT_STR | PT_LIST),
    P20("created", PT_TS),
    R20("binary_ref", PT_REF, "file"),
    END};

static const struct pat_prop ext_winproc[] = {
    P("aslr_enabled", PT_BOOL),     P("dep_enabled", PT_BOOL),
    P("priority", PT_STR),          P("owner_sid", PT_STR),
    P("window_title", PT_STR),      P("startup_info", PT_DICT),
    P21("integrity_level", PT_STR), END};

static const struct pat_prop ext_winsvc[] = {
    P("service_name", PT_STR),
    P("descriptions", PT_STR | PT_LIST),
    P("display_name", PT_STR),
    P("group_name", PT_STR),
    P("start_type", PT_STR),
    R("service_dll_refs", PT_REF | PT_LIST, "file"),
    P("service_type", PT_STR),
    P("service_status", PT_STR),
    END};

static const struct pat_prop software[] = {P("name", PT_STR),
                                           P("cpe", PT_STR),
                                           P21("swid", PT_STR),
                                           P("languages", PT_STR | PT_LIST),
                                           P("vendor", PT_STR),
                                           P("version", PT_STR),
                                           END};

static const struct pat_prop url[] = {P("value", PT_STR), END};

static const struct pat_prop user_account[] = {
    P("user_id", PT_STR),
    P21("credential", PT_STR),
    P("account_login", PT_STR),
    P("account_type", PT_STR),
    P("display_name", PT_STR),
    P("is_service_account", PT_BOOL),
    P("is_privileged", PT_BOOL),
    P("can_escalate_privs", PT_BOOL),
    P("is_disabled", PT_BOOL),
    P("account_created", PT_TS),
    P("account_expires", PT_TS),
    P21("credential_last_changed", PT_TS),
    P20("password_last_changed", PT_TS),
    P("account_first_login", PT_TS),
    P("account_last_login", PT_TS),
    END};

static const struct pat_prop ext_unix[] = {
    P("gid", PT_INT), P("groups", PT_STR | PT_LIST), P("home_dir", PT_STR),
    P("shell", PT_STR), END};

static const struct pat_prop registry_key[] = {
    P("key", PT_STR),
    P("values", PT_OBJ | PT_LIST),
    P21("modified_time", PT_TS),
    P20("modified", PT_TS),
    R("creator_user_ref", PT_REF, "user-account"),
    P("number_of_subkeys", PT_INT),
    END};

static const struct pat_prop x509[] = {
    P("is_self_signed", PT_BOOL),
    P("hashes", PT_HASHES),
    P("version", PT_STR),
    P("serial_number", PT_STR),
    P("signature_algorithm", PT_STR),
    P("issuer", PT_STR),
    P("validity_not_before", PT_TS),
    P("validity_not_after", PT_TS),
    P("subject", PT_STR),
    P("subject_public_key_algorithm", PT_STR),
    P("subject_public_key_modulus", PT_STR),
    P("subject_public_key_exponent", PT_INT),
    P("x509_v3_extensions", PT_OBJ),
    END};

static const struct pat_sco scos[] = {
    {"artifact", artifact},
    {"autonomous-system", autonomous_system},
    {"directory", directory},
    {"domain-name", domain_name},
    {"email-addr", email_addr},
    {"email-message", email_message},
    {"file", file},
    {"ipv4-addr", ipv_addr},
    {"ipv6-addr", ipv_addr},
    {"mac-addr", mac_addr},
    {"mutex", mutex},
    {"network-traffic", network_traffic},
    {"process", process},
    {"software", software},
    {"url", url},
    {"user-account", user_account},
    {"windows-registry-key", registry_key},
    {"x509-certificate", x509},
};

static const struct {
    const struct pat_prop *owner;
    const char *name;
    const struct pat_prop *props;
} exts[] = {
    {file, "archive-ext", ext_archive},
    {file, "ntfs-ext", ext_ntfs},
    {file, "pdf-ext", ext_pdf},
    {file, "raster-image-ext", ext_raster},
    {file, "windows-pebinary-ext", ext_pe},
    {network_traffic, "http-request-ext", ext_http},
    {network_traffic, "icmp-ext", ext_icmp},
    {network_traffic, "socket-ext", ext_socket},
    {network_traffic, "tcp-ext", ext_tcp},
    {process, "windows-process-ext", ext_winproc},
    {process, "windows-service-ext", ext_winsvc},
    {user_account, "unix-account-ext", ext_unix},
};

static int name_is(const char *a, const char *s, size_t n)
{
    return a[0] == s[0] && strlen(a) == n && memcmp(a, s, n) == 0;
}

const struct pat_sco *pat_sco_find(const char *name, size_t n)
{
    size_t i;
    if (n == 0)
        return NULL;
    for (i = 0; i < sizeof(scos) / sizeof(scos[0]); i++)
        if (name_is(scos[i].name, name, n))
            return &scos[i];
    return NULL;
}

const struct pat_prop *pat_sco_ext(const struct pat_sco *sco, const char *ext,
                                   size_t n)
{
    size_t i;
    if (n == 0)
        return NULL;
    for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (exts[i].owner == sco->props && name_is(exts[i].name, ext, n))
            return exts[i].props;
    return NULL;
}

const struct pat_prop *pat_prop_find(const struct pat_prop *props,
                                     const char *name, size_t n, int version)
{
    unsigned v = version == 20 ? V20 : V21;
    if (n == 0)
        return NULL;
    for (; props->name; props++)
        if ((props->versions & v) && name_is(props->name, name, n))
            return props;
    return NULL;
}

const struct pat_prop *pat_common_prop(const char *name, size_t n)
{
    return pat_prop_find(common, name, n, 21);
}
