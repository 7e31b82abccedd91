/*
 * pub - conduit-pub's command line, turned into ingress maps.
 *
 * Each command is a table of flags; one generic pass checks the argument
 * vector against the table (unknown flags, missing values, numbers, the
 * closed sets of words such as task states) and a small builder per
 * command packs the map. Maps are packed directly with msgpack rather than
 * through cdt_ingress_encode because some commands carry fields the
 * decoder does not model (a webhook's error text is passed through); the
 * unit tests run every map back through cdt_ingress_parse so the two stay
 * in agreement.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/pub.h"

#include "cli/keyhash.h"
#include "common/cdt_clock.h"
#include "common/cdt_json.h"
#include "common/cdt_mem.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- flag tables -------------------------------------------------------- */

enum flag_kind {
    F_STR = 1, /* one value, optionally from a closed set */
    F_MULTI,   /* repeatable string */
    F_INT,     /* integer >= min */
    F_NUM,     /* finite number within [min, max] */
    F_JSON,    /* JSON text, converted to MessagePack */
    F_BOOL,    /* no value */
};

typedef struct flag_spec {
    const char *name; /* "--hub" */
    enum flag_kind kind;
    bool required;
    const char *const *choices; /* F_STR: allowed words; NULL = any */
    double min, max;            /* F_INT, F_NUM */
} flag_spec_t;

#define NO_LIMIT_LO (-1e300)
#define NO_LIMIT_HI 1e300

static const char *const s_task_types[] = {"video", "image", "other", NULL};
static const char *const s_task_states[] = {"started", "progress",  "completed",
                                            "failed",  "cancelled", "timed_out",
                                            NULL};
static const char *const s_health[] = {"healthy", "degraded", "unhealthy",
                                       NULL};
static const char *const s_webhook[] = {"delivered",       "failed",
                                        "retry_scheduled", "circuit_open",
                                        "circuit_closed",  NULL};
static const char *const s_key_ops[] = {"add",    "update", "disable",
                                        "enable", "delete", NULL};

static const flag_spec_t s_event_flags[] = {
    {"--hub", F_STR, true, NULL, 0, 0},
    {"--group", F_MULTI, true, NULL, 0, 0},
    {"--target", F_STR, true, NULL, 0, 0},
    {"--data", F_JSON, false, NULL, 0, 0},
    {"--args", F_JSON, false, NULL, 0, 0},
    {"--id", F_STR, false, NULL, 0, 0},
    {"--cid", F_STR, false, NULL, 0, 0},
    {NULL, 0, false, NULL, 0, 0},
};

static const flag_spec_t s_task_flags[] = {
    {"--id", F_STR, true, NULL, 0, 0},
    {"--type", F_STR, true, s_task_types, 0, 0},
    {"--key", F_INT, false, NULL, 1, NO_LIMIT_HI},
    {"--state", F_STR, true, s_task_states, 0, 0},
    {"--percent", F_NUM, false, NULL, 0, 100},
    {"--message", F_STR, false, NULL, 0, 0},
    {"--result", F_JSON, false, NULL, 0, 0},
    {"--error", F_STR, false, NULL, 0, 0},
    {"--retryable", F_BOOL, false, NULL, 0, 0},
    {"--cid", F_STR, false, NULL, 0, 0},
    {NULL, 0, false, NULL, 0, 0},
};

static const flag_spec_t s_spend_flags[] = {
    {"--key", F_INT, true, NULL, 1, NO_LIMIT_HI},
    {"--amount", F_NUM, true, NULL, NO_LIMIT_LO, NO_LIMIT_HI},
    {"--total", F_NUM, true, NULL, NO_LIMIT_LO, NO_LIMIT_HI},
    {"--budget", F_NUM, false, NULL, 0, NO_LIMIT_HI},
    {"--provider", F_STR, false, NULL, 0, 0},
    {"--model", F_STR, false, NULL, 0, 0},
    {"--request-id", F_STR, false, NULL, 0, 0},
    {"--cid", F_STR, false, NULL, 0, 0},
    {NULL, 0, false, NULL, 0, 0},
};

static const flag_spec_t s_health_flags[] = {
    {"--provider", F_STR, true, NULL, 0, 0},
    {"--status", F_STR, true, s_health, 0, 0},
    {"--response-ms", F_NUM, false, NULL, 0, NO_LIMIT_HI},
    {"--details", F_STR, false, NULL, 0, 0},
    {"--cid", F_STR, false, NULL, 0, 0},
    {NULL, 0, false, NULL, 0, 0},
};

static const flag_spec_t s_webhook_flags[] = {
    {"--key", F_INT, true, NULL, 1, NO_LIMIT_HI},
    {"--url", F_STR, true, NULL, 0, 0},
    {"--status", F_STR, true, s_webhook, 0, 0},
    {"--status-code", F_INT, false, NULL, 0, 999},
    {"--attempt", F_INT, false, NULL, 0, NO_LIMIT_HI},
    {"--error", F_STR, false, NULL, 0, 0},
    {"--cid", F_STR, false, NULL, 0, 0},
    {NULL, 0, false, NULL, 0, 0},
};

