/*
 * types.c - the STIX 2.1 object model as data: every object type with its
 * properties (kind, required, id-contributing, reference targets, ranges),
 * the predefined SCO extensions, the sub-objects (external-reference,
 * kill-chain-phase, granular-marking, ...) and the vocabularies.
 *
 * Source: STIX 2.1 OASIS Standard, sections 2-10; the OASIS JSON schemas
 * (oasis-open/cti-stix2-json-schemas) were read as a cross-check. Tables are
 * written in spec order and sorted once by stix_tables_init() so lookups are
 * binary searches; after that they are read-only (thread-safe).
 */
#include "stix/stix_int.h"

#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define P(n, k)                                                                \
    {                                                                          \
        n, k, 0, NULL, 0, 0                                                    \
    }
#define PQ(n, k)                                                               \
    {                                                                          \
        n, k, F_REQ, NULL, 0, 0                                                \
    }
#define PF(n, k, f)                                                            \
    {                                                                          \
        n, k, f, NULL, 0, 0                                                    \
    }
#define PA(n, k, f, a)                                                         \
    {                                                                          \
        n, k, f, a, 0, 0                                                       \
    }
#define PR(n, k, f, lo, hi)                                                    \
    {                                                                          \
        n, k, (f) | F_RANGE, NULL, lo, hi                                      \
    }
#define VOCAB(var, name, arr) const struct stix_vocab var = {name, arr, N(arr)}

/* ---- vocabularies (§10) ------------------------------------------------- */

static const char *t_account_type[] = {
    "facebook", "ldap",    "nis",  "openid",        "radius",        "skype",
    "tacacs",   "twitter", "unix", "windows-local", "windows-domain"};
static const char *t_motivation[] = {"accidental",    "coercion",
                                     "dominance",     "ideology",
                                     "notoriety",     "organizational-gain",
                                     "personal-gain", "personal-satisfaction",
                                     "revenge",       "unpredictable"};
static const char *t_resource_level[] = {
    "individual", "club", "contest", "team", "organization", "government"};
static const char *t_grouping_context[] = {"suspicious-activity",
                                           "malware-analysis", "unspecified"};
static const char *t_hash_algo[] = {"MD5",     "SHA-1",    "SHA-256",
                                    "SHA-512", "SHA3-256", "SHA3-512",
                                    "SSDEEP",  "TLSH"};
static const char *t_identity_class[] = {"individual",   "group", "system",
                                         "organization", "class", "unknown"};
static const char *t_impl_lang[] = {
    "applescript",  "bash",       "c",     "c++",         "c#",    "go",
    "java",         "javascript", "lua",   "objective-c", "perl",  "php",
    "powershell",   "python",     "ruby",  "scala",       "swift", "typescript",
    "visual-basic", "x86-32",     "x86-64"};
static const char *t_indicator_type[] = {
    "anomalous-activity", "anonymization", "benign", "compromised",
    "malicious-activity", "attribution",   "unknown"};
static const char *t_industry[] = {"agriculture",
                                   "aerospace",
                                   "automotive",
                                   "chemical",
                                   "commercial",
                                   "communications",
                                   "construction",
                                   "defense",
                                   "education",
                                   "energy",
                                   "entertainment",
                                   "financial-services",
                                   "government",
                                   "emergency-services",
                                   "government-local",
                                   "government-national",
                                   "government-public-services",
                                   "government-regional",
                                   "healthcare",
                                   "hospitality-leisure",
                                   "infrastructure",
                                   "dams",
                                   "nuclear",
                                   "water",
                                   "insurance",
                                   "manufacturing",
                                   "mining",
                                   "non-profit",
                                   "pharmaceuticals",
                                   "retail",
                                   "technology",
                                   "telecommunications",
                                   "transportation",
                                   "utilities"};
static const char *t_infra_type[] = {"amplification",
                                     "anonymization",
                                     "botnet",
                                     "command-and-control",
                                     "control-system",
                                     "exfiltration",
                                     "firewall",
                                     "hosting-malware",
                                     "hosting-target-lists",
                                     "phishing",
                                     "reconnaissance",
                                     "routers-switches",
                                     "staging",
                                     "workstation",
                                     "unknown"};
static const char *t_malware_result[] = {"malicious", "suspicious", "benign",
                                         "unknown"};
static const char *t_malware_cap[] = {"accesses-remote-machines",
                                      "anti-debugging",
                                      "anti-disassembly",
                                      "anti-emulation",
                                      "anti-memory-forensics",
                                      "anti-sandbox",
                                      "anti-vm",
                                      "captures-input-peripherals",
                                      "captures-output-peripherals",
                                      "captures-system-state-data",
                                      "cleans-traces-of-infection",
                                      "commits-fraud",
                                      "communicates-with-c2",
                                      "compromises-data-availability",
                                      "compromises-data-integrity",
                                      "compromises-system-availability",
                                      "controls-local-machine",
                                      "degrades-security-software",
                                      "degrades-system-updates",
                                      "determines-c2-server",
                                      "emails-spam",
                                      "escalates-privileges",
                                      "evades-av",
                                      "exfiltrates-data",
                                      "fingerprints-host",
                                      "hides-artifacts",
                                      "hides-executing-code",
                                      "infects-files",
                                      "infects-remote-machines",
                                      "installs-other-components",
                                      "persists-after-system-reboot",
                                      "prevents-artifact-access",
                                      "prevents-artifact-deletion",
                                      "probes-network-environment",
                                      "self-modifies",
                                      "steals-authentication-credentials",
                                      "violates-system-operational-integrity"};
static const char *t_malware_type[] = {"adware",
                                       "backdoor",
                                       "bot",
                                       "bootkit",
                                       "ddos",
                                       "downloader",
                                       "dropper",
                                       "exploit-kit",
                                       "keylogger",
                                       "ransomware",
                                       "remote-access-trojan",
                                       "resource-exploitation",
                                       "rogue-security-software",
                                       "rootkit",
                                       "screen-capture",
                                       "spyware",
                                       "trojan",
                                       "unknown",
                                       "virus",
                                       "webshell",
                                       "wiper",
                                       "worm"};
static const char *t_opinion[] = {"strongly-disagree", "disagree", "neutral",
                                  "agree", "strongly-agree"};
static const char *t_pattern_type[] = {"stix",  "pcre",     "sigma",
                                       "snort", "suricata", "yara"};
static const char *t_proc_arch[] = {"alpha",   "arm",   "ia-64", "mips",
                                    "powerpc", "sparc", "x86",   "x86-64"};
static const char *t_region[] = {"africa",
                                 "eastern-africa",
                                 "middle-africa",
                                 "northern-africa",
                                 "southern-africa",
                                 "western-africa",
                                 "americas",
                                 "caribbean",
                                 "central-america",
                                 "latin-america-caribbean",
                                 "northern-america",
                                 "south-america",
                                 "asia",
                                 "central-asia",
                                 "eastern-asia",
                                 "southern-asia",
                                 "south-eastern-asia",
                                 "western-asia",
                                 "europe",
                                 "eastern-europe",
                                 "northern-europe",
                                 "southern-europe",
                                 "western-europe",
                                 "oceania",
                                 "antarctica",
                                 "australia-new-zealand",
                                 "melanesia",
                                 "micronesia",
                                 "polynesia"};
static const char *t_report_type[] = {
    "attack-pattern", "campaign", "identity",      "indicator",
    "intrusion-set",  "malware",  "observed-data", "threat-actor",
    "threat-report",  "tool",     "vulnerability"};
static const char *t_ta_type[] = {"activist",
                                  "competitor",
                                  "crime-syndicate",
                                  "criminal",
                                  "hacker",
                                  "insider-accidental",
                                  "insider-disgruntled",
                                  "nation-state",
                                  "sensationalist",
                                  "spy",
                                  "terrorist",
                                  "unknown"};
static const char *t_ta_role[] = {"agent",
                                  "director",
                                  "independent",
                                  "infrastructure-architect",
                                  "infrastructure-operator",
                                  "malware-author",
                                  "sponsor"};
