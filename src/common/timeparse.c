/* ISO 8601 and file-name time patterns, to and from UTC seconds (proleptic Gregorian). */
#include "common/common.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool is_leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

void st_civil_from_utc(int64_t utc, int *year, int *month, int *day, int *yday) {
    int64_t z = (utc >= 0 ? utc : utc - 86399) / 86400 + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int64_t y = yoe + era * 400 + (m <= 2);
    *year = (int)y;
    *month = m;
    *day = d;
    if (yday) {
        *yday = (int)(days_from_civil(y, m, d) - days_from_civil(y, 1, 1)) + 1;
    }
}

void st_format_iso8601(int64_t utc, char *buf, size_t size) {
    int y, mo, d;
    st_civil_from_utc(utc, &y, &mo, &d, NULL);
    int64_t s = ((utc % 86400) + 86400) % 86400;
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, (int)(s / 3600),
             (int)(s / 60 % 60), (int)(s % 60));
}

/* Reads exactly n digits. */
static bool digits(const char **p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) {
            return false;
        }
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

typedef struct civil {
    int year, month, day, hour, min, sec;
    int yday; /* 0: not given (the date is year-month-day) */
} civil;

static bool civil_valid(const civil *c) {
    return c->month >= 1 && c->month <= 12 && c->day >= 1 &&
           c->day <= days_in_month(c->year, c->month) && c->hour <= 23 && c->min <= 59 &&
           c->sec <= 60;
}

static int64_t civil_to_utc(const civil *c) {
    int64_t days = c->yday ? days_from_civil(c->year, 1, 1) + c->yday - 1
                           : days_from_civil(c->year, c->month, c->day);
    return days * 86400 + c->hour * 3600 + c->min * 60 + c->sec;
}

/* Zone suffix: Z, +HH:MM, +HHMM, +HH or nothing (taken as UTC). */
static bool parse_zone(const char *p, int *offset) {
    int h = 0, m = 0;
    *offset = 0;
    if (*p == '\0' || ((*p == 'Z' || *p == 'z') && p[1] == '\0')) {
        return true;
    }
    if (*p != '+' && *p != '-') {
        return false;
    }
    int sign = *p == '-' ? -1 : 1;
    p++;
    if (!digits(&p, 2, &h)) {
        return false;
    }
    if (*p == ':') {
        p++;
    }
    if (*p && !digits(&p, 2, &m)) {
        return false;
    }
    *offset = sign * (h * 3600 + m * 60);
    return *p == '\0' && h <= 23 && m <= 59;
}

strata_status st_parse_iso8601(const char *text, int64_t *utc) {
    civil c = {0, 1, 1, 0, 0, 0, 0};
    const char *p = text;
    if (!digits(&p, 4, &c.year) || *p++ != '-' || !digits(&p, 2, &c.month)) {
        return STRATA_ERR_PARSE;
    }
    if (*p == '-') {
        p++;
        if (!digits(&p, 2, &c.day)) {
            return STRATA_ERR_PARSE;
        }
        if (*p == 'T' || *p == 't' || *p == ' ') {
            p++;
            if (!digits(&p, 2, &c.hour) || *p++ != ':' || !digits(&p, 2, &c.min)) {
                return STRATA_ERR_PARSE;
            }
            if (*p == ':') {
                p++;
                if (!digits(&p, 2, &c.sec)) {
                    return STRATA_ERR_PARSE;
                }
                if (*p == '.') { /* fractions of a second are dropped */
                    p++;
                    while (isdigit((unsigned char)*p)) {
                        p++;
                    }
                }
            }
        }
    }
    int offset;
    if (!civil_valid(&c) || !parse_zone(p, &offset)) {
        return STRATA_ERR_PARSE;
    }
    *utc = civil_to_utc(&c) - offset;
    return STRATA_OK;
}

/* Matches pattern at the start of s; fields %Y %m %d %H %M %S %j, %% a percent sign. */
static bool match_at(const char *s, const char *pat, civil *c) {
    for (; *pat; pat++) {
        if (*pat != '%') {
            if (*s++ != *pat) {
                return false;
            }
            continue;
        }
        pat++;
        int *field = NULL, width = 2;
        switch (*pat) {
        case 'Y':
            field = &c->year, width = 4;
            break;
        case 'm':
            field = &c->month;
            break;
        case 'd':
            field = &c->day;
            break;
        case 'H':
            field = &c->hour;
            break;
        case 'M':
            field = &c->min;
            break;
        case 'S':
            field = &c->sec;
            break;
        case 'j':
            field = &c->yday, width = 3;
            break;
        case '%':
            if (*s++ != '%') {
                return false;
            }
            continue;
        default:
            return false;
        }
        if (!digits(&s, width, field) || (field == &c->yday && *field == 0)) {
            return false;
        }
    }
    return true;
}

strata_status st_parse_time_pattern(const char *name, const char *pattern, int64_t *utc) {
    for (const char *s = name; *s; s++) {
        civil c = {1970, 1, 1, 0, 0, 0, 0};
        if (match_at(s, pattern, &c) && civil_valid(&c) &&
            c.yday <= (is_leap(c.year) ? 366 : 365)) {
            *utc = civil_to_utc(&c);
            return STRATA_OK;
        }
    }
    return STRATA_ERR_PARSE;
}
