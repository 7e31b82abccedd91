/*
 * notify - payload building and the notification log line shared by the
 * broker's notification modules.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/notify.h"

#define CDT_LOG_MODULE "notify"
#include "common/cdt_clock.h"
#include "common/cdt_log.h"

#include <string.h>

void
notify_obj_init(notify_obj_t *self)
{
    cdt_buf_init(&self->body);
    msgpack_packer_init(&self->pk, &self->body, cdt_buf_msgpack_write);
    self->n_fields = 0;
}

void
notify_obj_release(notify_obj_t *self)
{
    cdt_buf_release(&self->body);
    self->n_fields = 0;
}

void
notify_obj_key(notify_obj_t *self, const char *key, size_t len)
{
    msgpack_pack_str(&self->pk, len);
    msgpack_pack_str_body(&self->pk, key, len);
    self->n_fields++;
}

void
notify_obj_strn(notify_obj_t *self, const char *key, const char *s, size_t len)
{
    notify_obj_key(self, key, strlen(key));
    msgpack_pack_str(&self->pk, len);
    msgpack_pack_str_body(&self->pk, s, len);
}

void
notify_obj_str(notify_obj_t *self, const char *key, const char *s)
{
    notify_obj_strn(self, key, s, strlen(s));
}

void
notify_obj_int(notify_obj_t *self, const char *key, int64_t v)
{
    notify_obj_key(self, key, strlen(key));
    msgpack_pack_int64(&self->pk, v);
}

void
notify_obj_num(notify_obj_t *self, const char *key, double v)
{
    notify_obj_key(self, key, strlen(key));
    msgpack_pack_double(&self->pk, v);
}

void
notify_obj_nil(notify_obj_t *self, const char *key)
{
    notify_obj_key(self, key, strlen(key));
    msgpack_pack_nil(&self->pk);
}

void
notify_obj_time(notify_obj_t *self, const char *key, int64_t wall_ms)
{
    char iso[CDT_ISO8601_LEN];
    cdt_clock_iso8601(wall_ms, iso);
    notify_obj_str(self, key, iso);
}

int
notify_send(emit_fn *emit, void *emit_arg, const char *hub,
            const char *const *groups, size_t n_groups, const char *target,
            const notify_obj_t *obj, const char *detail, const char *log_groups)
{
    cdt_buf_t args = CDT_BUF_INIT;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &args, cdt_buf_msgpack_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, obj->n_fields);
    cdt_buf_append(&args, obj->body.data, obj->body.len);
    int rc = emit(emit_arg, hub, groups, n_groups, target, args.data, args.len);
    cdt_buf_release(&args);
    if (rc != 0) {
        cdt_log_debug("[SignalR:%s] notification refused by the router",
                      target);
        return rc;
    }
    if (CDT_LOG_INFO <= cdt_log_threshold && log_groups) {
        cdt_log_info("[SignalR:%s] Sent notification - %s, Groups: [%s]",
                     target, detail, log_groups);
    } else if (CDT_LOG_INFO <= cdt_log_threshold) {
        cdt_buf_t list = CDT_BUF_INIT;
        for (size_t i = 0; i < n_groups; i++) {
            if (i)
                cdt_buf_append_str(&list, ", ");
            cdt_buf_append_str(&list, groups[i]);
        }
        cdt_log_info("[SignalR:%s] Sent notification - %s, Groups: [%s]",
                     target, detail, list.data ? (char *)list.data : "");
        cdt_buf_release(&list);
    }
    return 0;
}

bool
notify_group_arg_ok(const char *s, size_t len, size_t max)
{
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}
