/*
 * Calendar arithmetic and temporal values as java.time computes them
 * (proleptic Gregorian, ISO formats), for Debezium's Date, Timestamp,
 * MicroTimestamp and ZonedTimestamp (dbz.h).
 */
#include <string.h>

#include "values/dbz.h"

int64_t sl_dbz_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void sl_dbz_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int sl_dbz_days_in_month(int64_t y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dim[m - 1];
}

int64_t sl_dbz_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t sl_dbz_floor_mod(int64_t a, int64_t b)
{
    return a - sl_dbz_floor_div(a, b) * b;
}

int64_t sl_dbz_epoch_micros(int64_t secs, int64_t micros)
{
    int64_t base;
    if (secs > INT64_MAX / SL_DBZ_US_PER_SEC)
        base = INT64_MAX;
    else if (secs < INT64_MIN / SL_DBZ_US_PER_SEC)
        base = INT64_MIN;
    else
        base = secs * SL_DBZ_US_PER_SEC;
    return (int64_t)((uint64_t)base + (uint64_t)micros);
}

bool sl_dbz_epoch_millis(int64_t secs, int64_t micros, int64_t *out)
{
    int64_t ms;
    if (__builtin_mul_overflow(secs, 1000, &ms) || __builtin_add_overflow(ms, micros / 1000, &ms))
        return false;
    *out = ms;
    return true;
}

char *sl_dbz_write_iso_ymd(char *w, int64_t y, int m, int d)
{
    if (y >= 1000 && y <= 9999) {
        int yy = (int)y;
        *w++ = (char)('0' + yy / 1000);
        *w++ = (char)('0' + yy / 100 % 10);
        *w++ = (char)('0' + yy / 10 % 10);
        *w++ = (char)('0' + yy % 10);
        goto month;
    }
    if (y > 9999)
        *w++ = '+';
    else if (y < 0)
        *w++ = '-';
    uint64_t ay = y < 0 ? (uint64_t)(-y) : (uint64_t)y;
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + ay % 10);
        ay /= 10;
    } while (ay);
    while (k < 4)
        tmp[k++] = '0';
    while (k)
        *w++ = tmp[--k];
month:
    *w++ = '-';
    *w++ = (char)('0' + m / 10);
    *w++ = (char)('0' + m % 10);
    *w++ = '-';
    *w++ = (char)('0' + d / 10);
    *w++ = (char)('0' + d % 10);
    return w;
}

char *sl_dbz_write_iso_time(char *w, int64_t micros_of_day, int digits)
{
    int64_t secs = micros_of_day / SL_DBZ_US_PER_SEC;
    int frac = (int)(micros_of_day % SL_DBZ_US_PER_SEC);
    int h = (int)(secs / 3600), m = (int)(secs / 60 % 60), s = (int)(secs % 60);
    *w++ = (char)('0' + h / 10);
    *w++ = (char)('0' + h % 10);
    *w++ = ':';
    *w++ = (char)('0' + m / 10);
    *w++ = (char)('0' + m % 10);
    *w++ = ':';
    *w++ = (char)('0' + s / 10);
    *w++ = (char)('0' + s % 10);
    char f[9];
    int nano = frac * 1000;
    for (int k = 8; k >= 0; k--) {
        f[k] = (char)('0' + nano % 10);
        nano /= 10;
    }
    int len = digits;
    if (digits == 0) {
        len = 9;
        while (len > 0 && f[len - 1] == '0')
            len--;
    }
    if (len > 0) {
        *w++ = '.';
        memcpy(w, f, (size_t)len);
        w += len;
    }
    return w;
}

char *sl_dbz_write_iso_date(char *w, int64_t days)
{
    int64_t y;
    int m, d;
    sl_dbz_civil_from_days(days, &y, &m, &d);
    return sl_dbz_write_iso_ymd(w, y, m, d);
}

void sl_dbz_zoned_timestamp(int64_t utc_days, int64_t utc_micros, int digits, sl_arena *arena,
                            sl_value *out)
{
    char *p = sl_arena_alloc(arena, 48);
    char *w = sl_dbz_write_iso_date(p, utc_days);
    *w++ = 'T';
    w = sl_dbz_write_iso_time(w, utc_micros, digits);
    *w++ = 'Z';
    *w = '\0';
    out->kind = SL_VALUE_STRING;
    out->len = (uint32_t)(w - p);
    out->u.str = p;
}