static const flag_spec_t s_key_flags[] = {
    {"--id", F_INT, true, NULL, 1, NO_LIMIT_HI},
    {"--name", F_STR, false, NULL, 0, 0},
    {"--hash", F_STR, false, NULL, 0, 0},
    {"--secret", F_STR, false, NULL, 0, 0},
    {"--admin", F_BOOL, false, NULL, 0, 0},
    {"--no-admin", F_BOOL, false, NULL, 0, 0},
    {"--expires", F_STR, false, NULL, 0, 0},
    {"--cid", F_STR, false, NULL, 0, 0},
    {NULL, 0, false, NULL, 0, 0},
};

static const flag_spec_t s_no_flags[] = {
    {NULL, 0, false, NULL, 0, 0},
};

typedef struct command {
    const char *name;
    enum pub_cmd cmd;
    const flag_spec_t *flags;
} command_t;

static const command_t s_commands[] = {
    {"event", PUB_CMD_EVENT, s_event_flags},
    {"task", PUB_CMD_TASK, s_task_flags},
    {"spend", PUB_CMD_SPEND, s_spend_flags},
    {"provider-health", PUB_CMD_HEALTH, s_health_flags},
    {"webhook", PUB_CMD_WEBHOOK, s_webhook_flags},
    {"key", PUB_CMD_KEY, s_key_flags},
    {"stats", PUB_CMD_STATS, s_no_flags},
    {"ndjson", PUB_CMD_NDJSON, s_no_flags},
    {"keygen", PUB_CMD_KEYGEN, s_no_flags},
    {NULL, 0, NULL},
};

#define MAX_FLAGS 16

/* The values of one command's flags, by position in its table. */
typedef struct parsed {
    const flag_spec_t *flags;
    bool set[MAX_FLAGS];
    const char *str[MAX_FLAGS]; /* F_STR, and the text of every kind */
    int64_t i[MAX_FLAGS];       /* F_INT */
    double d[MAX_FLAGS];        /* F_NUM */
    cdt_buf_t json[MAX_FLAGS];  /* F_JSON: MessagePack */
    const char **multi;         /* F_MULTI values (one F_MULTI per table) */
    size_t n_multi;
} parsed_t;

static bool
s_word_in(const char *const *words, const char *w)
{
    for (; *words; words++)
        if (strcmp(*words, w) == 0)
            return true;
    return false;
}

