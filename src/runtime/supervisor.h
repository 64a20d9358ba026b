/*
 * The supervisor of `sluice run`: one pipeline thread per connector, the
 * signals, and each connector's life.
 *
 * Runs on the main thread, which blocks SIGTERM, SIGINT and SIGHUP in every
 * thread and takes them with sigtimedwait. SIGTERM or SIGINT stops every
 * connector (flush, final checkpoint) and ends the run. SIGHUP reloads the
 * connector files (reload.h): an added file starts, a removed one stops with
 * a final checkpoint as on SIGTERM, a changed one restarts (its old
 * configuration stops as an operator's restart would, keeping its slot, then
 * the new one starts), an invalid one is refused with the reason and changes
 * nothing. A connector that reuses the name or offsets file of one still
 * stopping waits for it to end.
 *
 * A connector that fails for good stays failed (its status says why) while
 * the others keep running; it starts again when its file changes or an
 * operator restarts it (POST /connectors/NAME/restart). The run ends by
 * itself when every connector has failed.
 */
#ifndef SLUICE_SUPERVISOR_H
#define SLUICE_SUPERVISOR_H

#include <stddef.h>

#include "runtime/connector.h"
#include "http/http_server.h"

/*
 * Runs the n connectors conns (loaded from paths, checked to run side by
 * side; the supervisor takes conns and each connector, and copies paths)
 * until a stop, starting the HTTP listener of http. argc and argv are the
 * command line's FILE and DIR arguments, scanned again on each SIGHUP.
 * Returns the exit status (README, "Exit codes"): 0 after a requested stop,
 * else the status of the first connector to fail for good that is still
 * part of the run (one a reload removed stopped cleanly, and one restarted
 * since no longer counts).
 */
int sl_supervisor_run(int argc, char *const *argv, char *const *paths, sl_connector **conns,
                      size_t n, const sl_http_options *http);

#endif