static const char *t_ta_soph[] = {"none",     "minimal", "intermediate",
                                  "advanced", "expert",  "innovator",
                                  "strategic"};
static const char *t_tool_type[] = {
    "denial-of-service",       "exploitation",
    "information-gathering",   "network-capture",
    "credential-exploitation", "remote-access",
    "vulnerability-scanning",  "unknown"};
static const char *t_enc_algo[] = {"AES-256-GCM", "ChaCha20-Poly1305",
                                   "mime-type-indicated"};
static const char *t_ext_type[] = {"new-sdo", "new-sco", "new-sro",
                                   "property-extension",
                                   "toplevel-property-extension"};
static const char *t_af[] = {"AF_UNSPEC",    "AF_INET",    "AF_IPX",
                             "AF_APPLETALK", "AF_NETBIOS", "AF_INET6",
                             "AF_IRDA",      "AF_BTH"};
static const char *t_socktype[] = {"SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW",
                                   "SOCK_RDM", "SOCK_SEQPACKET"};
static const char *t_integrity[] = {"low", "medium", "high", "system"};
static const char *t_pe_type[] = {"dll", "exe", "sys"};
static const char *t_reg_type[] = {"REG_NONE",
                                   "REG_SZ",
                                   "REG_EXPAND_SZ",
                                   "REG_BINARY",
                                   "REG_DWORD",
                                   "REG_DWORD_BIG_ENDIAN",
                                   "REG_DWORD_LITTLE_ENDIAN",
                                   "REG_LINK",
                                   "REG_MULTI_SZ",
                                   "REG_RESOURCE_LIST",
                                   "REG_FULL_RESOURCE_DESCRIPTION",
                                   "REG_RESOURCE_REQUIREMENTS_LIST",
                                   "REG_QWORD",
                                   "REG_INVALID_TYPE"};
static const char *t_svc_start[] = {"SERVICE_AUTO_START", "SERVICE_BOOT_START",
                                    "SERVICE_DEMAND_START", "SERVICE_DISABLED",
                                    "SERVICE_SYSTEM_ALERT"};
static const char *t_svc_type[] = {
    "SERVICE_KERNEL_DRIVER", "SERVICE_FILE_SYSTEM_DRIVER",
    "SERVICE_WIN32_OWN_PROCESS", "SERVICE_WIN32_SHARE_PROCESS"};
static const char *t_svc_status[] = {
    "SERVICE_CONTINUE_PENDING", "SERVICE_PAUSE_PENDING", "SERVICE_PAUSED",
    "SERVICE_RUNNING",          "SERVICE_START_PENDING", "SERVICE_STOP_PENDING",
    "SERVICE_STOPPED"};

static VOCAB(v_account_type, "account-type-ov", t_account_type);
static VOCAB(v_motivation, "attack-motivation-ov", t_motivation);
static VOCAB(v_resource_level, "attack-resource-level-ov", t_resource_level);
static VOCAB(v_grouping_context, "grouping-context-ov", t_grouping_context);
VOCAB(stix_vocab_hash_algo, "hash-algorithm-ov", t_hash_algo);
static VOCAB(v_identity_class, "identity-class-ov", t_identity_class);
static VOCAB(v_impl_lang, "implementation-language-ov", t_impl_lang);
static VOCAB(v_indicator_type, "indicator-type-ov", t_indicator_type);
static VOCAB(v_industry, "industry-sector-ov", t_industry);
static VOCAB(v_infra_type, "infrastructure-type-ov", t_infra_type);
static VOCAB(v_malware_result, "malware-result-ov", t_malware_result);
static VOCAB(v_malware_cap, "malware-capabilities-ov", t_malware_cap);
static VOCAB(v_malware_type, "malware-type-ov", t_malware_type);
static VOCAB(v_opinion, "opinion-enum", t_opinion);
VOCAB(stix_vocab_pattern_type, "pattern-type-ov", t_pattern_type);
static VOCAB(v_proc_arch, "processor-architecture-ov", t_proc_arch);
static VOCAB(v_region, "region-ov", t_region);
static VOCAB(v_report_type, "report-type-ov", t_report_type);
static VOCAB(v_ta_type, "threat-actor-type-ov", t_ta_type);
static VOCAB(v_ta_role, "threat-actor-role-ov", t_ta_role);
static VOCAB(v_ta_soph, "threat-actor-sophistication-ov", t_ta_soph);
static VOCAB(v_tool_type, "tool-type-ov", t_tool_type);
static VOCAB(v_enc_algo, "encryption-algorithm-enum", t_enc_algo);
VOCAB(stix_vocab_ext_type, "extension-type-enum", t_ext_type);
static VOCAB(v_af, "network-socket-address-family-enum", t_af);
static VOCAB(v_socktype, "network-socket-type-enum", t_socktype);
static VOCAB(v_integrity, "windows-integrity-level-enum", t_integrity);
static VOCAB(v_pe_type, "windows-pebinary-type-ov", t_pe_type);
static VOCAB(v_reg_type, "windows-registry-datatype-enum", t_reg_type);
static VOCAB(v_svc_start, "windows-service-start-type-enum", t_svc_start);
static VOCAB(v_svc_type, "windows-service-type-enum", t_svc_type);
static VOCAB(v_svc_status, "windows-service-status-enum", t_svc_status);

static const char *t_tlp2[] = {"clear", "green", "amber", "amber+strict",
                               "red"};
static const char *t_rule_effect[] = {"permit", "deny"};
static VOCAB(v_tlp2, "TLP 2.0 level", t_tlp2);
static VOCAB(v_rule_effect, "ACS rule-effect-enum", t_rule_effect);

static const struct stix_vocab *const all_vocabs[] = {&v_account_type,
                                                      &v_motivation,
                                                      &v_resource_level,
                                                      &v_grouping_context,
                                                      &stix_vocab_hash_algo,
                                                      &v_identity_class,
                                                      &v_impl_lang,
                                                      &v_indicator_type,
                                                      &v_industry,
                                                      &v_infra_type,
                                                      &v_malware_result,
                                                      &v_malware_cap,
                                                      &v_malware_type,
                                                      &v_opinion,
                                                      &stix_vocab_pattern_type,
                                                      &v_proc_arch,
                                                      &v_region,
                                                      &v_report_type,
                                                      &v_ta_type,
                                                      &v_ta_role,
                                                      &v_ta_soph,
                                                      &v_tool_type,
                                                      &v_enc_algo,
                                                      &stix_vocab_ext_type,
                                                      &v_af,
                                                      &v_socktype,
                                                      &v_integrity,
                                                      &v_pe_type,
                                                      &v_reg_type,
                                                      &v_svc_start,
                                                      &v_svc_type,
                                                      &v_svc_status,
                                                      &v_tlp2,
                                                      &v_rule_effect};

/* ---- reference rules ----------------------------------------------------- */

const struct stix_refrule stix_ref_identity = {0, {"identity"}, "an identity"};
const struct stix_refrule stix_ref_marking = {
    0, {"marking-definition"}, "a marking-definition"};
static const struct stix_refrule r_sdo = {RK_SDO | RK_CUSTOM, {NULL}, "an SDO"};
static const struct stix_refrule r_sco = {RK_SCO | RK_CUSTOM, {NULL}, "an SCO"};
static const struct stix_refrule r_sco_sro = {
    RK_SCO | RK_SRO | RK_CUSTOM, {NULL}, "an SCO or an SRO"};
static const struct stix_refrule r_rel_end = {
    RK_SDO | RK_SCO | RK_CUSTOM, {NULL}, "an SDO or an SCO"};
static const struct stix_refrule r_where = {
    0, {"identity", "location"}, "an identity or a location"};
static const struct stix_refrule r_obsdata = {
    0, {"observed-data"}, "an observed-data"};
static const struct stix_refrule r_software = {0, {"software"}, "a software"};
static const struct stix_refrule r_sample = {
    0, {"file", "artifact"}, "a file or an artifact"};
static const struct stix_refrule r_ma_sample = {
    0,
    {"file", "artifact", "network-traffic"},
    "a file, an artifact or a network-traffic"};