static const command_t *
s_command(const char *name)
{
    for (const command_t *c = s_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

enum pub_cmd
pub_cmd_parse(const char *name)
{
    const command_t *c = name ? s_command(name) : NULL;
    return c ? c->cmd : 0;
}

static int
s_flag_index(const flag_spec_t *flags, const char *name, size_t len)
{
    for (int i = 0; flags[i].name; i++)
        if (strlen(flags[i].name) == len &&
            memcmp(flags[i].name, name, len) == 0)
            return i;
    return -1;
}

static void
s_parsed_release(parsed_t *p)
{
    for (int i = 0; i < MAX_FLAGS; i++)
        cdt_buf_release(&p->json[i]);
    free(p->multi);
    p->multi = NULL;
}

/* Strict integer: the whole text, base 10, no overflow. */
static int
s_parse_int(const char *s, int64_t *out)
{
    if (!*s || isspace((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* Strict finite number; hex and inf/nan spellings are refused. */
static int
s_parse_num(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)*s))
        return -1;
    for (const char *c = s; *c; c++)
        if (!strchr("0123456789+-.eE", *c))
            return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int
s_set_value(parsed_t *p, int idx, const char *cmd, const char *value, char *err,
            size_t errlen)
{
    const flag_spec_t *f = &p->flags[idx];
    if (p->set[idx] && f->kind != F_MULTI) {
        snprintf(err, errlen, "%s: %s given twice", cmd, f->name);
        return PUB_USAGE;
    }
    p->set[idx] = true;
    p->str[idx] = value;
    switch (f->kind) {
    case F_STR:
        if (f->choices) {
            if (s_word_in(f->choices, value))
                return PUB_OK;
            cdt_buf_t list = CDT_BUF_INIT;
            for (const char *const *c = f->choices; *c; c++)
                cdt_buf_printf(&list, "%s%s", c == f->choices ? "" : "|", *c);
            snprintf(err, errlen, "%s: %s must be one of %s, not '%s'", cmd,
                     f->name, (const char *)list.data, value);
            cdt_buf_release(&list);
            return PUB_USAGE;
        }
        return PUB_OK;
    case F_MULTI:
        p->multi = cdt_xrealloc(p->multi, (p->n_multi + 1) * sizeof *p->multi);
        p->multi[p->n_multi++] = value;
        return PUB_OK;
    case F_INT:
        if (s_parse_int(value, &p->i[idx]) == -1 ||
            (double)p->i[idx] < f->min || (double)p->i[idx] > f->max) {
            snprintf(err, errlen, "%s: %s needs an integer%s, not '%s'", cmd,
                     f->name, f->min >= 1 ? " > 0" : " >= 0", value);
            return PUB_USAGE;
        }
        return PUB_OK;
    case F_NUM:
        if (s_parse_num(value, &p->d[idx]) == -1 || p->d[idx] < f->min ||
            p->d[idx] > f->max) {
            if (f->max < NO_LIMIT_HI)
                snprintf(err, errlen,
                         "%s: %s needs a number from %g to %g, not '%s'", cmd,
                         f->name, f->min, f->max, value);
            else if (f->min > NO_LIMIT_LO)
                snprintf(err, errlen, "%s: %s needs a number >= %g, not '%s'",
                         cmd, f->name, f->min, value);
            else
                snprintf(err, errlen, "%s: %s needs a number, not '%s'", cmd,
                         f->name, value);
            return PUB_USAGE;
        }
        return PUB_OK;
    case F_JSON: {
        char jerr[160];
        if (cdt_json_to_msgpack(value, strlen(value), &p->json[idx],
                                CDT_JSON_MAX_DEPTH, jerr, sizeof jerr) == -1) {
            snprintf(err, errlen, "%s: %s is not valid JSON: %s", cmd, f->name,
                     jerr);
            return PUB_FAIL;
        }
        return PUB_OK;
    }
    case F_BOOL:
        return PUB_OK;
    }
    return PUB_USAGE;
}

/* Checks argv[1..argc) against the command's table. */
static int
s_parse_flags(const command_t *c, int argc, char **argv, parsed_t *p, char *err,
              size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->flags = c->flags;
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return PUB_HELP;
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "%s: unexpected argument '%s'", c->name, arg);
            return PUB_USAGE;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        int idx = s_flag_index(c->flags, arg, name_len);
        if (idx < 0) {
            static const flag_spec_t globals[] = {
                {"--broker", F_STR, false, NULL, 0, 0},
                {"--timeout", F_STR, false, NULL, 0, 0},
                {"--config", F_STR, false, NULL, 0, 0},
                {"--curve-cert", F_STR, false, NULL, 0, 0},
                {"--curve-server-public", F_STR, false, NULL, 0, 0},
                {NULL, 0, false, NULL, 0, 0},
            };
            if (s_flag_index(globals, arg, name_len) >= 0)
                snprintf(err, errlen,
                         "%s: %.*s goes before the command "
                         "(conduit-pub %.*s ... %s ...)",
                         c->name, (int)name_len, arg, (int)name_len, arg,
                         c->name);
            else
                snprintf(err, errlen, "%s: unknown option '%.*s'", c->name,
                         (int)name_len, arg);
            return PUB_USAGE;
        }
        const char *value;
        if (c->flags[idx].kind == F_BOOL) {
            if (eq) {
                snprintf(err, errlen, "%s: %s takes no value", c->name,
                         c->flags[idx].name);
                return PUB_USAGE;
            }
            value = "";
        } else if (eq) {
            value = eq + 1;
        } else if (a + 1 < argc) {
            value = argv[++a];
        } else {
            snprintf(err, errlen, "%s: %s needs a value", c->name,
                     c->flags[idx].name);
            return PUB_USAGE;
        }
        int rc = s_set_value(p, idx, c->name, value, err, errlen);
        if (rc != PUB_OK)
            return rc;
    }
    for (int i = 0; c->flags[i].name; i++)
        if (c->flags[i].required && !p->set[i]) {
            snprintf(err, errlen, "%s: missing %s", c->name, c->flags[i].name);
            return PUB_USAGE;
        }
    return PUB_OK;
}

static int
s_idx(const parsed_t *p, const char *name)
{
    int i = s_flag_index(p->flags, name, strlen(name));
    assert(i >= 0);
    return i;
}

static bool
s_has(const parsed_t *p, const char *name)
{
    return p->set[s_idx(p, name)];
}

static const char *
s_str(const parsed_t *p, const char *name)
{
    int i = s_idx(p, name);
    return p->set[i] ? p->str[i] : NULL;
}

/* ---- map building ------------------------------------------------------- */

/* The map's entries are packed into body while they are counted; the
 * header is written when the count is known. */
typedef struct mapb {
    cdt_buf_t body;
    msgpack_packer pk;
    uint32_t n;
} mapb_t;

static void
s_mb_init(mapb_t *m)
{
    cdt_buf_init(&m->body);
    msgpack_packer_init(&m->pk, &m->body, cdt_buf_msgpack_write);
    m->n = 0;
}

static void
s_mb_key(mapb_t *m, const char *key)
{
    size_t len = strlen(key);
    msgpack_pack_str(&m->pk, len);
    msgpack_pack_str_body(&m->pk, key, len);
    m->n++;
}

static void
s_mb_str(mapb_t *m, const char *key, const char *value)
{
    if (!value)
        return;
    s_mb_key(m, key);
    size_t len = strlen(value);
    msgpack_pack_str(&m->pk, len);
    msgpack_pack_str_body(&m->pk, value, len);
}

static void
s_mb_int(mapb_t *m, const char *key, int64_t value)
{
    s_mb_key(m, key);
    msgpack_pack_int64(&m->pk, value);
}

/* Integral values go out as ints, as the JSON converter would write them,
 * so a field reads the same whichever way it was produced. */
static void
s_mb_num(mapb_t *m, const char *key, double value)
{
    s_mb_key(m, key);
    if (value == floor(value) && fabs(value) < 9007199254740992.0)
        msgpack_pack_int64(&m->pk, (int64_t)value);
    else
        msgpack_pack_double(&m->pk, value);
}

static void
s_mb_bool(mapb_t *m, const char *key, bool value)
{
    s_mb_key(m, key);
    if (value)
        msgpack_pack_true(&m->pk);
    else
        msgpack_pack_false(&m->pk);
}

static void
s_mb_raw(mapb_t *m, const char *key, const cdt_buf_t *packed)
{
    s_mb_key(m, key);
    cdt_buf_append(&m->body, packed->data, packed->len);
}

static void
s_mb_finish(mapb_t *m, cdt_buf_t *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, cdt_buf_msgpack_write);
    msgpack_pack_map(&pk, m->n);
    cdt_buf_append(out, m->body.data, m->body.len);
    cdt_buf_release(&m->body);
}

static void
s_mb_head(mapb_t *m, const char *type, const parsed_t *p, int64_t now_ms)
{
    s_mb_str(m, "type", type);
    s_mb_int(m, "ts", now_ms);
    s_mb_str(m, "id", s_str(p, "--cid"));
}

static void
s_mb_opt_int(mapb_t *m, const char *key, const parsed_t *p, const char *flag)
{
    int i = s_idx(p, flag);
    if (p->set[i])
        s_mb_int(m, key, p->i[i]);
}

static void
s_mb_opt_num(mapb_t *m, const char *key, const parsed_t *p, const char *flag)
{
    int i = s_idx(p, flag);
    if (p->set[i])
        s_mb_num(m, key, p->d[i]);
}

static int
s_build_event(const parsed_t *p, int64_t now_ms, mapb_t *m, char *err,
              size_t errlen)
{
    int data = s_idx(p, "--data"), args = s_idx(p, "--args");
    if (p->set[data] == p->set[args]) {
        snprintf(err, errlen, "event: give exactly one of --data and --args");
        return PUB_USAGE;
    }
    if (p->set[args] &&
        (p->json[args].len == 0 ||
         !((p->json[args].data[0] & 0xf0) == 0x90 ||
           p->json[args].data[0] == 0xdc || p->json[args].data[0] == 0xdd))) {
        snprintf(err, errlen, "event: --args must be a JSON array");
        return PUB_FAIL;
    }
    if (s_has(p, "--id") && s_has(p, "--cid")) {
        snprintf(err, errlen, "event: --id and --cid are the same option");
        return PUB_USAGE;
    }
    s_mb_head(m, "event", p, now_ms);
    s_mb_str(m, "id", s_str(p, "--id"));
    s_mb_str(m, "hub", s_str(p, "--hub"));
    if (p->n_multi == 1) {
        s_mb_str(m, "group", p->multi[0]);
    } else {
        s_mb_key(m, "groups");
        msgpack_pack_array(&m->pk, p->n_multi);
        for (size_t i = 0; i < p->n_multi; i++) {
            size_t len = strlen(p->multi[i]);
            msgpack_pack_str(&m->pk, len);
            msgpack_pack_str_body(&m->pk, p->multi[i], len);
        }
    }
    s_mb_str(m, "target", s_str(p, "--target"));
    if (p->set[data])
        s_mb_raw(m, "data", &p->json[data]);
    else
        s_mb_raw(m, "arguments", &p->json[args]);
    return PUB_OK;
}

static int
s_build_task(const parsed_t *p, int64_t now_ms, mapb_t *m)
{
    s_mb_head(m, "task", p, now_ms);
    s_mb_str(m, "taskId", s_str(p, "--id"));
    s_mb_str(m, "taskType", s_str(p, "--type"));
    s_mb_opt_int(m, "virtualKeyId", p, "--key");
    s_mb_str(m, "state", s_str(p, "--state"));
    s_mb_opt_num(m, "percent", p, "--percent");
    s_mb_str(m, "message", s_str(p, "--message"));
    int result = s_idx(p, "--result");
    if (p->set[result])
        s_mb_raw(m, "result", &p->json[result]);
    s_mb_str(m, "error", s_str(p, "--error"));
    if (s_has(p, "--retryable"))
        s_mb_bool(m, "isRetryable", true);
    return PUB_OK;
}

static int
s_build_spend(const parsed_t *p, int64_t now_ms, mapb_t *m)
{
    s_mb_head(m, "spend", p, now_ms);
    s_mb_opt_int(m, "virtualKeyId", p, "--key");
    s_mb_opt_num(m, "amount", p, "--amount");
    s_mb_opt_num(m, "totalSpend", p, "--total");
    s_mb_opt_num(m, "budget", p, "--budget");
    s_mb_str(m, "provider", s_str(p, "--provider"));
    s_mb_str(m, "model", s_str(p, "--model"));
    s_mb_str(m, "requestId", s_str(p, "--request-id"));
    return PUB_OK;
}

static int
s_build_health(const parsed_t *p, int64_t now_ms, mapb_t *m)
{
    s_mb_head(m, "provider_health", p, now_ms);
    s_mb_str(m, "provider", s_str(p, "--provider"));
    s_mb_str(m, "status", s_str(p, "--status"));
    s_mb_opt_num(m, "responseTimeMs", p, "--response-ms");
    s_mb_str(m, "details", s_str(p, "--details"));
    return PUB_OK;
}

static int
s_build_webhook(const parsed_t *p, int64_t now_ms, mapb_t *m)
{
    s_mb_head(m, "webhook", p, now_ms);
    s_mb_opt_int(m, "virtualKeyId", p, "--key");
    s_mb_str(m, "url", s_str(p, "--url"));
    s_mb_str(m, "status", s_str(p, "--status"));
    s_mb_opt_int(m, "statusCode", p, "--status-code");
    s_mb_opt_int(m, "attempt", p, "--attempt");
    s_mb_str(m, "error", s_str(p, "--error"));
    return PUB_OK;
}

static int
s_build_key(const parsed_t *p, const char *op, int64_t now_ms, mapb_t *m,
            char *err, size_t errlen)
{
    const char *hash = s_str(p, "--hash");
    const char *secret = s_str(p, "--secret");
    char hex[KEYHASH_HEX_LEN + 1];
    if (hash && secret) {
        snprintf(err, errlen, "key: give --hash or --secret, not both");
        return PUB_USAGE;
    }
    if (hash) {
        size_t len = strlen(hash);
        if (len != KEYHASH_HEX_LEN) {
            snprintf(err, errlen, "key: --hash needs 64 hex digits");
            return PUB_USAGE;
        }
        for (size_t i = 0; i <= len; i++)
            hex[i] = (char)tolower((unsigned char)hash[i]);
        if (!keyhash_hex_valid(hex, len)) {
            snprintf(err, errlen, "key: --hash needs 64 hex digits");
            return PUB_USAGE;
        }
    } else if (secret) {
        if (!*secret) {
            snprintf(err, errlen, "key: --secret must not be empty");
            return PUB_USAGE;
        }
        keyhash_sha256_hex(secret, strlen(secret), hex);
    }
    if (strcmp(op, "add") == 0 && !hash && !secret) {
        snprintf(err, errlen, "key: add needs --hash or --secret");
        return PUB_USAGE;
    }
    if (s_has(p, "--admin") && s_has(p, "--no-admin")) {
        snprintf(err, errlen, "key: give --admin or --no-admin, not both");
        return PUB_USAGE;
    }
    char iso[CDT_ISO8601_LEN];
    const char *expires = s_str(p, "--expires");
    if (expires) {
        int64_t ms;
        if (cdt_clock_parse_iso8601(expires, &ms) == -1) {
            snprintf(err, errlen,
                     "key: --expires needs an ISO-8601 UTC time such as "
                     "2030-01-01T00:00:00Z, not '%s'",
                     expires);
            return PUB_USAGE;
        }
        cdt_clock_iso8601(ms, iso);
    }
    s_mb_head(m, "key", p, now_ms);
    s_mb_str(m, "op", op);
    s_mb_opt_int(m, "virtualKeyId", p, "--id");
    s_mb_str(m, "name", s_str(p, "--name"));
    if (hash || secret)
        s_mb_str(m, "keyHash", hex);
    if (s_has(p, "--admin") || s_has(p, "--no-admin"))
        s_mb_bool(m, "admin", s_has(p, "--admin"));
    if (expires)
        s_mb_str(m, "expiresAt", iso);
    return PUB_OK;
}

int
pub_build(int argc, char **argv, int64_t now_ms, cdt_buf_t *out, char *err,
          size_t errlen)
{
    assert(argc >= 1);
    const command_t *c = s_command(argv[0]);
    if (!c || c->cmd == PUB_CMD_NDJSON || c->cmd == PUB_CMD_KEYGEN) {
        snprintf(err, errlen, "unknown command '%s'", argv[0]);
        return PUB_USAGE;
    }
    /* key takes its operation as the first word */
    const char *op = NULL;
    if (c->cmd == PUB_CMD_KEY) {
        if (argc >= 2 &&
            (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
            return PUB_HELP;
        if (argc < 2 || strncmp(argv[1], "--", 2) == 0) {
            snprintf(err, errlen,
                     "key: missing operation (add|update|disable|enable|"
                     "delete)");
            return PUB_USAGE;
        }
        op = argv[1];
        if (!s_word_in(s_key_ops, op)) {
            snprintf(err, errlen,
                     "key: unknown operation '%s' "
                     "(add|update|disable|enable|delete)",
                     op);
            return PUB_USAGE;
        }
        argc--;
        argv++;
    }
    parsed_t p;
    int rc = s_parse_flags(c, argc, argv, &p, err, errlen);
    if (rc != PUB_OK) {
        s_parsed_release(&p);
        return rc;
    }
    mapb_t m;
    s_mb_init(&m);
    switch (c->cmd) {
    case PUB_CMD_EVENT:
        rc = s_build_event(&p, now_ms, &m, err, errlen);
        break;
    case PUB_CMD_TASK:
        rc = s_build_task(&p, now_ms, &m);
        break;
    case PUB_CMD_SPEND:
        rc = s_build_spend(&p, now_ms, &m);
        break;
    case PUB_CMD_HEALTH:
        rc = s_build_health(&p, now_ms, &m);
        break;
    case PUB_CMD_WEBHOOK:
        rc = s_build_webhook(&p, now_ms, &m);
        break;
    case PUB_CMD_KEY:
        rc = s_build_key(&p, op, now_ms, &m, err, errlen);
        break;
    case PUB_CMD_STATS:
        s_mb_str(&m, "type", "stats");
        rc = PUB_OK;
        break;
    case PUB_CMD_NDJSON:
    case PUB_CMD_KEYGEN:
        rc = PUB_USAGE;
        break;
    }
    if (rc == PUB_OK)
        s_mb_finish(&m, out);
    else
        cdt_buf_release(&m.body);
    s_parsed_release(&p);
    return rc;
}

/* ---- global options, NDJSON, endpoint ---------------------------------- */

/* Matches "--name VALUE" or "--name=VALUE" (and a short alias); advances
 * *a past the value. Returns 1 on a match, 0 if arg is another option, -1
 * when the value is missing. */
static int
s_global_value(int argc, char **argv, int *a, const char *name,
               const char *alias, const char **value)
{
    const char *arg = argv[*a];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) == 0 && arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (strcmp(arg, name) != 0 && !(alias && strcmp(arg, alias) == 0))
        return 0;
    if (*a + 1 >= argc)
        return -1;
    *value = argv[++*a];
    return 1;
}

int
pub_parse_global(int argc, char **argv, pub_global_t *g, char *err,
                 size_t errlen)
{
    memset(g, 0, sizeof *g);
    g->timeout_ms = PUB_DEFAULT_TIMEOUT_MS;
    int a;
    for (a = 1; a < argc; a++) {
        const char *arg = argv[a];
        const char *value = NULL;
        int rc;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return PUB_HELP;
        if (arg[0] != '-')
            break;
        if ((rc = s_global_value(argc, argv, &a, "--broker", NULL, &value)) !=
            0) {
            if (rc < 0 || !*value)
                goto missing;
            g->broker = value;
        } else if ((rc = s_global_value(argc, argv, &a, "--timeout", NULL,
                                        &value)) != 0) {
            int64_t ms;
            if (rc < 0)
                goto missing;
            if (s_parse_int(value, &ms) == -1 || ms <= 0 || ms > 86400000) {
                snprintf(err, errlen,
                         "--timeout needs milliseconds > 0, not '%s'", value);
                return PUB_USAGE;
            }
            g->timeout_ms = ms;
        } else if ((rc = s_global_value(argc, argv, &a, "--config", "-c",
                                        &value)) != 0) {
            if (rc < 0 || !*value)
                goto missing;
            g->config = value;
        } else if ((rc = s_global_value(argc, argv, &a, "--curve-cert", NULL,
                                        &value)) != 0) {
            if (rc < 0 || !*value)
                goto missing;
            g->curve_cert = value;
        } else if ((rc = s_global_value(argc, argv, &a, "--curve-server-public",
                                        NULL, &value)) != 0) {
            if (rc < 0 || !*value)
                goto missing;
            g->curve_server_public = value;
        } else {
            snprintf(err, errlen, "unknown option '%s'", arg);
            return PUB_USAGE;
        }
        continue;
missing:
        snprintf(err, errlen, "%s needs a value", arg);
        return PUB_USAGE;
    }
    g->cmd_index = a;
    if (a >= argc) {
        snprintf(err, errlen, "missing command");
        return PUB_USAGE;
    }
    if (!pub_cmd_parse(argv[a])) {
        snprintf(err, errlen, "unknown command '%s'", argv[a]);
        return PUB_USAGE;
    }
    if (g->curve_server_public && !g->curve_cert) {
        snprintf(err, errlen, "--curve-server-public needs --curve-cert");
        return PUB_USAGE;
    }
    return PUB_OK;
}

int
pub_keygen_args(int argc, char **argv, const char **out, const char **name,
                char *err, size_t errlen)
{
    *out = *name = NULL;
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        const char **slot = NULL;
        const char *value = NULL;
        int rc;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return PUB_HELP;
        if ((rc = s_global_value(argc, argv, &a, "--out", NULL, &value)) != 0)
            slot = out;
        else if ((rc = s_global_value(argc, argv, &a, "--name", NULL,
                                      &value)) != 0)
            slot = name;
        if (!slot) {
            snprintf(err, errlen, "keygen: unknown option '%s'", arg);
            return PUB_USAGE;
        }
        if (rc < 0 || !*value) {
            snprintf(err, errlen, "keygen: %s needs a value", arg);
            return PUB_USAGE;
        }
        *slot = value;
    }
    if (!*out) {
        snprintf(err, errlen, "keygen: missing --out");
        return PUB_USAGE;
    }
    return PUB_OK;
}

int
pub_ndjson_args(int argc, char **argv, char *err, size_t errlen)
{
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0)
            return PUB_HELP;
        snprintf(err, errlen, "ndjson: unexpected argument '%s'", argv[a]);
        return PUB_USAGE;
    }
    return PUB_OK;
}

