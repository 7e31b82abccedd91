/*
 * cdt_ratelog - lets a WARN about bad input through at most once per interval.
 *
 * SPDX-License-Identifier: MIT
 */
#include "common/cdt_ratelog.h"

#include <stddef.h>

bool
cdt_ratelog_allow(cdt_ratelog_t *self, int64_t now_ms, uint64_t *suppressed_p)
{
    if (self->last_ms != 0 &&
        now_ms - self->last_ms < CDT_RATELOG_INTERVAL_MS) {
        self->suppressed++;
        return false;
    }
    if (suppressed_p)
        *suppressed_p = self->suppressed;
    self->suppressed = 0;
    self->last_ms = now_ms ? now_ms : 1;
    return true;
}