static const struct stix_refrule r_addr = {
    0,
    {"ipv4-addr", "ipv6-addr", "domain-name"},
    "an ipv4-addr, an ipv6-addr or a domain-name"};
static const struct stix_refrule r_net_end = {
    0,
    {"ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"},
    "an ipv4-addr, an ipv6-addr, a mac-addr or a domain-name"};
static const struct stix_refrule r_mac = {0, {"mac-addr"}, "a mac-addr"};
static const struct stix_refrule r_as = {
    0, {"autonomous-system"}, "an autonomous-system"};
static const struct stix_refrule r_user = {
    0, {"user-account"}, "a user-account"};
static const struct stix_refrule r_email = {0, {"email-addr"}, "an email-addr"};
static const struct stix_refrule r_artifact = {0, {"artifact"}, "an artifact"};
static const struct stix_refrule r_art_file = {
    0, {"artifact", "file"}, "an artifact or a file"};
static const struct stix_refrule r_dir = {0, {"directory"}, "a directory"};
static const struct stix_refrule r_file = {0, {"file"}, "a file"};
static const struct stix_refrule r_file_dir = {
    0, {"file", "directory"}, "a file or a directory"};
static const struct stix_refrule r_traffic = {
    0, {"network-traffic"}, "a network-traffic"};
static const struct stix_refrule r_process = {0, {"process"}, "a process"};

/* ---- sub-objects ----------------------------------------------------------
 */

static struct stix_pdef p_extref[] = {
    PQ("source_name", PK_STR), P("description", PK_STR), P("url", PK_URL),
    P("hashes", PK_HASHES), P("external_id", PK_STR)};
static struct stix_pdef p_kcp[] = {PQ("kill_chain_name", PK_STR),
                                   PQ("phase_name", PK_STR)};
static struct stix_pdef p_granular[] = {
    PQ("selectors", PK_STRS), P("lang", PK_LANG),
    PA("marking_ref", PK_REF, 0, &stix_ref_marking)};
static struct stix_pdef p_mime_part[] = {
    P("body", PK_STR), PA("body_raw_ref", PK_REF, 0, &r_art_file),
    P("content_type", PK_STR), P("content_disposition", PK_STR)};
static struct stix_pdef p_reg_value[] = {
    P("name", PK_STR), P("data", PK_STR),
    PA("data_type", PK_ENUM, 0, &v_reg_type)};
static struct stix_pdef p_x509_ext[] = {
    P("basic_constraints", PK_STR),
    P("name_constraints", PK_STR),
    P("policy_constraints", PK_STR),
    P("key_usage", PK_STR),
    P("extended_key_usage", PK_STR),
    P("subject_key_identifier", PK_STR),
    P("authority_key_identifier", PK_STR),
    P("subject_alternative_name", PK_STR),
    P("issuer_alternative_name", PK_STR),
    P("subject_directory_attributes", PK_STR),
    P("crl_distribution_points", PK_STR),
    P("inhibit_any_policy", PK_STR),
    P("private_key_usage_period_not_before", PK_TS),
    P("private_key_usage_period_not_after", PK_TS),
    P("certificate_policies", PK_STR),
    P("policy_mappings", PK_STR)};
static struct stix_pdef p_ads[] = {PQ("name", PK_STR), P("hashes", PK_HASHES),
                                   PR("size", PK_INT, 0, 0, 9e18)};
static struct stix_pdef p_pe_opt[] = {
    P("magic_hex", PK_HEX),
    PR("major_linker_version", PK_INT, 0, 0, 9e18),
    PR("minor_linker_version", PK_INT, 0, 0, 9e18),
    PR("size_of_code", PK_INT, 0, 0, 9e18),
    PR("size_of_initialized_data", PK_INT, 0, 0, 9e18),
    PR("size_of_uninitialized_data", PK_INT, 0, 0, 9e18),
    PR("address_of_entry_point", PK_INT, 0, 0, 9e18),
    PR("base_of_code", PK_INT, 0, 0, 9e18),
    PR("base_of_data", PK_INT, 0, 0, 9e18),
    PR("image_base", PK_INT, 0, 0, 9e18),
    PR("section_alignment", PK_INT, 0, 0, 9e18),
    PR("file_alignment", PK_INT, 0, 0, 9e18),
    PR("major_os_version", PK_INT, 0, 0, 9e18),
    PR("minor_os_version", PK_INT, 0, 0, 9e18),
    PR("major_image_version", PK_INT, 0, 0, 9e18),
    PR("minor_image_version", PK_INT, 0, 0, 9e18),
    PR("major_subsystem_version", PK_INT, 0, 0, 9e18),
    PR("minor_subsystem_version", PK_INT, 0, 0, 9e18),
    P("win32_version_value_hex", PK_HEX),
    PR("size_of_image", PK_INT, 0, 0, 9e18),
    PR("size_of_headers", PK_INT, 0, 0, 9e18),
    P("checksum_hex", PK_HEX),
    P("subsystem_hex", PK_HEX),
    P("dll_characteristics_hex", PK_HEX),
    PR("size_of_stack_reserve", PK_INT, 0, 0, 9e18),
    PR("size_of_stack_commit", PK_INT, 0, 0, 9e18),
    PR("size_of_heap_reserve", PK_INT, 0, 0, 9e18),
    PR("size_of_heap_commit", PK_INT, 0, 0, 9e18),
    P("loader_flags_hex", PK_HEX),
    PR("number_of_rva_and_sizes", PK_INT, 0, 0, 9e18),
    P("hashes", PK_HASHES)};
static struct stix_pdef p_pe_section[] = {
    PQ("name", PK_STR), PR("size", PK_INT, 0, 0, 9e18),
    PR("entropy", PK_NUM, 0, 0, 8), P("hashes", PK_HASHES)};

static struct stix_schema s_extref = {
    "external-reference", 0, p_extref, N(p_extref), NULL, 0, NULL, 0, {0}};
static struct stix_schema s_kcp = {
    "kill-chain-phase", 0, p_kcp, N(p_kcp), NULL, 0, NULL, 0, {0}};
static struct stix_schema s_granular = {
    "granular-marking", 0, p_granular, N(p_granular), NULL, 0, NULL, 0, {0}};
static struct stix_schema s_mime_part = {
    "mime-part-type", 0, p_mime_part, N(p_mime_part), NULL, 0, NULL, 0, {0}};
static struct stix_schema s_reg_value = {"windows-registry-value-type",
                                         0,
                                         p_reg_value,
                                         N(p_reg_value),
                                         NULL,
                                         0,
                                         NULL,
                                         0,
                                         {0}};
static struct stix_schema s_x509_ext = {"x509-v3-extensions-type",
                                        0,
                                        p_x509_ext,
                                        N(p_x509_ext),
                                        NULL,
                                        0,
                                        NULL,
                                        0,
                                        {0}};
static struct stix_schema s_ads = {
    "alternate-data-stream-type", 0, p_ads, N(p_ads), NULL, 0, NULL, 0, {0}};
static struct stix_schema s_pe_opt = {"windows-pe-optional-header-type",
                                      0,
                                      p_pe_opt,
                                      N(p_pe_opt),
                                      NULL,
                                      0,
                                      NULL,
                                      0,
                                      {0}};
static struct stix_schema s_pe_section = {"windows-pe-section-type",
                                          0,
                                          p_pe_section,
                                          N(p_pe_section),
                                          NULL,
                                          0,
                                          NULL,
                                          0,
                                          {0}};

/* ---- marking extensions: TLP 2.0 and ISA/ACS 3.0 ------------------------- */

static struct stix_pdef p_tlp2[] = {
    PA("extension_type", PK_ENUM, 0, &stix_vocab_ext_type),
    PA("tlp_2_0", PK_ENUM, F_REQ, &v_tlp2)};
static struct stix_pdef p_acs_ctrl[] = {
    PQ("classification", PK_STR),
    P("sci_controls", PK_STRS),
    P("logical_authority_category", PK_STRS),
    P("formal_determination", PK_STRS),
    P("sensitivity", PK_STRS),
    P("shareability", PK_STRS)};
