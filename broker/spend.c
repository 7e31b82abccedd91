/*
 * spend - SpendUpdate batching, budget alerts, high-spend and unusual
 * spending detection (the rules are in spend.h).
 *
 * Keys live in a hash table by decimal id (the same string is the store
 * key). Keys with a pending batch are also on a FIFO list: every window
 * has the same length, so the list is in deadline order and its head is
 * the next deadline.
 *
 * SPDX-License-Identifier: MIT
 */
#include "broker/spend.h"

#include "broker/hashfn.h"
#include "broker/notify.h"

#define CDT_LOG_MODULE "spend"
#include "common/cdt_log.h"
#include "common/cdt_mem.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NS          "alert"
#define S_HUB         "SpendNotificationHub"
#define S_ADMIN_HUB   "AdminNotificationHub"
#define S_HIGH_BIT    (1u << CDT_CONFIG_MAX_THRESHOLDS) /* HighSpendAlert */
#define S_BUCKETS     10    /* buckets per short window */
#define S_SWEEP_MS    60000 /* how often idle keys are looked for */
#define S_ID_LEN      24    /* decimal int64 plus NUL */
#define S_GROUP_LEN   48
#define S_DETAIL_LEN  160
#define S_MS_PER_HOUR 3600000.0

typedef struct {
    int64_t index; /* start = index x bucket_ms (monotonic) */
    double sum;
    uint32_t count;
} s_bucket_t;

typedef struct s_key s_key_t;
struct s_key {
    int64_t id;
    char name[S_ID_LEN]; /* decimal id: hash and store key */

    /* the pending batch */
    bool pending;
    int64_t deadline_ms;  /* monotonic */
    s_key_t *prev, *next; /* the pending FIFO */
    double new_spend;
    uint32_t n_spends;
    double total;
    bool has_budget;
    double budget;
    char *provider; /* latest; NULL = absent */
    char *model;
    char *request_id;
    char *corr_id;

    /* budget alerts: bit i = thresholds[i] sent; S_HIGH_BIT = high spend */
    uint32_t sent;

    /* rate history, oldest bucket first */
    s_bucket_t *buckets;
    size_t n_buckets, cap_buckets;
    int64_t first_ms;   /* monotonic; the history begins here */
    bool has_unusual;   /* an UnusualSpending was sent at unusual_ms */
    int64_t unusual_ms; /* monotonic */
};

struct spend {
    store_t *store; /* borrowed; may be NULL */
    emit_fn *emit;
    void *emit_arg;

    int64_t window_ms;
    int64_t thresholds[CDT_CONFIG_MAX_THRESHOLDS];
    size_t n_thresholds;
    int64_t rearm_percent;
    int64_t short_ms, bucket_ms;
    int64_t short_buckets, long_buckets;
    double multiple;
    int64_t min_samples;
    int64_t cooldown_ms;

    zhashx_t *keys; /* name -> s_key_t (owned) */
    size_t n_keys;
    s_key_t *head, *tail;  /* pending FIFO */
    int64_t next_sweep_ms; /* monotonic; 0 = not armed */
};

/* -------------------------------------------------------------------- */
/* keys                                                                  */

static void
s_clear_batch(s_key_t *k)
{
    free(k->provider);
    free(k->model);
    free(k->request_id);
    free(k->corr_id);
    k->provider = k->model = k->request_id = k->corr_id = NULL;
    k->new_spend = 0;
    k->n_spends = 0;
}

static void
s_key_free(void **item)
{
    s_key_t *k = *item;
    if (!k)
        return;
    s_clear_batch(k);
    free(k->buckets);
    free(k);
    *item = NULL;
}

static s_key_t *
s_key_get(spend_t *self, int64_t id, bool create)
{
    char name[S_ID_LEN];
    snprintf(name, sizeof name, "%" PRId64, id);
    s_key_t *k = zhashx_lookup(self->keys, name);
    if (k || !create)
        return k;
    k = cdt_xcalloc(1, sizeof *k);
    k->id = id;
    memcpy(k->name, name, sizeof name);
    int rc = zhashx_insert(self->keys, k->name, k);
    assert(rc == 0);
    (void)rc;
    self->n_keys++;
    return k;
}

