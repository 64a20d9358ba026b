/*
 * Legal Kafka topic names (sluice/topic.h).
 */
#include <string.h>

#include "sluice/log.h"
#include "sluice/topic.h"

static bool legal_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool sl_topic_is_legal(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > SL_TOPIC_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!legal_char((unsigned char)name[i]))
            return false;
    return true;
}

/*
 * The length of the UTF-8 sequence at s, or 1 for a byte that does not
 * start a valid one (so that a name in another encoding still advances).
 */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4   ? 4
               : s[0] >= 0xe0 && s[0] <= 0xef ? 3
               : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
                                              : 1;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 1;
    return n;
}

bool sl_topic_sanitize(char *name)
{
    if (sl_topic_is_legal(name))
        return false;
    char original[1024];
    size_t olen = strlen(name);
    if (olen >= sizeof original)
        olen = sizeof original - 1;
    memcpy(original, name, olen);
    original[olen] = '\0';

    /* Each character Kafka refuses becomes '_', two for one Java counts as two (4-byte UTF-8). */
    unsigned char *in = (unsigned char *)name, *out = (unsigned char *)name;
    while (*in) {
        if (legal_char(*in)) {
            *out++ = *in++;
            continue;
        }
        size_t n = utf8_len(in);
        in += n;
        *out++ = '_';
        if (n == 4)
            *out++ = '_';
    }
    *out = '\0';
    size_t len = (size_t)(out - (unsigned char *)name);
    if (len > SL_TOPIC_MAX)
        name[SL_TOPIC_MAX] = '\0';
    else if (strcmp(name, ".") == 0)
        strcpy(name, "_");
    else if (strcmp(name, "..") == 0)
        strcpy(name, "__");
    sl_warn("topic \"%s\" is not a valid Kafka topic name; using \"%s\" instead", original, name);
    return true;
}