static struct stix_pdef p_acs_scope[] = {P("permitted_nationalities", PK_STRS),
                                         P("permitted_organizations", PK_STRS),
                                         P("shareability", PK_STRS),
                                         P("entity", PK_STRS)};
static struct stix_schema s_acs_scope; /* defined below */
static struct stix_pdef p_acs_priv[] = {
    PQ("privilege_action", PK_STR),
    PA("privilege_scope", PK_OBJ, F_REQ, &s_acs_scope),
    PA("rule_effect", PK_ENUM, F_REQ, &v_rule_effect)};
static struct stix_pdef p_acs_share[] = {
    PQ("sharing_scope", PK_ANY),
    PA("rule_effect", PK_ENUM, F_REQ, &v_rule_effect)};
static struct stix_pdef p_acs_pubrel[] = {P("released_by", PK_STR),
                                          P("released_on", PK_TS)};
static struct stix_pdef p_acs_origcls[] = {
    PQ("classified_by", PK_STR), P("classified_on", PK_TS),
    P("classification_reason", PK_STR), P("compilation_reason", PK_STR)};
static struct stix_pdef p_acs_derivcls[] = {PQ("classified_by", PK_STR),
                                            P("classified_on", PK_TS),
                                            PQ("derived_from", PK_STR)};
static struct stix_pdef p_acs_declass[] = {
    P("declass_exemption", PK_STR), P("declass_period", PK_INT),
    P("declass_date", PK_TS), P("declass_event", PK_STR)};
static struct stix_pdef p_acs_disp[] = {PQ("disposition_date", PK_TS),
                                        PQ("disposition_process", PK_STR)};
static struct stix_schema s_tlp2 = {"TLP 2.0", 0,    p_tlp2, N(p_tlp2), NULL,
                                    0,         NULL, 0,      {0}};
static struct stix_schema s_acs_ctrl = {
    "control-set", 0, p_acs_ctrl, N(p_acs_ctrl), NULL, 0, NULL, 0, {0}};
static struct stix_schema s_acs_scope = {
    "privilege-scope", 0, p_acs_scope, N(p_acs_scope), NULL, 0, NULL, 0, {0}};
static struct stix_schema s_acs_priv = {
    "access-privilege", 0, p_acs_priv, N(p_acs_priv), NULL, 0, NULL, 0, {0}};
static struct stix_schema s_acs_share = {
    "further-sharing", 0, p_acs_share, N(p_acs_share), NULL, 0, NULL, 0, {0}};
static struct stix_schema s_acs_pubrel = {
    "public-release", 0, p_acs_pubrel, N(p_acs_pubrel), NULL, 0, NULL, 0, {0}};
static struct stix_schema s_acs_origcls = {"original-classification",
                                           0,
                                           p_acs_origcls,
                                           N(p_acs_origcls),
                                           NULL,
                                           0,
                                           NULL,
                                           0,
                                           {0}};
static struct stix_schema s_acs_derivcls = {"derivative-classification",
                                            0,
                                            p_acs_derivcls,
                                            N(p_acs_derivcls),
                                            NULL,
                                            0,
                                            NULL,
                                            0,
                                            {0}};
static struct stix_schema s_acs_declass = {"declassification",
                                           0,
                                           p_acs_declass,
                                           N(p_acs_declass),
                                           NULL,
                                           0,
                                           NULL,
                                           0,
                                           {0}};
static struct stix_schema s_acs_disp = {"resource-disposition",
                                        0,
                                        p_acs_disp,
                                        N(p_acs_disp),
                                        NULL,
                                        0,
                                        NULL,
                                        0,
                                        {0}};
static struct stix_pdef p_acs[] = {
    PA("extension_type", PK_ENUM, 0, &stix_vocab_ext_type),
    PQ("identifier", PK_STR),
    P("name", PK_STR),
    PQ("create_date_time", PK_TS),
    PQ("responsible_entity_custodian", PK_STR),
    P("responsible_entity_originator", PK_STR),
    P("authority_reference", PK_STRS),
    PQ("policy_reference", PK_STR),
    PA("original_classification", PK_OBJ, 0, &s_acs_origcls),
    PA("derivative_classification", PK_OBJ, 0, &s_acs_derivcls),
    PA("declassification", PK_OBJ, 0, &s_acs_declass),
    PA("resource_disposition", PK_OBJ, 0, &s_acs_disp),
    PA("public_release", PK_OBJ, 0, &s_acs_pubrel),
    PA("access_privilege", PK_OBJS, 0, &s_acs_priv),
    PA("further_sharing", PK_OBJS, 0, &s_acs_share),
    PA("control_set", PK_OBJ, F_REQ, &s_acs_ctrl)};
static struct stix_schema s_acs = {"ISA/ACS 3.0", 0, p_acs, N(p_acs), NULL, 0,
                                   NULL,          0, {0}};

const struct stix_schema *stix_schema_tlp2(void)
{
    return &s_tlp2;
}
const struct stix_schema *stix_schema_acs(void)
{
    return &s_acs;
}

/* ---- common properties (§3.2; §6.1 for SCOs) ----------------------------- */

static struct stix_pdef p_common_sdo[] = {
    PQ("type", PK_TYPE),
    PQ("spec_version", PK_SPECVER),
    PQ("id", PK_ID),
    PA("created_by_ref", PK_REF, 0, &stix_ref_identity),
    PF("created", PK_TS, F_REQ | F_MS),
    PF("modified", PK_TS, F_REQ | F_MS),
    P("revoked", PK_BOOL),
    P("labels", PK_STRS),
    PR("confidence", PK_INT, 0, 0, 100),
    P("lang", PK_LANG),
    P("external_references", PK_EXTREFS),
    PA("object_marking_refs", PK_REFS, 0, &stix_ref_marking),
    P("granular_markings", PK_GRANULAR),
    P("extensions", PK_EXTS)};
static struct stix_pdef p_common_sco[] = {
    PQ("type", PK_TYPE),
    P("spec_version", PK_SPECVER),
    PQ("id", PK_ID),
    PA("object_marking_refs", PK_REFS, 0, &stix_ref_marking),
    P("granular_markings", PK_GRANULAR),
    P("defanged", PK_BOOL),
    P("extensions", PK_EXTS)};
static struct stix_schema s_common_sdo = {
    "common", 0, p_common_sdo, N(p_common_sdo), NULL, 0, NULL, 0, {0}};
static struct stix_schema s_common_sco = {
    "common", 0, p_common_sco, N(p_common_sco), NULL, 0, NULL, 0, {0}};

/* ---- per-type rules live in checks.c ------------------------------------- */
void stix_chk_seen(struct stix_vctx *c, const json_t *o);
void stix_chk_indicator(struct stix_vctx *c, const json_t *o);
void stix_chk_location(struct stix_vctx *c, const json_t *o);
void stix_chk_malware(struct stix_vctx *c, const json_t *o);
void stix_chk_malware_analysis(struct stix_vctx *c, const json_t *o);
void stix_chk_observed_data(struct stix_vctx *c, const json_t *o);
void stix_chk_relationship(struct stix_vctx *c, const json_t *o);
void stix_chk_sighting(struct stix_vctx *c, const json_t *o);
void stix_chk_marking(struct stix_vctx *c, const json_t *o);
void stix_chk_language_content(struct stix_vctx *c, const json_t *o);
void stix_chk_extension_definition(struct stix_vctx *c, const json_t *o);
void stix_chk_artifact(struct stix_vctx *c, const json_t *o);
void stix_chk_email_message(struct stix_vctx *c, const json_t *o);
void stix_chk_mime_part(struct stix_vctx *c, const json_t *o);
void stix_chk_file(struct stix_vctx *c, const json_t *o);
void stix_chk_ip(struct stix_vctx *c, const json_t *o);
void stix_chk_mac(struct stix_vctx *c, const json_t *o);
void stix_chk_traffic(struct stix_vctx *c, const json_t *o);
void stix_chk_process(struct stix_vctx *c, const json_t *o);
void stix_chk_x509(struct stix_vctx *c, const json_t *o);