static void
s_unlink(spend_t *self, s_key_t *k)
{
    if (!k->pending)
        return;
    if (k->prev)
        k->prev->next = k->next;
    else
        self->head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    else
        self->tail = k->prev;
    k->prev = k->next = NULL;
    k->pending = false;
}

static char *
s_dup(cdt_str_t s)
{
    return s.len ? cdt_xstrndup(s.ptr, s.len) : NULL;
}

/* -------------------------------------------------------------------- */
/* persistence                                                           */

static void
s_persist(spend_t *self, const s_key_t *k)
{
    if (!self->store)
        return;
    size_t klen = strlen(k->name);
    if (k->sent == 0) {
        (void)store_delete(self->store, S_NS, k->name, klen);
        return;
    }
    cdt_buf_t buf = CDT_BUF_INIT;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, cdt_buf_msgpack_write);
    size_t n = 0;
    for (size_t i = 0; i < self->n_thresholds; i++)
        n += (k->sent >> i) & 1u;
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str(&pk, 10);
    msgpack_pack_str_body(&pk, "thresholds", 10);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < self->n_thresholds; i++)
        if (k->sent & (1u << i))
            msgpack_pack_int64(&pk, self->thresholds[i]);
    msgpack_pack_str(&pk, 9);
    msgpack_pack_str_body(&pk, "highSpend", 9);
    if (k->sent & S_HIGH_BIT)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    (void)store_put(self->store, S_NS, k->name, klen, buf.data, buf.len);
    cdt_buf_release(&buf);
}

static bool
s_str_is(const msgpack_object *o, const char *s)
{
    size_t len = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == len &&
           memcmp(o->via.str.ptr, s, len) == 0;
}