int
pub_ndjson_line(const char *line, size_t len, cdt_buf_t *out, char *err,
                size_t errlen)
{
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", line[i]))
        i++;
    if (i == len)
        return 1;
    size_t start = out->len;
    if (cdt_json_to_msgpack(line, len, out, CDT_JSON_MAX_DEPTH, err, errlen) ==
        -1)
        return -1;
    uint8_t b = out->data[start];
    if (!((b & 0xf0) == 0x80 || b == 0xde || b == 0xdf)) {
        out->len = start;
        snprintf(err, errlen, "not a JSON object");
        return -1;
    }
    return 0;
}

void
pub_resolve_endpoint(const char *flag, const char *config_ack, const char *env,
                     char *buf, size_t buflen)
{
    if (flag && *flag) {
        snprintf(buf, buflen, "%s", flag);
        return;
    }
    if (config_ack && *config_ack) {
        /* the config holds a bind address; connect to the same port on
         * loopback when it binds every interface */
        const char *sep = strstr(config_ack, "://");
        const char *host = sep ? sep + 3 : config_ack;
        if (strncmp(host, "*:", 2) == 0 || strncmp(host, "0.0.0.0:", 8) == 0)
            snprintf(buf, buflen, "%.*s127.0.0.1%s", (int)(host - config_ack),
                     config_ack, strchr(host, ':'));
        else
            snprintf(buf, buflen, "%s", config_ack);
        return;
    }
    snprintf(buf, buflen, "%s", env && *env ? env : PUB_DEFAULT_ENDPOINT);
}

