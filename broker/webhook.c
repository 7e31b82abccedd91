/*
 * webhook - webhook delivery status events (the rules are in webhook.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/webhook.h"

#include "broker/notify.h"

#define CDT_LOG_MODULE "webhook"
#include "common/cdt_catalog.h"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_HUB        "WebhookDeliveryHub"
#define S_REDACT_LEN 160

struct webhook {
    emit_fn *emit;
    void *emit_arg;
};

/* Names the typed part of the payload writes, or that are not passed. */
static const char *const s_reserved[] = {
    "virtualKeyId", "url", "status",    "statusCode", "attempt",      "type",
    "ts",           "id",  "timestamp", "state",      "correlationId"};

webhook_t *
webhook_new(emit_fn *emit, void *emit_arg)
{
    assert(emit);
    webhook_t *self = cdt_xcalloc(1, sizeof *self);
    self->emit = emit;
    self->emit_arg = emit_arg;
    return self;
}

void
webhook_destroy(webhook_t **self_p)
{
    assert(self_p);
    free(*self_p);
    *self_p = NULL;
}

void
webhook_redact_url(const char *url, size_t len, char *out, size_t outlen)
{
    assert(outlen > 0);
    cdt_buf_t b = CDT_BUF_INIT;
    size_t i = 0;
    for (size_t j = 0; j + 3 <= len; j++) {
        if (url[j] == '/' || url[j] == '?' || url[j] == '#')
            break;
        if (memcmp(url + j, "://", 3) == 0) {
            i = j + 3;
            break;
        }
    }
    cdt_buf_append(&b, url, i);
    /* the authority runs to the first '/', '?' or '#'; user information
     * (user:password@) ends at its last '@' */
    size_t host = i;
    for (size_t j = i;
         j < len && url[j] != '/' && url[j] != '?' && url[j] != '#'; j++)
        if (url[j] == '@')
            host = j + 1;
    size_t end = host;
    while (end < len && url[end] != '?' && url[end] != '#')
        end++;
    cdt_buf_append(&b, url + host, end - host);
    if (end < len)
        cdt_buf_append_str(&b, "?...");
    snprintf(out, outlen, "%s", b.data ? (char *)b.data : "");
    cdt_buf_release(&b);
}

/* name in camelCase, into a new string: "_x" after the first character
 * becomes "X". Caller frees. */
static char *
s_camel(const char *name, size_t len)
{
    char *out = cdt_xmalloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '_' && n > 0 && i + 1 < len && name[i + 1] != '_') {
            char c = name[++i];
            out[n++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
        } else {
            out[n++] = name[i];
        }
    }
    out[n] = '\0';
    return out;
}

static bool
s_in(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

int
webhook_ingest(webhook_t *self, const cdt_ingress_t *msg, int64_t now_wall_ms,
               char *err, size_t errlen)
{
    if (msg->type != CDT_IN_WEBHOOK) {
        snprintf(err, errlen, "not a webhook message");
        return -1;
    }
    if (!msg->has_key_id) {
        snprintf(err, errlen, "missing field 'virtualKeyId'");
        return -1;
    }
    if (msg->url.len == 0) {
        snprintf(err, errlen, "missing field 'url'");
        return -1;
    }
    if (!notify_group_arg_ok(msg->url.ptr, msg->url.len, CDT_GROUP_ARG_MAX)) {
        snprintf(err, errlen,
                 "field 'url' must be at most %d bytes without control "
                 "characters",
                 CDT_GROUP_ARG_MAX);
        return -1;
    }
    const char *target, *state = NULL;
    switch (msg->webhook) {
    case CDT_WEBHOOK_DELIVERED:
        target = "WebhookDelivered";
        break;
    case CDT_WEBHOOK_FAILED:
        target = "WebhookFailed";
        break;
    case CDT_WEBHOOK_RETRY_SCHEDULED:
        target = "WebhookRetryScheduled";
        break;
    case CDT_WEBHOOK_CIRCUIT_OPEN:
        target = "CircuitBreakerStateChanged";
        state = "open";
        break;
    case CDT_WEBHOOK_CIRCUIT_CLOSED:
        target = "CircuitBreakerStateChanged";
        state = "closed";
        break;
    default:
        snprintf(err, errlen,
                 "field 'status' must be delivered, failed, retry_scheduled, "
                 "circuit_open or circuit_closed");
        return -1;
    }

    /* which fields pass through, in camelCase, each name once */
    const msgpack_object_map *map =
        msg->map && msg->map->type == MSGPACK_OBJECT_MAP ? &msg->map->via.map
                                                         : NULL;
    char *names[WEBHOOK_MAX_FIELDS];
    const msgpack_object *values[WEBHOOK_MAX_FIELDS];
    size_t n = 0;
    int rc = -1;
    for (uint32_t i = 0; map && i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size == 0)
            continue;
        char *name = s_camel(k->via.str.ptr, k->via.str.size);
        if (s_in(name, s_reserved, sizeof s_reserved / sizeof *s_reserved) ||
            s_in(name, (const char *const *)names, n)) {
            free(name);
            continue;
        }
        if (n == WEBHOOK_MAX_FIELDS) {
            free(name);
            snprintf(err, errlen, "more than %d fields", WEBHOOK_MAX_FIELDS);
            goto done;
        }
        names[n] = name;
        values[n++] = &map->ptr[i].val;
    }

    notify_obj_t o;
    notify_obj_init(&o);
    notify_obj_int(&o, "virtualKeyId", msg->key_id);
    notify_obj_strn(&o, "url", msg->url.ptr, msg->url.len);
    notify_obj_str(&o, "status", cdt_webhook_status_name(msg->webhook));
    if (msg->has_status_code)
        notify_obj_int(&o, "statusCode", msg->status_code);
    if (msg->has_attempt)
        notify_obj_int(&o, "attempt", msg->attempt);
    for (size_t i = 0; i < n; i++) {
        notify_obj_key(&o, names[i], strlen(names[i]));
        msgpack_pack_object(&o.pk, *values[i]);
    }
    if (state)
        notify_obj_str(&o, "state", state);
    if (msg->id.len)
        notify_obj_strn(&o, "correlationId", msg->id.ptr, msg->id.len);
    notify_obj_time(&o, "timestamp", now_wall_ms);

    char *group = cdt_xasprintf("webhook-%" PRId64 "-%.*s", msg->key_id,
                                (int)msg->url.len, msg->url.ptr);
    char url[S_REDACT_LEN], log_group[S_REDACT_LEN + 32];
    char detail[S_REDACT_LEN + 96], code[24] = "";
    webhook_redact_url(msg->url.ptr, msg->url.len, url, sizeof url);
    snprintf(log_group, sizeof log_group, "webhook-%" PRId64 "-%s", msg->key_id,
             url);
    if (msg->has_status_code)
        snprintf(code, sizeof code, " (%" PRId64 ")", msg->status_code);
    snprintf(detail, sizeof detail,
             "VirtualKey: %" PRId64 ", Url: %s, Status: %s%s", msg->key_id, url,
             cdt_webhook_status_name(msg->webhook), code);
    const char *groups[] = {group};
    (void)notify_send(self->emit, self->emit_arg, S_HUB, groups, 1, target, &o,
                      detail, log_group);
    free(group);
    notify_obj_release(&o);
    rc = 0;
done:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    return rc;
}
