/* metrics.c: a fixed table of series under one mutex; see metrics.h.
 *
 * The label sets are few (routes are a static table), so a linear probe in
 * a small open-addressed table is plenty. Labels are copied into the table
 * once; when it is full, further series are counted under route "other". */
#include "http/metrics.h"
#include "util/limits.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "util/version.h"

static const double bucket_bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define BUCKETS (sizeof bucket_bounds / sizeof bucket_bounds[0])

struct series {
    char listener[16];
    char route[METRICS_LABEL_MAX];
    char method[16];
    int status;
    uint64_t count;
    uint64_t buckets[BUCKETS];
    double seconds_sum;
    uint64_t bytes_in;
    uint64_t bytes_out;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct series table[METRICS_MAX_SERIES];
static size_t used;
static atomic_long uploads_in_flight;

static struct series *find(const char *listener, const char *route, const char *method, int status)
{
    for (size_t i = 0; i < used; i++) {
        struct series *s = &table[i];
        if (s->status == status && strcmp(s->route, route) == 0 && strcmp(s->method, method) == 0 &&
            strcmp(s->listener, listener) == 0)
            return s;
    }
    if (used == METRICS_MAX_SERIES)
        return strcmp(route, "other") == 0 ? &table[METRICS_MAX_SERIES - 1]
                                           : find(listener, "other", method, status);
    struct series *s = &table[used++];
    snprintf(s->listener, sizeof s->listener, "%s", listener);
    snprintf(s->route, sizeof s->route, "%s", route);
    snprintf(s->method, sizeof s->method, "%s", method);
    s->status = status;
    return s;
}

void metrics_record(const char *listener, const char *route, const char *method, int status, int64_t ms,
                    uint64_t bytes_in, uint64_t bytes_out)
{
    double seconds = (double)ms / 1000.0;
    pthread_mutex_lock(&lock);
    struct series *s = find(listener, route, method, status);
    s->count++;
    for (size_t b = 0; b < BUCKETS; b++)
        if (seconds <= bucket_bounds[b])
            s->buckets[b]++;
    s->seconds_sum += seconds;
    s->bytes_in += bytes_in;
    s->bytes_out += bytes_out;
    pthread_mutex_unlock(&lock);
}

void metrics_upload_begin(void) { atomic_fetch_add(&uploads_in_flight, 1); }
void metrics_upload_end(void) { atomic_fetch_sub(&uploads_in_flight, 1); }

/* Label values are route patterns and methods: escape '\' and '"' anyway. */
static int label(struct buf *out, const char *v)
{
    int rc = 0;
    for (; *v && !rc; v++) {
        if (*v == '\\' || *v == '"')
            rc = buf_append(out, "\\", 1);
        if (!rc)
            rc = buf_append(out, v, 1);
    }
    return rc;
}

static int labels(struct buf *out, const struct series *s)
{
    int rc = buf_printf(out, "{listener=\"%s\",route=\"", s->listener);
    rc = rc ? rc : label(out, s->route);
    rc = rc ? rc : buf_append_str(out, "\",method=\"");
    rc = rc ? rc : label(out, s->method);
    rc = rc ? rc : buf_printf(out, "\",status=\"%d\"", s->status);
    return rc;
}

int metrics_render(struct buf *out)
{
    int rc = 0;
    pthread_mutex_lock(&lock);
    rc = buf_append_str(out, "# HELP silo_http_requests_total Requests served, by route and status.\n"
                             "# TYPE silo_http_requests_total counter\n");
    for (size_t i = 0; i < used && !rc; i++) {
        rc = buf_append_str(out, "silo_http_requests_total");
        rc = rc ? rc : labels(out, &table[i]);
        rc = rc ? rc : buf_printf(out, "} %llu\n", (unsigned long long)table[i].count);
    }
    rc = rc ? rc
            : buf_append_str(out, "# HELP silo_http_request_duration_seconds Time to answer a request.\n"
                                  "# TYPE silo_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < used && !rc; i++) {
        const struct series *s = &table[i];
        for (size_t b = 0; b <= BUCKETS && !rc; b++) {
            rc = buf_append_str(out, "silo_http_request_duration_seconds_bucket");
            rc = rc ? rc : labels(out, s);
            if (b < BUCKETS)
                rc = rc ? rc
                        : buf_printf(out, ",le=\"%g\"} %llu\n", bucket_bounds[b],
                                     (unsigned long long)s->buckets[b]);
            else
                rc = rc ? rc : buf_printf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)s->count);
        }
        rc = rc ? rc : buf_append_str(out, "silo_http_request_duration_seconds_sum");
        rc = rc ? rc : labels(out, s);
        rc = rc ? rc : buf_printf(out, "} %.6f\n", s->seconds_sum);
        rc = rc ? rc : buf_append_str(out, "silo_http_request_duration_seconds_count");
        rc = rc ? rc : labels(out, s);
        rc = rc ? rc : buf_printf(out, "} %llu\n", (unsigned long long)s->count);
    }
    static const char *byte_names[2] = {"silo_http_request_bytes_total", "silo_http_response_bytes_total"};
    for (int k = 0; k < 2 && !rc; k++) {
        rc = buf_printf(out, "# HELP %s Bytes %s.\n# TYPE %s counter\n", byte_names[k],
                        k ? "sent in response bodies" : "received in request bodies", byte_names[k]);
        for (size_t i = 0; i < used && !rc; i++) {
            rc = buf_append_str(out, byte_names[k]);
            rc = rc ? rc : labels(out, &table[i]);
            rc = rc ? rc
                    : buf_printf(out, "} %llu\n",
                                 (unsigned long long)(k ? table[i].bytes_out : table[i].bytes_in));
        }
    }
    pthread_mutex_unlock(&lock);
    rc = rc ? rc
            : buf_printf(out,
                         "# HELP silo_uploads_in_flight Request bodies being received now.\n"
                         "# TYPE silo_uploads_in_flight gauge\nsilo_uploads_in_flight %ld\n",
                         atomic_load(&uploads_in_flight));
    rc = rc ? rc : version_render_metric(out);
    return rc;
}
