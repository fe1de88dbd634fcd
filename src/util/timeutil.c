/* timeutil.c: see timeutil.h. Parsing is strict: every field is checked. */
#include "util/timeutil.h"

#include <stdio.h>
#include <string.h>

#include "util/error.h"

time_t time_now(void) { return time(NULL); }

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void time_format_iso8601(time_t t, char out[25])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 25, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

void time_format_amz(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void time_format_http(time_t t, char out[30])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&t, &tm);
    char text[64]; /* roomy: the compiler cannot know the year has 4 digits */
    snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    snprintf(out, 30, "%.29s", text);
}

/* Reads exactly n digits at s into *out. */
static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return SILO_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int make_time(int year, int mon, int day, int hour, int min, int sec, time_t *out)
{
    static const int month_days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1970 || year > 9999 || mon < 1 || mon > 12 || day < 1 || day > month_days[mon - 1] ||
        hour > 23 || min > 59 || sec > 60)
        return SILO_EINVAL;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = mon - 1,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = min,
                    .tm_sec = sec};
    *out = timegm(&tm);
    return 0;
}

int time_parse_amz(const char *s, time_t *out)
{
    int y, mo, d, h, mi, se;
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z' || digits(s, 4, &y) || digits(s + 4, 2, &mo) ||
        digits(s + 6, 2, &d) || digits(s + 9, 2, &h) || digits(s + 11, 2, &mi) || digits(s + 13, 2, &se))
        return SILO_EINVAL;
    return make_time(y, mo, d, h, mi, se, out);
}

int time_parse_iso8601(const char *s, time_t *out)
{
    int y, mo, d, h, mi, se;
    size_t n = strlen(s);
    if (n < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' ||
        s[16] != ':' || digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
        return SILO_EINVAL;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return SILO_EINVAL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z')
        p++;
    else if (strcmp(p, "+00:00") == 0)
        p += 6;
    if (*p != '\0')
        return SILO_EINVAL;
    return make_time(y, mo, d, h, mi, se, out);
}

int time_parse_http(const char *s, time_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int d, y, h, mi, se;
    /* "Fri, 24 May 2013 00:00:00 GMT" */
    if (strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || strcmp(s + 25, " GMT") != 0 || digits(s + 5, 2, &d) ||
        digits(s + 12, 4, &y) || digits(s + 17, 2, &h) || digits(s + 20, 2, &mi) || digits(s + 23, 2, &se))
        return SILO_EINVAL;
    const char *m = NULL;
    for (int i = 0; i < 12; i++)
        if (strncmp(months + 3 * i, s + 8, 3) == 0)
            m = months + 3 * i;
    if (!m)
        return SILO_EINVAL;
    return make_time(y, (int)((m - months) / 3) + 1, d, h, mi, se, out);
}

void time_format_iso8601_ms(int64_t ms, char out[25])
{
    if (ms < 0)
        ms = 0;
    time_format_iso8601((time_t)(ms / 1000), out);
    int frac = (int)(ms % 1000);
    out[20] = (char)('0' + frac / 100);
    out[21] = (char)('0' + frac / 10 % 10);
    out[22] = (char)('0' + frac % 10);
}