/* The sent-mask in a stored value, mapped onto the current thresholds. */
static uint32_t
s_decode_sent(const spend_t *self, const void *val, size_t vlen, bool *ok)
{
    uint32_t sent = 0;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    *ok = msgpack_unpack_next(&u, val, vlen, NULL) == MSGPACK_UNPACK_SUCCESS &&
          u.data.type == MSGPACK_OBJECT_MAP;
    if (*ok) {
        const msgpack_object_map *m = &u.data.via.map;
        for (uint32_t i = 0; i < m->size; i++) {
            const msgpack_object *v = &m->ptr[i].val;
            if (s_str_is(&m->ptr[i].key, "highSpend") &&
                v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean)
                sent |= S_HIGH_BIT;
            if (!s_str_is(&m->ptr[i].key, "thresholds") ||
                v->type != MSGPACK_OBJECT_ARRAY)
                continue;
            for (uint32_t j = 0; j < v->via.array.size; j++) {
                const msgpack_object *t = &v->via.array.ptr[j];
                if (t->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                    continue;
                for (size_t x = 0; x < self->n_thresholds; x++)
                    if ((uint64_t)self->thresholds[x] == t->via.u64)
                        sent |= 1u << x;
            }
        }
    }
    msgpack_unpacked_destroy(&u);
    return sent;
}

static int
s_load_one(void *arg, const void *key, size_t klen, const void *val,
           size_t vlen)
{
    spend_t *self = arg;
    char name[S_ID_LEN];
    char *end;
    if (klen == 0 || klen >= sizeof name)
        goto bad;
    memcpy(name, key, klen);
    name[klen] = '\0';
    long long id = strtoll(name, &end, 10);
    bool ok;
    uint32_t sent = s_decode_sent(self, val, vlen, &ok);
    if (*end || !ok)
        goto bad;
    if (sent)
        s_key_get(self, id, true)->sent = sent;
    return 0;
bad:
    cdt_log_warn("ignoring unreadable alert state in the store (%zu bytes)",
                 vlen);
    return 0;
}

/* -------------------------------------------------------------------- */
/* notifications                                                         */

static void
s_vkey_group(char *buf, size_t len, const char *prefix, const s_key_t *k)
{
    snprintf(buf, len, "%s%s", prefix, k->name);
}

static void
s_obj_opt(notify_obj_t *o, const char *key, const char *s)
{
    if (s)
        notify_obj_str(o, key, s);
    else
        notify_obj_nil(o, key);
}

static void
s_flush_key(spend_t *self, s_key_t *k, int64_t now_wall_ms)
{
    s_unlink(self, k);
    if (k->n_spends == 0)
        return;
    notify_obj_t o;
    notify_obj_init(&o);
    notify_obj_int(&o, "virtualKeyId", k->id);
    notify_obj_num(&o, "newSpend", k->new_spend);
    notify_obj_num(&o, "totalSpend", k->total);
    if (k->has_budget) {
        notify_obj_num(&o, "budget", k->budget);
        notify_obj_num(&o, "budgetPercentage", k->total / k->budget * 100.0);
    } else {
        notify_obj_nil(&o, "budget");
        notify_obj_nil(&o, "budgetPercentage");
    }
    s_obj_opt(&o, "provider", k->provider);
    s_obj_opt(&o, "model", k->model);
    notify_obj_int(&o, "requestCount", k->n_spends);
    if (k->request_id)
        notify_obj_str(&o, "requestId", k->request_id);
    if (k->corr_id)
        notify_obj_str(&o, "correlationId", k->corr_id);
    notify_obj_time(&o, "timestamp", now_wall_ms);

    char group[S_GROUP_LEN], detail[S_DETAIL_LEN];
    s_vkey_group(group, sizeof group, "vkey-", k);
    snprintf(detail, sizeof detail,
             "VirtualKey: %" PRId64 ", NewSpend: %.4f, Requests: %" PRIu32,
             k->id, k->new_spend, k->n_spends);
    const char *groups[] = {group};
    (void)notify_send(self->emit, self->emit_arg, S_HUB, groups, 1,
                      "SpendUpdate", &o, detail, NULL);
    notify_obj_release(&o);
    s_clear_batch(k);
}

static const char *
s_severity(int64_t threshold)
{
    return threshold >= 100 ? "critical" : threshold >= 90 ? "warning" : "info";
}

static void
s_budget_alert(spend_t *self, const s_key_t *k, const cdt_ingress_t *msg,
               int64_t threshold, double pct, int64_t now_wall_ms)
{
    char text[S_DETAIL_LEN], type[48];
    if (threshold >= 100) {
        snprintf(type, sizeof type, "budget_exceeded");
        snprintf(text, sizeof text,
                 "Budget limit reached: %.2f of %.2f spent (%.1f%%) - further "
                 "requests may be blocked",
                 msg->total_spend, msg->budget, pct);
    } else {
        snprintf(type, sizeof type, "budget_%" PRId64 "_percent", threshold);
        snprintf(text, sizeof text,
                 "Budget %" PRId64 "%% threshold reached: %.2f of %.2f spent "
                 "(%.1f%%)",
                 threshold, msg->total_spend, msg->budget, pct);
    }
    double remaining = msg->budget - msg->total_spend;
    notify_obj_t o;
    notify_obj_init(&o);
    notify_obj_int(&o, "virtualKeyId", k->id);
    notify_obj_str(&o, "alertType", type);
    notify_obj_int(&o, "threshold", threshold);
    notify_obj_num(&o, "percentage", pct);
    notify_obj_str(&o, "severity", s_severity(threshold));
    notify_obj_str(&o, "message", text);
    notify_obj_num(&o, "totalSpend", msg->total_spend);
    notify_obj_num(&o, "budget", msg->budget);
    notify_obj_num(&o, "remaining", remaining > 0 ? remaining : 0);
    if (msg->request_id.len)
        notify_obj_strn(&o, "requestId", msg->request_id.ptr,
                        msg->request_id.len);
    if (msg->id.len)
        notify_obj_strn(&o, "correlationId", msg->id.ptr, msg->id.len);
    notify_obj_time(&o, "timestamp", now_wall_ms);

    char group[S_GROUP_LEN], detail[S_DETAIL_LEN];
    s_vkey_group(group, sizeof group, "vkey-", k);
    snprintf(detail, sizeof detail,
             "VirtualKey: %" PRId64 ", Threshold: %" PRId64 "%%", k->id,
             threshold);
    const char *groups[] = {group};
    (void)notify_send(self->emit, self->emit_arg, S_HUB, groups, 1,
                      "BudgetAlert", &o, detail, NULL);
    notify_obj_release(&o);
}

static void
s_high_spend_alert(spend_t *self, const s_key_t *k, const cdt_ingress_t *msg,
                   double pct, int64_t now_wall_ms)
{
    char text[S_DETAIL_LEN];
    snprintf(text, sizeof text,
             "Virtual key %" PRId64 " reached %.1f%% of its budget (%.2f of "
             "%.2f)",
             k->id, pct, msg->total_spend, msg->budget);
    notify_obj_t o;
    notify_obj_init(&o);
    notify_obj_int(&o, "virtualKeyId", k->id);
    notify_obj_num(&o, "totalSpend", msg->total_spend);
    notify_obj_num(&o, "budget", msg->budget);
    notify_obj_num(&o, "percentage", pct);
    notify_obj_str(&o, "severity", "critical");
    notify_obj_str(&o, "message", text);
    s_obj_opt(&o, "provider", k->provider);
    s_obj_opt(&o, "model", k->model);
    notify_obj_time(&o, "timestamp", now_wall_ms);

    char group[S_GROUP_LEN], detail[S_DETAIL_LEN];
    s_vkey_group(group, sizeof group, "admin-vkey-", k);
    snprintf(detail, sizeof detail,
             "VirtualKey: %" PRId64 ", Percentage: %.1f%%", k->id, pct);
    const char *groups[] = {"admin", group};
    (void)notify_send(self->emit, self->emit_arg, S_ADMIN_HUB, groups, 2,
                      "HighSpendAlert", &o, detail, NULL);
    notify_obj_release(&o);
}

typedef struct {
    double recent, baseline; /* sums */
    double recent_ms, baseline_ms;
    int64_t samples; /* spends in the baseline */
} s_rates_t;

static void
s_unusual_alert(spend_t *self, const s_key_t *k, const s_rates_t *r,
                int64_t now_wall_ms)
{
    double cur = r->recent / r->recent_ms * S_MS_PER_HOUR;
    double normal = r->baseline / r->baseline_ms * S_MS_PER_HOUR;
    double deviation = (cur / normal - 1.0) * 100.0;
    char text[S_DETAIL_LEN];
    snprintf(text, sizeof text,
             "Spending rate %.2f/h is %.1fx the usual %.2f/h", cur,
             cur / normal, normal);
    notify_obj_t o;
    notify_obj_init(&o);
    notify_obj_int(&o, "virtualKeyId", k->id);
    notify_obj_str(&o, "activityType", "spend_spike");
    notify_obj_str(&o, "description", text);
    notify_obj_num(&o, "currentRate", cur);
    notify_obj_num(&o, "normalRate", normal);
    notify_obj_num(&o, "deviationPercentage", deviation);
    notify_obj_num(&o, "recentSpend", r->recent);
    notify_obj_num(&o, "baselineSpend", r->baseline);
    notify_obj_int(&o, "windowMs", self->short_ms);
    s_obj_opt(&o, "provider", k->provider);
    s_obj_opt(&o, "model", k->model);
    notify_obj_time(&o, "timestamp", now_wall_ms);

    char group[S_GROUP_LEN], detail[S_DETAIL_LEN];
    s_vkey_group(group, sizeof group, "vkey-", k);
    snprintf(detail, sizeof detail,
             "VirtualKey: %" PRId64 ", Rate: %.2f/h, Baseline: %.2f/h", k->id,
             cur, normal);
    const char *groups[] = {group};
    (void)notify_send(self->emit, self->emit_arg, S_HUB, groups, 1,
                      "UnusualSpending", &o, detail, NULL);
    notify_obj_release(&o);
}

/* -------------------------------------------------------------------- */
/* rules                                                                 */

/* Drops buckets that fell out of the long window. */
static void
s_prune(spend_t *self, s_key_t *k, int64_t now_ms)
{
    int64_t oldest = now_ms / self->bucket_ms - self->long_buckets + 1;
    size_t drop = 0;
    while (drop < k->n_buckets && k->buckets[drop].index < oldest)
        drop++;
    if (drop == 0)
        return;
    k->n_buckets -= drop;
    memmove(k->buckets, k->buckets + drop, k->n_buckets * sizeof *k->buckets);
}

static void
s_record(spend_t *self, s_key_t *k, double amount, int64_t now_ms)
{
    s_prune(self, k, now_ms);
    if (k->n_buckets == 0)
        k->first_ms = now_ms; /* no history left: it starts again here */
    int64_t index = now_ms / self->bucket_ms;
    if (k->n_buckets && k->buckets[k->n_buckets - 1].index == index) {
        k->buckets[k->n_buckets - 1].sum += amount;
        k->buckets[k->n_buckets - 1].count++;
        return;
    }
    if (k->n_buckets == k->cap_buckets) {
        k->cap_buckets = k->cap_buckets ? k->cap_buckets * 2 : 8;
        k->buckets =
            cdt_xrealloc(k->buckets, k->cap_buckets * sizeof *k->buckets);
    }
    k->buckets[k->n_buckets++] = (s_bucket_t){index, amount, 1};
}

/* Recent and baseline sums and spans, aligned on bucket boundaries: the
 * recent window is the current (partial) bucket and the short_buckets - 1
 * before it; the baseline is the rest of the long window, cut where the
 * key's history begins. */
static void
s_rates(const spend_t *self, const s_key_t *k, int64_t now_ms, s_rates_t *r)
{
    int64_t w = self->bucket_ms;
    int64_t cur = now_ms / w;
    int64_t recent_first = cur - self->short_buckets + 1;
    int64_t base_first = cur - self->long_buckets + 1;
    if (base_first < k->first_ms / w)
        base_first = k->first_ms / w;
    memset(r, 0, sizeof *r);
    r->recent_ms = (double)(now_ms - recent_first * w);
    r->baseline_ms = (double)((recent_first - base_first) * w);
    for (size_t i = 0; i < k->n_buckets; i++) {
        const s_bucket_t *b = &k->buckets[i];
        if (b->index >= recent_first) {
            r->recent += b->sum;
        } else if (b->index >= base_first) {
            r->baseline += b->sum;
            r->samples += b->count;
        }
    }
}

static bool
s_unusual(const spend_t *self, const s_key_t *k, int64_t now_ms, s_rates_t *r)
{
    if (k->has_unusual && now_ms - k->unusual_ms < self->cooldown_ms)
        return false;
    s_rates(self, k, now_ms, r);
    if (r->samples < self->min_samples || r->baseline_ms <= 0 ||
        r->recent_ms <= 0 || r->baseline <= 0 || r->recent <= 0)
        return false;
    return r->recent / r->recent_ms >
           self->multiple * (r->baseline / r->baseline_ms);
}

/* Updates the sent mask for usage pct; returns the index of the threshold
 * to alert for, or -1. */
static int
s_thresholds(spend_t *self, s_key_t *k, double pct, bool *high)
{
    *high = false;
    if (pct < (double)self->rearm_percent) {
        for (size_t i = 0; i < self->n_thresholds; i++)
            if (pct < (double)self->thresholds[i])
                k->sent &= ~(1u << i);
        if (pct < 100.0)
            k->sent &= ~S_HIGH_BIT;
    }
    int top = -1;
    for (size_t i = 0; i < self->n_thresholds; i++)
        if (pct >= (double)self->thresholds[i])
            top = (int)i;
    if (pct >= 100.0 && !(k->sent & S_HIGH_BIT)) {
        k->sent |= S_HIGH_BIT;
        *high = true;
    }
    if (top < 0 || (k->sent & (1u << top)))
        return -1;
    k->sent |= (1u << (top + 1)) - 1; /* top and every one below it */
    return top;
}

/* -------------------------------------------------------------------- */
/* API                                                                   */

spend_t *
spend_new(const cdt_config_t *cfg, store_t *store, emit_fn *emit,
          void *emit_arg)
{
    assert(cfg && emit);
    spend_t *self = cdt_xcalloc(1, sizeof *self);
    self->store = store;
    self->emit = emit;
    self->emit_arg = emit_arg;
    self->keys = zhashx_new();
    zhashx_set_key_hasher(self->keys, hashfn_str);
    zhashx_set_destructor(self->keys, s_key_free);
    if (cfg->spend_unusual_short_ms <= 0 ||
        cfg->spend_unusual_short_ms >= cfg->spend_unusual_long_ms) {
        cdt_log_error("invalid spend configuration: unusual_short_ms (%" PRId64
                      ") must be shorter than unusual_long_ms (%" PRId64 ")",
                      cfg->spend_unusual_short_ms, cfg->spend_unusual_long_ms);
        goto fail;
    }
    if (cfg->spend_n_thresholds > CDT_CONFIG_MAX_THRESHOLDS ||
        cfg->spend_window_ms < 0 || !(cfg->spend_unusual_multiple > 0) ||
        cfg->spend_unusual_cooldown_ms < 0) {
        cdt_log_error("invalid spend configuration: a value is out of range");
        goto fail;
    }
    for (size_t i = 0; i < cfg->spend_n_thresholds; i++) {
        if (cfg->spend_thresholds[i] <= 0 ||
            (i && cfg->spend_thresholds[i] <= cfg->spend_thresholds[i - 1])) {
            cdt_log_error("invalid spend configuration: thresholds must be "
                          "positive and ascending");
            goto fail;
        }
        self->thresholds[i] = cfg->spend_thresholds[i];
    }
    self->n_thresholds = cfg->spend_n_thresholds;
    self->window_ms = cfg->spend_window_ms;
    self->rearm_percent = cfg->spend_rearm_percent;
    self->short_ms = cfg->spend_unusual_short_ms;
    self->bucket_ms = self->short_ms / S_BUCKETS;
    if (self->bucket_ms < 1)
        self->bucket_ms = 1;
    self->short_buckets = self->short_ms / self->bucket_ms;
    self->long_buckets = cfg->spend_unusual_long_ms / self->bucket_ms;
    self->multiple = cfg->spend_unusual_multiple;
    self->min_samples = cfg->spend_unusual_min_samples;
    self->cooldown_ms = cfg->spend_unusual_cooldown_ms;
    if (store && store_iterate(store, S_NS, s_load_one, self) < 0)
        goto fail;
    if (self->n_keys)
        cdt_log_info("restored the budget alert state of %zu keys",
                     self->n_keys);
    return self;
fail:
    spend_destroy(&self);
    return NULL;
}

void
spend_destroy(spend_t **self_p)
{
    assert(self_p);
    spend_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->keys);
    free(self);
    *self_p = NULL;
}