/* ---- SDOs (§4) ------------------------------------------------------------
 */

static struct stix_pdef p_attack_pattern[] = {
    PQ("name", PK_STR), P("description", PK_STR), P("aliases", PK_STRS),
    P("kill_chain_phases", PK_KCP)};
static struct stix_pdef p_campaign[] = {
    PQ("name", PK_STR),     P("description", PK_STR), P("aliases", PK_STRS),
    P("first_seen", PK_TS), P("last_seen", PK_TS),    P("objective", PK_STR)};
static struct stix_pdef p_coa[] = {PQ("name", PK_STR),
                                   P("description", PK_STR),
                                   PF("action", PK_ANY, F_RESERVED),
                                   PF("action_type", PK_ANY, F_RESERVED),
                                   PF("os_execution_envs", PK_ANY, F_RESERVED),
                                   PF("action_bin", PK_ANY, F_RESERVED),
                                   PF("action_reference", PK_ANY, F_RESERVED)};
static struct stix_pdef p_grouping[] = {
    P("name", PK_STR), P("description", PK_STR),
    PA("context", PK_OV, F_REQ, &v_grouping_context),
    PA("object_refs", PK_REFS, F_REQ, NULL)};
static struct stix_pdef p_identity[] = {
    PQ("name", PK_STR),
    P("description", PK_STR),
    P("roles", PK_STRS),
    PA("identity_class", PK_OV, 0, &v_identity_class),
    PA("sectors", PK_OVS, 0, &v_industry),
    P("contact_information", PK_STR)};
static struct stix_pdef p_incident[] = {PQ("name", PK_STR),
                                        P("description", PK_STR),
                                        P("kill_chain_phases", PK_KCP)};
static struct stix_pdef p_indicator[] = {
    P("name", PK_STR),
    P("description", PK_STR),
    PA("indicator_types", PK_OVS, 0, &v_indicator_type),
    PQ("pattern", PK_STR),
    PA("pattern_type", PK_OV, F_REQ, &stix_vocab_pattern_type),
    P("pattern_version", PK_STR),
    PQ("valid_from", PK_TS),
    P("valid_until", PK_TS),
    P("kill_chain_phases", PK_KCP)};
static struct stix_pdef p_infrastructure[] = {
    PQ("name", PK_STR),
    P("description", PK_STR),
    PA("infrastructure_types", PK_OVS, 0, &v_infra_type),
    P("aliases", PK_STRS),
    P("kill_chain_phases", PK_KCP),
    P("first_seen", PK_TS),
    P("last_seen", PK_TS)};
static struct stix_pdef p_intrusion_set[] = {
    PQ("name", PK_STR),
    P("description", PK_STR),
    P("aliases", PK_STRS),
    P("first_seen", PK_TS),
    P("last_seen", PK_TS),
    P("goals", PK_STRS),
    PA("resource_level", PK_OV, 0, &v_resource_level),
    PA("primary_motivation", PK_OV, 0, &v_motivation),
    PA("secondary_motivations", PK_OVS, 0, &v_motivation)};
static struct stix_pdef p_location[] = {P("name", PK_STR),
                                        P("description", PK_STR),
                                        PR("latitude", PK_NUM, 0, -90, 90),
                                        PR("longitude", PK_NUM, 0, -180, 180),
                                        PR("precision", PK_NUM, 0, 0, 1e300),
                                        PA("region", PK_OV, 0, &v_region),
                                        P("country", PK_STR),
                                        P("administrative_area", PK_STR),
                                        P("city", PK_STR),
                                        P("street_address", PK_STR),
                                        P("postal_code", PK_STR)};
static struct stix_pdef p_malware[] = {
    P("name", PK_STR),
    P("description", PK_STR),
    PA("malware_types", PK_OVS, 0, &v_malware_type),
    PQ("is_family", PK_BOOL),
    P("aliases", PK_STRS),
    P("kill_chain_phases", PK_KCP),
    P("first_seen", PK_TS),
    P("last_seen", PK_TS),
    PA("operating_system_refs", PK_REFS, 0, &r_software),
    PA("architecture_execution_envs", PK_OVS, 0, &v_proc_arch),
    PA("implementation_languages", PK_OVS, 0, &v_impl_lang),
    PA("capabilities", PK_OVS, 0, &v_malware_cap),
    PA("sample_refs", PK_REFS, 0, &r_sample)};
static struct stix_pdef p_malware_analysis[] = {
    PQ("product", PK_STR),
    P("version", PK_STR),
    PA("host_vm_ref", PK_REF, 0, &r_software),
    PA("operating_system_ref", PK_REF, 0, &r_software),
    PA("installed_software_refs", PK_REFS, 0, &r_software),
    P("configuration_version", PK_STR),
    P("modules", PK_STRS),
    P("analysis_engine_version", PK_STR),
    P("analysis_definition_version", PK_STR),
    P("submitted", PK_TS),
    P("analysis_started", PK_TS),
    P("analysis_ended", PK_TS),
    P("result_name", PK_STR),
    PA("result", PK_OV, 0, &v_malware_result),
    PA("analysis_sco_refs", PK_REFS, 0, &r_sco),
    PA("sample_ref", PK_REF, 0, &r_ma_sample)};
static struct stix_pdef p_note[] = {
    P("abstract", PK_STR), PQ("content", PK_STR), P("authors", PK_STRS),
    PA("object_refs", PK_REFS, F_REQ, NULL)};
static struct stix_pdef p_observed_data[] = {
    PQ("first_observed", PK_TS), PQ("last_observed", PK_TS),
    PR("number_observed", PK_INT, F_REQ, 1, 999999999),
    PF("objects", PK_DICT, F_DEPRECATED),
    PA("object_refs", PK_REFS, 0, &r_sco_sro)};
static struct stix_pdef p_opinion[] = {
    P("explanation", PK_STR), P("authors", PK_STRS),
    PA("opinion", PK_ENUM, F_REQ, &v_opinion),
    PA("object_refs", PK_REFS, F_REQ, NULL)};
static struct stix_pdef p_report[] = {
    PQ("name", PK_STR), P("description", PK_STR),
    PA("report_types", PK_OVS, 0, &v_report_type), PQ("published", PK_TS),
    PA("object_refs", PK_REFS, F_REQ, NULL)};
static struct stix_pdef p_threat_actor[] = {
    PQ("name", PK_STR),
    P("description", PK_STR),
    PA("threat_actor_types", PK_OVS, 0, &v_ta_type),
    P("aliases", PK_STRS),
    P("first_seen", PK_TS),
    P("last_seen", PK_TS),
    PA("roles", PK_OVS, 0, &v_ta_role),
    P("goals", PK_STRS),
    PA("sophistication", PK_OV, 0, &v_ta_soph),
    PA("resource_level", PK_OV, 0, &v_resource_level),
    PA("primary_motivation", PK_OV, 0, &v_motivation),
    PA("secondary_motivations", PK_OVS, 0, &v_motivation),
    PA("personal_motivations", PK_OVS, 0, &v_motivation)};
static struct stix_pdef p_tool[] = {PQ("name", PK_STR),
                                    P("description", PK_STR),
                                    PA("tool_types", PK_OVS, 0, &v_tool_type),
                                    P("aliases", PK_STRS),
                                    P("kill_chain_phases", PK_KCP),
                                    P("tool_version", PK_STR)};
static struct stix_pdef p_vulnerability[] = {PQ("name", PK_STR),
                                             P("description", PK_STR)};

/* ---- SROs (§5) ------------------------------------------------------------
 */

static struct stix_pdef p_relationship[] = {
    PQ("relationship_type", PK_STR),
    P("description", PK_STR),
    PA("source_ref", PK_REF, F_REQ, &r_rel_end),
    PA("target_ref", PK_REF, F_REQ, &r_rel_end),
    P("start_time", PK_TS),
    P("stop_time", PK_TS)};