/* ---- help --------------------------------------------------------------- */

static const char s_help_main[] =
    "usage: conduit-pub [--broker ENDPOINT] [--timeout MS] [-c CONFIG] "
    "COMMAND ...\n"
    "\n"
    "Publishes messages to conduit-broker over its acknowledged ingress\n"
    "endpoint and waits until the broker accepted or rejected each one.\n"
    "\n"
    "Options (before COMMAND):\n"
    "  --broker ENDPOINT  the broker's ingress_ack endpoint (ZeroMQ)\n"
    "  -c, --config FILE  read broker.ingress_ack from this conduit.yaml\n"
    "  --timeout MS       how long to wait for the broker's answer "
    "(default 5000)\n"
    "  --curve-cert FILE  talk CurveZMQ with this client certificate: the\n"
    "                     FILE keygen wrote (FILE_secret beside it is read)\n"
    "                     or FILE_secret itself; the broker must list FILE\n"
    "                     in its broker.curve_clients_dir\n"
    "  --curve-server-public FILE\n"
    "                     the broker's public certificate (the FILE of its\n"
    "                     pair); with -c it defaults to the config's\n"
    "                     broker.curve_secret_cert\n"
    "  -h, --help         this text; COMMAND --help describes a command\n"
    "The endpoint is --broker, else broker.ingress_ack of -c FILE, else\n"
    "$CONDUIT_BROKER, else " PUB_DEFAULT_ENDPOINT ".\n"
    "\n"
    "Commands:\n"
    "  event            a raw event for a hub's group(s)\n"
    "  task             a task's state (video/image/other generation)\n"
    "  spend            spend of a virtual key (SpendUpdate, BudgetAlert)\n"
    "  provider-health  a provider's health report\n"
    "  webhook          a webhook delivery outcome\n"
    "  key              add|update|disable|enable|delete a virtual key\n"
    "  stats            print the broker's figures as JSON\n"
    "  ndjson           publish one ingress map per line of stdin\n"
    "  keygen           write a CurveZMQ key pair (no broker needed)\n"
    "\n"
    "Exit status: 0 when the broker accepted everything, 1 on failure\n"
    "(broker unreachable, message rejected, malformed JSON; the reason goes\n"
    "to stderr), 2 on a usage error.\n"
    "\n"
    "Example:\n"
    "  conduit-pub event --hub SpendNotificationHub --group vkey-1 \\\n"
    "      --target SpendUpdate --data '{\"amount\":0.25}'\n";

