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
 * Room for the largest position a source makes: the PostgreSQL source's
 * LSN, identity with a 63-byte slot name (76) and transaction (12), the
 * MySQL source's binlog file and position with a GTID set of several
 * servers (my_position.h). The checkpoint ring holds one per transaction in
 * flight.
 */
#define SL_POSITION_MAX 256

typedef struct sl_position {
    uint16_t len; /* 0: no position */
    uint8_t bytes[SL_POSITION_MAX];
} sl_position;

#endif