static struct stix_pdef p_sighting[] = {
    P("description", PK_STR),
    P("first_seen", PK_TS),
    P("last_seen", PK_TS),
    PR("count", PK_INT, 0, 0, 999999999),
    PA("sighting_of_ref", PK_REF, F_REQ, &r_sdo),
    PA("observed_data_refs", PK_REFS, 0, &r_obsdata),
    PA("where_sighted_refs", PK_REFS, 0, &r_where),
    P("summary", PK_BOOL)};

/* ---- meta objects (§7) ----------------------------------------------------
 */

static struct stix_pdef p_marking[] = {
    PQ("type", PK_TYPE),
    PQ("spec_version", PK_SPECVER),
    PQ("id", PK_ID),
    PA("created_by_ref", PK_REF, 0, &stix_ref_identity),
    PF("created", PK_TS, F_REQ | F_MS),
    P("external_references", PK_EXTREFS),
    PA("object_marking_refs", PK_REFS, 0, &stix_ref_marking),
    P("granular_markings", PK_GRANULAR),
    P("extensions", PK_EXTS),
    P("name", PK_STR),
    P("definition_type", PK_STR),
    P("definition", PK_DICT)};
static struct stix_pdef p_language_content[] = {
    PA("object_ref", PK_REF, F_REQ, NULL), P("object_modified", PK_TS),
    PQ("contents", PK_DICT)};
static struct stix_pdef p_extension_definition[] = {
    PQ("name", PK_STR),
    P("description", PK_STR),
    PQ("schema", PK_STR),
    PQ("version", PK_STR),
    PA("extension_types", PK_ENUMS, F_REQ, &stix_vocab_ext_type),
    P("extension_properties", PK_STRS)};

/* ---- SCOs (§6) ------------------------------------------------------------
 */

static struct stix_pdef p_artifact[] = {
    P("mime_type", PK_STR),
    PF("payload_bin", PK_BIN, F_IDC),
    P("url", PK_URL),
    PF("hashes", PK_HASHES, F_IDC),
    PA("encryption_algorithm", PK_ENUM, 0, &v_enc_algo),
    P("decryption_key", PK_STR)};
static struct stix_pdef p_as[] = {
    PR("number", PK_INT, F_REQ | F_IDC, 0, 4294967295.0), P("name", PK_STR),
    P("rir", PK_STR)};
static struct stix_pdef p_directory[] = {
    PF("path", PK_STR, F_REQ | F_IDC),
    P("path_enc", PK_STR),
    P("ctime", PK_TS),
    P("mtime", PK_TS),
    P("atime", PK_TS),
    PA("contains_refs", PK_REFS, 0, &r_file_dir)};
static struct stix_pdef p_domain[] = {
    PF("value", PK_STR, F_REQ | F_IDC),
    PA("resolves_to_refs", PK_REFS, 0, &r_addr)};
static struct stix_pdef p_email_addr[] = {
    PF("value", PK_STR, F_REQ | F_IDC), P("display_name", PK_STR),
    PA("belongs_to_ref", PK_REF, 0, &r_user)};
static struct stix_pdef p_email_msg[] = {
    PQ("is_multipart", PK_BOOL),
    P("date", PK_TS),
    P("content_type", PK_STR),
    PA("from_ref", PK_REF, F_IDC, &r_email),
    PA("sender_ref", PK_REF, 0, &r_email),
    PA("to_refs", PK_REFS, 0, &r_email),
    PA("cc_refs", PK_REFS, 0, &r_email),
    PA("bcc_refs", PK_REFS, 0, &r_email),
    P("message_id", PK_STR),
    PF("subject", PK_STR, F_IDC),
    P("received_lines", PK_STRS),
    P("additional_header_fields", PK_DICT),
    PF("body", PK_STR, F_IDC),
    PA("body_multipart", PK_OBJS, 0, &s_mime_part),
    PA("raw_email_ref", PK_REF, 0, &r_artifact)};
static struct stix_pdef p_file[] = {
    PF("hashes", PK_HASHES, F_IDC),
    PR("size", PK_INT, 0, 0, 9.2e18),
    PF("name", PK_STR, F_IDC),
    P("name_enc", PK_STR),
    P("magic_number_hex", PK_HEX),
    P("mime_type", PK_STR),
    P("ctime", PK_TS),
    P("mtime", PK_TS),
    P("atime", PK_TS),
    PA("parent_directory_ref", PK_REF, F_IDC, &r_dir),
    PA("contains_refs", PK_REFS, 0, &r_sco),
    PA("content_ref", PK_REF, 0, &r_artifact)};
static struct stix_pdef p_ipv4[] = {PF("value", PK_STR, F_REQ | F_IDC),
                                    PA("resolves_to_refs", PK_REFS, 0, &r_mac),
                                    PA("belongs_to_refs", PK_REFS, 0, &r_as)};
static struct stix_pdef p_ipv6[] = {PF("value", PK_STR, F_REQ | F_IDC),
                                    PA("resolves_to_refs", PK_REFS, 0, &r_mac),
                                    PA("belongs_to_refs", PK_REFS, 0, &r_as)};
static struct stix_pdef p_mac[] = {PF("value", PK_STR, F_REQ | F_IDC)};
static struct stix_pdef p_mutex[] = {PF("name", PK_STR, F_REQ | F_IDC)};
static struct stix_pdef p_traffic[] = {
    PF("start", PK_TS, F_IDC),
    PF("end", PK_TS, F_IDC),
    P("is_active", PK_BOOL),
    PA("src_ref", PK_REF, F_IDC, &r_net_end),
    PA("dst_ref", PK_REF, F_IDC, &r_net_end),
    PR("src_port", PK_INT, F_IDC, 0, 65535),
    PR("dst_port", PK_INT, F_IDC, 0, 65535),
    PF("protocols", PK_STRS, F_REQ | F_IDC),
    PR("src_byte_count", PK_INT, 0, 0, 9.2e18),
    PR("dst_byte_count", PK_INT, 0, 0, 9.2e18),
    PR("src_packets", PK_INT, 0, 0, 9.2e18),
    PR("dst_packets", PK_INT, 0, 0, 9.2e18),
    P("ipfix", PK_DICT),
    PA("src_payload_ref", PK_REF, 0, &r_artifact),
    PA("dst_payload_ref", PK_REF, 0, &r_artifact),
    PA("encapsulates_refs", PK_REFS, 0, &r_traffic),
    PA("encapsulated_by_ref", PK_REF, 0, &r_traffic)};
static struct stix_pdef p_process[] = {
    P("is_hidden", PK_BOOL),
    P("pid", PK_INT),
    P("created_time", PK_TS),
    P("cwd", PK_STR),
    P("command_line", PK_STR),
    P("environment_variables", PK_DICT),
    PA("opened_connection_refs", PK_REFS, 0, &r_traffic),
    PA("creator_user_ref", PK_REF, 0, &r_user),
    PA("image_ref", PK_REF, 0, &r_file),
    PA("parent_ref", PK_REF, 0, &r_process),
    PA("child_refs", PK_REFS, 0, &r_process)};
static struct stix_pdef p_software[] = {
    PF("name", PK_STR, F_REQ | F_IDC), PF("cpe", PK_STR, F_IDC),
    PF("swid", PK_STR, F_IDC),         P("languages", PK_STRS),
    PF("vendor", PK_STR, F_IDC),       PF("version", PK_STR, F_IDC)};
static struct stix_pdef p_url[] = {PF("value", PK_STR, F_REQ | F_IDC)};
static struct stix_pdef p_user[] = {
    PF("user_id", PK_STR, F_IDC),
    P("credential", PK_STR),
    PF("account_login", PK_STR, F_IDC),
    PA("account_type", PK_OV, F_IDC, &v_account_type),
    P("display_name", PK_STR),
    P("is_service_account", PK_BOOL),
    P("is_privileged", PK_BOOL),
    P("can_escalate_privs", PK_BOOL),
    P("is_disabled", PK_BOOL),
    P("account_created", PK_TS),
    P("account_expires", PK_TS),
    P("credential_last_changed", PK_TS),
    P("account_first_login", PK_TS),
    P("account_last_login", PK_TS)};