static const char s_help_event[] =
    "usage: conduit-pub event --hub HUB --group GROUP [--group GROUP ...]\n"
    "           --target EVENT (--data JSON | --args JSON-ARRAY) [--id CID]\n"
    "\n"
    "Sends EVENT to every connection of HUB in the given groups (a member\n"
    "of several receives it once). The broker refuses an unknown hub or an\n"
    "event the hub's catalog entry does not list.\n"
    "\n"
    "  --hub HUB          hub name (SpendNotificationHub) or path\n"
    "                     (/hubs/spend-notifications)\n"
    "  --group GROUP      target group, e.g. vkey-1, task-T, admin; repeatable\n"
    "  --target EVENT     the client method name, e.g. SpendUpdate\n"
    "  --data JSON        one JSON value, delivered as the only argument\n"
    "  --args JSON-ARRAY  the complete argument list\n"
    "  --id CID           correlation id (also --cid)\n"
    "Malformed JSON is refused locally (exit 1).\n";

static const char s_help_task[] =
    "usage: conduit-pub task --id TASKID --type video|image|other\n"
    "           [--key VKEYID] --state STATE [--percent N] [--message TEXT]\n"
    "           [--result JSON] [--error TEXT] [--retryable] [--cid CID]\n"
    "\n"
    "Reports a task's state. The first event of a task must name its owner\n"
    "(--key); subscribers of task-TASKID (TaskHub) and video-TASKID or\n"
    "image-TASKID (the type's hub) receive it, progress coalesced.\n"
    "\n"
    "  --id TASKID        the task (or generation request) id\n"
    "  --type TYPE        video, image or other\n"
    "  --key VKEYID       the owning virtual key id (integer > 0)\n"
    "  --state STATE      started, progress, completed, failed, cancelled,\n"
    "                     timed_out\n"
    "  --percent N        progress, 0 to 100\n"
    "  --message TEXT     a human-readable status\n"
    "  --result JSON      the result (completed)\n"
    "  --error TEXT       the error (failed)\n"
    "  --retryable        the failure may be retried\n"
    "  --cid CID          correlation id\n";