int
spend_ingest(spend_t *self, const cdt_ingress_t *msg, int64_t now_mono_ms,
             int64_t now_wall_ms, char *err, size_t errlen)
{
    if (msg->type != CDT_IN_SPEND) {
        snprintf(err, errlen, "not a spend message");
        return -1;
    }
    if (!msg->has_key_id) {
        snprintf(err, errlen, "missing field 'virtualKeyId'");
        return -1;
    }
    if (!isfinite(msg->amount)) {
        snprintf(err, errlen, "field 'amount' must be a finite number");
        return -1;
    }
    if (!isfinite(msg->total_spend)) {
        snprintf(err, errlen, "field 'totalSpend' must be a finite number");
        return -1;
    }
    if (msg->has_budget && !isfinite(msg->budget)) {
        snprintf(err, errlen, "field 'budget' must be a finite number");
        return -1;
    }
    bool has_budget = msg->has_budget && msg->budget > 0;

    s_key_t *k = s_key_get(self, msg->key_id, true);
    if (self->next_sweep_ms == 0)
        self->next_sweep_ms = now_mono_ms + S_SWEEP_MS;

    /* the batch */
    if (!k->pending) {
        k->pending = true;
        k->deadline_ms = now_mono_ms + self->window_ms;
        k->prev = self->tail;
        k->next = NULL;
        if (self->tail)
            self->tail->next = k;
        else
            self->head = k;
        self->tail = k;
    }
    k->new_spend += msg->amount;
    k->n_spends++;
    k->total = msg->total_spend;
    k->has_budget = has_budget;
    k->budget = has_budget ? msg->budget : 0;
    if (msg->provider.len) {
        free(k->provider);
        k->provider = s_dup(msg->provider);
    }
    if (msg->model.len) {
        free(k->model);
        k->model = s_dup(msg->model);
    }
    free(k->request_id);
    k->request_id = s_dup(msg->request_id);
    free(k->corr_id);
    k->corr_id = s_dup(msg->id);

    /* the rules */
    s_record(self, k, msg->amount, now_mono_ms);
    s_rates_t rates;
    bool unusual = s_unusual(self, k, now_mono_ms, &rates);
    if (unusual) {
        k->has_unusual = true;
        k->unusual_ms = now_mono_ms;
    }
    int top = -1;
    bool high = false;
    double pct = 0;
    if (has_budget) {
        pct = msg->total_spend / msg->budget * 100.0;
        uint32_t before = k->sent;
        top = s_thresholds(self, k, pct, &high);
        if (k->sent != before)
            s_persist(self, k); /* durable before anything is sent */
    }

    if (top >= 0)
        s_budget_alert(self, k, msg, self->thresholds[top], pct, now_wall_ms);
    if (high)
        s_high_spend_alert(self, k, msg, pct, now_wall_ms);
    if (unusual)
        s_unusual_alert(self, k, &rates, now_wall_ms);
    if (top >= 0 || high || unusual || self->window_ms == 0)
        s_flush_key(self, k, now_wall_ms);
    return 0;
}

