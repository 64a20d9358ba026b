/*
 * A source position: where in the database's log a change or a transaction
 * ends. The core treats it as opaque bytes that it stores with each in-flight
 * transaction and hands back to the source once everything up to it is
 * durable; only the source that made a position interprets it, and the source
 * alone turns it into the text kept in the offsets file and back.
 */
#ifndef SLUICE_POSITION_H
#define SLUICE_POSITION_H

#include <stdint.h>

/*
 * Room for the PostgreSQL source's largest position, LSN (8 bytes), identity
 * with a 63-byte slot name (76) and transaction (12), and for more.
 */
#define SL_POSITION_MAX 128

typedef struct sl_position {
    uint16_t len; /* 0: no position */
    uint8_t bytes[SL_POSITION_MAX];
} sl_position;

#endif