static const char s_help_spend[] =
    "usage: conduit-pub spend --key ID --amount X --total X [--budget X]\n"
    "           [--provider P] [--model M] [--request-id R] [--cid CID]\n"
    "\n"
    "Reports spend of a virtual key: SpendUpdate (batched per key), and\n"
    "BudgetAlert / UnusualSpending / HighSpendAlert when they apply.\n"
    "\n"
    "  --key ID           virtual key id (integer > 0)\n"
    "  --amount X         this request's cost\n"
    "  --total X          the key's total spend so far\n"
    "  --budget X         the key's budget (enables budget alerts)\n"
    "  --provider P, --model M, --request-id R   passed on to clients\n"
    "  --cid CID          correlation id\n";

static const char s_help_health[] =
    "usage: conduit-pub provider-health --provider P\n"
    "           --status healthy|degraded|unhealthy [--response-ms N]\n"
    "           [--details TEXT] [--cid CID]\n"
    "\n"
    "Reports a provider's health. ProviderHealthChanged goes out once the\n"
    "new status held for health.hysteresis consecutive reports.\n"
    "\n"
    "  --provider P       provider name\n"
    "  --status S         healthy, degraded or unhealthy\n"
    "  --response-ms N    measured response time (ms, >= 0)\n"
    "  --details TEXT     free text\n"
    "  --cid CID          correlation id\n";