void
spend_tick(spend_t *self, int64_t now_mono_ms, int64_t now_wall_ms)
{
    while (self->head && self->head->deadline_ms <= now_mono_ms)
        s_flush_key(self, self->head, now_wall_ms);
    if (self->next_sweep_ms == 0 || now_mono_ms < self->next_sweep_ms)
        return;

    /* forget keys with nothing left to remember; collect first, since the
     * table must not change while it is walked */
    zlistx_t *idle = zlistx_new();
    for (s_key_t *k = zhashx_first(self->keys); k;
         k = zhashx_next(self->keys)) {
        s_prune(self, k, now_mono_ms);
        bool cooling =
            k->has_unusual && now_mono_ms - k->unusual_ms < self->cooldown_ms;
        if (!k->pending && k->n_buckets == 0 && k->sent == 0 && !cooling)
            zlistx_add_end(idle, k->name);
    }
    for (char *name = zlistx_first(idle); name; name = zlistx_next(idle)) {
        zhashx_delete(self->keys, name);
        self->n_keys--;
    }
    zlistx_destroy(&idle);
    self->next_sweep_ms = self->n_keys ? now_mono_ms + S_SWEEP_MS : 0;
}

int64_t
spend_next_deadline(const spend_t *self)
{
    int64_t next = self->head ? self->head->deadline_ms : -1;
    if (self->next_sweep_ms && (next < 0 || self->next_sweep_ms < next))
        next = self->next_sweep_ms;
    return next;
}

void
spend_flush(spend_t *self, int64_t now_wall_ms)
{
    while (self->head)
        s_flush_key(self, self->head, now_wall_ms);
}