static struct stix_pdef p_regkey[] = {
    PF("key", PK_STR, F_IDC), PA("values", PK_OBJS, F_IDC, &s_reg_value),
    P("modified_time", PK_TS), PA("creator_user_ref", PK_REF, 0, &r_user),
    PR("number_of_subkeys", PK_INT, 0, 0, 9.2e18)};
static struct stix_pdef p_x509[] = {
    P("is_self_signed", PK_BOOL),
    PF("hashes", PK_HASHES, F_IDC),
    P("version", PK_STR),
    PF("serial_number", PK_STR, F_IDC),
    P("signature_algorithm", PK_STR),
    P("issuer", PK_STR),
    P("validity_not_before", PK_TS),
    P("validity_not_after", PK_TS),
    P("subject", PK_STR),
    P("subject_public_key_algorithm", PK_STR),
    P("subject_public_key_modulus", PK_STR),
    P("subject_public_key_exponent", PK_INT),
    PA("x509_v3_extensions", PK_OBJ, 0, &s_x509_ext)};

/* ---- predefined SCO extensions (§6) -------------------------------------- */

static struct stix_pdef p_archive_ext[] = {
    PA("contains_refs", PK_REFS, F_REQ, &r_file_dir), P("comment", PK_STR)};
static struct stix_pdef p_ntfs_ext[] = {
    P("sid", PK_STR), PA("alternate_data_streams", PK_OBJS, 0, &s_ads)};
static struct stix_pdef p_pdf_ext[] = {
    P("version", PK_STR), P("is_optimized", PK_BOOL),
    P("document_info_dict", PK_DICT), P("pdfid0", PK_STR), P("pdfid1", PK_STR)};
static struct stix_pdef p_raster_ext[] = {
    PR("image_height", PK_INT, 0, 0, 9.2e18),
    PR("image_width", PK_INT, 0, 0, 9.2e18),
    PR("bits_per_pixel", PK_INT, 0, 0, 9.2e18), P("exif_tags", PK_DICT)};
static struct stix_pdef p_pe_ext[] = {
    PA("pe_type", PK_OV, F_REQ, &v_pe_type),
    P("imphash", PK_STR),
    P("machine_hex", PK_HEX),
    PR("number_of_sections", PK_INT, 0, 0, 9.2e18),
    P("time_date_stamp", PK_TS),
    P("pointer_to_symbol_table_hex", PK_HEX),
    PR("number_of_symbols", PK_INT, 0, 0, 9.2e18),
    PR("size_of_optional_header", PK_INT, 0, 0, 9.2e18),
    P("characteristics_hex", PK_HEX),
    P("file_header_hashes", PK_HASHES),
    PA("optional_header", PK_OBJ, 0, &s_pe_opt),
    PA("sections", PK_OBJS, 0, &s_pe_section)};
static struct stix_pdef p_http_ext[] = {
    PQ("request_method", PK_STR),
    PQ("request_value", PK_STR),
    P("request_version", PK_STR),
    P("request_header", PK_DICT),
    PR("message_body_length", PK_INT, 0, 0, 9.2e18),
    PA("message_body_data_ref", PK_REF, 0, &r_artifact)};
static struct stix_pdef p_icmp_ext[] = {PQ("icmp_type_hex", PK_HEX),
                                        PQ("icmp_code_hex", PK_HEX)};
static struct stix_pdef p_socket_ext[] = {
    PA("address_family", PK_ENUM, F_REQ, &v_af),
    P("is_blocking", PK_BOOL),
    P("is_listening", PK_BOOL),
    P("options", PK_DICT),
    PA("socket_type", PK_ENUM, 0, &v_socktype),
    PR("socket_descriptor", PK_INT, 0, 0, 9.2e18),
    P("socket_handle", PK_INT)};
static struct stix_pdef p_tcp_ext[] = {P("src_flags_hex", PK_HEX),
                                       P("dst_flags_hex", PK_HEX)};
static struct stix_pdef p_unix_ext[] = {P("gid", PK_INT), P("groups", PK_STRS),
                                        P("home_dir", PK_STR),
                                        P("shell", PK_STR)};
static struct stix_pdef p_winproc_ext[] = {
    P("aslr_enabled", PK_BOOL),
    P("dep_enabled", PK_BOOL),
    P("priority", PK_STR),
    P("owner_sid", PK_STR),
    P("window_title", PK_STR),
    P("startup_info", PK_DICT),
    PA("integrity_level", PK_ENUM, 0, &v_integrity)};
static struct stix_pdef p_winsvc_ext[] = {
    P("service_name", PK_STR),
    P("descriptions", PK_STRS),
    P("display_name", PK_STR),
    P("group_name", PK_STR),
    PA("start_type", PK_ENUM, 0, &v_svc_start),
    PA("service_dll_refs", PK_REFS, 0, &r_file),
    PA("service_type", PK_ENUM, 0, &v_svc_type),
    PA("service_status", PK_ENUM, 0, &v_svc_status)};

#define T(name, kind, props, check)                                            \
    {                                                                          \
        name, kind, props, N(props), check, 0, NULL, 0,                        \
        {                                                                      \
            0                                                                  \
        }                                                                      \
    }
#define X(name, sco, props)                                                    \
    {                                                                          \
        name, 0, props, N(props), NULL, 0, sco, 0,                             \
        {                                                                      \
            0                                                                  \
        }                                                                      \
    }

static int cmp_schema_name(const void *a, const void *b)
{
    return strcmp(((const struct stix_schema *)a)->name,
                  ((const struct stix_schema *)b)->name);
}

/* Sorted by name at init. */
static struct stix_schema types[] = {
    T("attack-pattern", STIX_KIND_SDO, p_attack_pattern, NULL),
    T("campaign", STIX_KIND_SDO, p_campaign, stix_chk_seen),
    T("course-of-action", STIX_KIND_SDO, p_coa, NULL),
    T("grouping", STIX_KIND_SDO, p_grouping, NULL),
    T("identity", STIX_KIND_SDO, p_identity, NULL),
    T("incident", STIX_KIND_SDO, p_incident, NULL),
    T("indicator", STIX_KIND_SDO, p_indicator, stix_chk_indicator),
    T("infrastructure", STIX_KIND_SDO, p_infrastructure, stix_chk_seen),
    T("intrusion-set", STIX_KIND_SDO, p_intrusion_set, stix_chk_seen),
    T("location", STIX_KIND_SDO, p_location, stix_chk_location),
    T("malware", STIX_KIND_SDO, p_malware, stix_chk_malware),
    T("malware-analysis", STIX_KIND_SDO, p_malware_analysis,
      stix_chk_malware_analysis),
    T("note", STIX_KIND_SDO, p_note, NULL),
    T("observed-data", STIX_KIND_SDO, p_observed_data, stix_chk_observed_data),
    T("opinion", STIX_KIND_SDO, p_opinion, NULL),
    T("report", STIX_KIND_SDO, p_report, NULL),
    T("threat-actor", STIX_KIND_SDO, p_threat_actor, stix_chk_seen),
    T("tool", STIX_KIND_SDO, p_tool, NULL),
    T("vulnerability", STIX_KIND_SDO, p_vulnerability, NULL),
    T("relationship", STIX_KIND_SRO, p_relationship, stix_chk_relationship),
    T("sighting", STIX_KIND_SRO, p_sighting, stix_chk_sighting),
    T("marking-definition", STIX_KIND_META, p_marking, stix_chk_marking),
    T("language-content", STIX_KIND_META, p_language_content,
      stix_chk_language_content),
    T("extension-definition", STIX_KIND_META, p_extension_definition,
      stix_chk_extension_definition),
    T("artifact", STIX_KIND_SCO, p_artifact, stix_chk_artifact),
    T("autonomous-system", STIX_KIND_SCO, p_as, NULL),
    T("directory", STIX_KIND_SCO, p_directory, NULL),
    T("domain-name", STIX_KIND_SCO, p_domain, NULL),
    T("email-addr", STIX_KIND_SCO, p_email_addr, NULL),
    T("email-message", STIX_KIND_SCO, p_email_msg, stix_chk_email_message),
    T("file", STIX_KIND_SCO, p_file, stix_chk_file),
    T("ipv4-addr", STIX_KIND_SCO, p_ipv4, stix_chk_ip),
    T("ipv6-addr", STIX_KIND_SCO, p_ipv6, stix_chk_ip),
    T("mac-addr", STIX_KIND_SCO, p_mac, stix_chk_mac),
    T("mutex", STIX_KIND_SCO, p_mutex, NULL),
    T("network-traffic", STIX_KIND_SCO, p_traffic, stix_chk_traffic),
    T("process", STIX_KIND_SCO, p_process, stix_chk_process),
    T("software", STIX_KIND_SCO, p_software, NULL),
    T("url", STIX_KIND_SCO, p_url, NULL),
    T("user-account", STIX_KIND_SCO, p_user, NULL),
    T("windows-registry-key", STIX_KIND_SCO, p_regkey, NULL),
    T("x509-certificate", STIX_KIND_SCO, p_x509, stix_chk_x509),
};