static const char s_help_webhook[] =
    "usage: conduit-pub webhook --key ID --url URL --status STATUS\n"
    "           [--status-code N] [--attempt N] [--error TEXT] [--cid CID]\n"
    "\n"
    "Reports a webhook delivery outcome to the key's subscribers of URL\n"
    "(WebhookDeliveryHub).\n"
    "\n"
    "  --key ID           virtual key id (integer > 0)\n"
    "  --url URL          the webhook URL\n"
    "  --status STATUS    delivered, failed, retry_scheduled, circuit_open,\n"
    "                     circuit_closed\n"
    "  --status-code N    the HTTP status the endpoint answered\n"
    "  --attempt N        delivery attempt number\n"
    "  --error TEXT       why the delivery failed\n"
    "  --cid CID          correlation id\n";

static const char s_help_key[] =
    "usage: conduit-pub key add|update|disable|enable|delete --id ID\n"
    "           [--name NAME] [--hash HEX | --secret KEY] [--admin|--no-admin]\n"
    "           [--expires ISO-8601] [--cid CID]\n"
    "\n"
    "Changes the broker's key store. Disabling or deleting a key closes its\n"
    "connections on every gateway at once.\n"
    "\n"
    "  --id ID            virtual key id (integer > 0)\n"
    "  --name NAME        display name\n"
    "  --hash HEX         SHA-256 of the key, 64 hex digits\n"
    "  --secret KEY       the key itself: hashed here, never sent\n"
    "                     (add needs --hash or --secret)\n"
    "  --admin            the key passes task ownership checks\n"
    "  --no-admin         it no longer does (update)\n"
    "  --expires TIME     e.g. 2030-01-01T00:00:00Z; refused afterwards\n"
    "  --cid CID          correlation id\n";

static const char s_help_stats[] =
    "usage: conduit-pub stats\n"
    "\n"
    "Asks the broker for its figures and prints its answer as one JSON\n"
    "object on stdout.\n";

static const char s_help_ndjson[] =
    "usage: conduit-pub ndjson < FILE\n"
    "\n"
    "Reads newline-delimited JSON from stdin, one ingress map per line\n"
    "(the fields of proto/cdt_ingress.h, e.g.\n"
    "  {\"type\":\"event\",\"hub\":\"TaskHub\",\"group\":\"vkey-1\",\n"
    "   \"target\":\"TaskProgress\",\"data\":{\"percent\":5}}\n"
    "), and publishes them in order with up to 1000 awaiting the broker's\n"
    "answer. Blank lines are skipped. Each rejected line is reported on\n"
    "stderr as 'line N: REASON'; the exit status is 0 only when every line\n"
    "was accepted.\n";

static const char s_help_keygen[] =
    "usage: conduit-pub keygen --out FILE [--name NAME]\n"
    "\n"
    "Writes a new CurveZMQ key pair as czmq certificate files: FILE holds\n"
    "the public key (copy it into the broker's broker.curve_clients_dir to\n"
    "accept this client, or hand it to clients when FILE is the broker's\n"
    "own pair), FILE_secret holds both keys, mode 0600 (keep it: it is\n"
    "what --curve-cert, broker.curve_secret_cert and gateway.curve_cert\n"
    "read). Prints the public key. Existing files are not overwritten.\n"
    "\n"
    "  --out FILE         where to write FILE and FILE_secret\n"
    "  --name NAME        a name stored in the certificates' metadata (no\n"
    "                     double quotes or control characters)\n"
    "\n"
    "Example:\n"
    "  conduit-pub keygen --out srv/broker    # the broker's pair\n"
    "  conduit-pub keygen --out me/pub        # a publisher's pair\n"
    "  mkdir -p srv/clients && cp me/pub srv/clients/   # accept it\n"
    "  # conduit.yaml: broker.curve_secret_cert: srv/broker\n"
    "  #               broker.curve_clients_dir: srv/clients\n"
    "  conduit-pub --curve-cert me/pub --curve-server-public srv/broker "
    "stats\n";

const char *
pub_help(const char *name)
{
    switch (name ? pub_cmd_parse(name) : 0) {
    case PUB_CMD_EVENT:
        return s_help_event;
    case PUB_CMD_TASK:
        return s_help_task;
    case PUB_CMD_SPEND:
        return s_help_spend;
    case PUB_CMD_HEALTH:
        return s_help_health;
    case PUB_CMD_WEBHOOK:
        return s_help_webhook;
    case PUB_CMD_KEY:
        return s_help_key;
    case PUB_CMD_STATS:
        return s_help_stats;
    case PUB_CMD_NDJSON:
        return s_help_ndjson;
    case PUB_CMD_KEYGEN:
        return s_help_keygen;
    }
    return s_help_main;
}