static struct stix_schema exts[] = {
    X("archive-ext", "file", p_archive_ext),
    X("ntfs-ext", "file", p_ntfs_ext),
    X("pdf-ext", "file", p_pdf_ext),
    X("raster-image-ext", "file", p_raster_ext),
    X("windows-pebinary-ext", "file", p_pe_ext),
    X("http-request-ext", "network-traffic", p_http_ext),
    X("icmp-ext", "network-traffic", p_icmp_ext),
    X("socket-ext", "network-traffic", p_socket_ext),
    X("tcp-ext", "network-traffic", p_tcp_ext),
    X("unix-account-ext", "user-account", p_unix_ext),
    X("windows-process-ext", "process", p_winproc_ext),
    X("windows-service-ext", "process", p_winsvc_ext),
};

/* Every schema, so init can sort and compute masks in one loop. */
static struct stix_schema *const subs[] = {
    &s_extref,     &s_kcp,         &s_granular,     &s_mime_part,
    &s_reg_value,  &s_x509_ext,    &s_ads,          &s_pe_opt,
    &s_pe_section, &s_common_sdo,  &s_common_sco,   &s_tlp2,
    &s_acs_ctrl,   &s_acs_scope,   &s_acs_priv,     &s_acs_share,
    &s_acs_pubrel, &s_acs_origcls, &s_acs_derivcls, &s_acs_declass,
    &s_acs_disp,   &s_acs};

/* Reserved property names of STIX 2.1 (§3.2 and the 2.0 leftovers). */
static const char *reserved[] = {"severity",
                                 "action",
                                 "usernames",
                                 "phone_numbers",
                                 "addresses",
                                 "first_seen_precision",
                                 "last_seen_precision",
                                 "valid_from_precision",
                                 "valid_until_precision"};

/* ---- init and lookup ------------------------------------------------------
 *
 * Each object type's table gets the common properties of its kind merged in
 * (SDO/SRO/meta or SCO), so one lookup finds any property. Lookups hash the
 * name (name_hash) into a 128-slot open-addressing table per schema, built
 * once; types are found the same way without copying the name. */

#define MERGED_MAX 64

static struct stix_pdef merged[N(types)][MERGED_MAX];

/* Cheap hash of a name: its length and three of its characters. Names in
 * one table are few and distinct, probing resolves the rare collision. */
static uint32_t name_hash(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    return (uint32_t)n * 31u + (unsigned char)s[0] * 7u +
           (unsigned char)s[n - 1] * 13u + (unsigned char)s[n / 2] * 3u +
           (unsigned char)s[n > 4 ? 4 : 0];
}

static int cmp_pdef(const void *a, const void *b)
{
    return strcmp(((const struct stix_pdef *)a)->name,
                  ((const struct stix_pdef *)b)->name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void schema_prepare(struct stix_schema *s)
{
    size_t i;
    qsort(s->props, s->n, sizeof(s->props[0]), cmp_pdef);
    s->req_mask = 0;
    memset(s->slot, 0, sizeof(s->slot));
    for (i = 0; i < s->n && i < MERGED_MAX; i++) {
        const char *nm = s->props[i].name;
        uint32_t h = name_hash(nm, strlen(nm)) & (STIX_SLOTS - 1);
        if (s->props[i].flags & F_REQ)
            s->req_mask |= (uint64_t)1 << i;
        while (s->slot[h])
            h = (h + 1) & (STIX_SLOTS - 1);
        s->slot[h] = (uint8_t)(i + 1);
    }
}

static uint8_t type_slot[STIX_SLOTS];

void stix_tables_init(void)
{
    size_t i, j;
    for (i = 0; i < N(all_vocabs); i++)
        qsort((void *)all_vocabs[i]->terms, all_vocabs[i]->n,
              sizeof(const char *), cmp_str);
    for (i = 0; i < N(types); i++) {
        struct stix_schema *t = &types[i];
        const struct stix_schema *common =
            t->kind == STIX_KIND_SCO                ? &s_common_sco
            : strcmp(t->name, "marking-definition") ? &s_common_sdo
                                                    : NULL;
        size_t n = 0;
        for (j = 0; j < t->n && n < MERGED_MAX; j++)
            merged[i][n++] = t->props[j];
        for (j = 0; common && j < common->n && n < MERGED_MAX; j++)
            merged[i][n++] = common->props[j];
        t->props = merged[i];
        t->n = n;
        schema_prepare(t);
    }
    for (i = 0; i < N(exts); i++)
        schema_prepare(&exts[i]);
    for (i = 0; i < N(subs); i++)
        schema_prepare(subs[i]);
    qsort(exts, N(exts), sizeof(exts[0]), cmp_schema_name);
    qsort(reserved, N(reserved), sizeof(reserved[0]), cmp_str);
    for (i = 0; i < N(types); i++) {
        uint32_t h =
            name_hash(types[i].name, strlen(types[i].name)) & (STIX_SLOTS - 1);
        while (type_slot[h])
            h = (h + 1) & (STIX_SLOTS - 1);
        type_slot[h] = (uint8_t)(i + 1);
    }
}

const struct stix_schema *stix_schema_findn(const char *type, size_t n)
{
    uint32_t h = name_hash(type, n) & (STIX_SLOTS - 1);
    while (type_slot[h]) {
        const struct stix_schema *t = &types[type_slot[h] - 1];
        if (!strncmp(t->name, type, n) && t->name[n] == '\0')
            return t;
        h = (h + 1) & (STIX_SLOTS - 1);
    }
    return NULL;
}

const struct stix_schema *stix_schema_find(const char *type)
{
    return stix_schema_findn(type, strlen(type));
}

const struct stix_schema *stix_ext_find(const char *name)
{
    size_t lo = 0, hi = N(exts);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = strcmp(name, exts[mid].name);
        if (r == 0)
            return &exts[mid];
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct stix_schema *stix_common_sdo(void)
{
    return &s_common_sdo;
}
const struct stix_schema *stix_common_sco(void)
{
    return &s_common_sco;
}
const struct stix_schema *stix_schema_kcp(void)
{
    return &s_kcp;
}
const struct stix_schema *stix_schema_extref(void)
{
    return &s_extref;
}
const struct stix_schema *stix_schema_granular(void)
{
    return &s_granular;
}

const struct stix_pdef *stix_pdef_find(const struct stix_schema *s,
                                       const char *name, size_t *idx)
{
    uint32_t h = name_hash(name, strlen(name));
    h &= STIX_SLOTS - 1;
    while (s->slot[h]) {
        size_t i = (size_t)s->slot[h] - 1;
        const char *pn = s->props[i].name;
        if (pn[0] == name[0] && !strcmp(pn, name)) {
            if (idx)
                *idx = i;
            return &s->props[i];
        }
        h = (h + 1) & (STIX_SLOTS - 1);
    }
    return NULL;
}

int stix_vocab_has(const struct stix_vocab *v, const char *term)
{
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = strcmp(term, v->terms[mid]);
        if (r == 0)
            return 1;
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

int stix_reserved_name(const char *name)
{
    const char *key = name;
    return bsearch(&key, reserved, N(reserved), sizeof(reserved[0]), cmp_str) !=
           NULL;
}
