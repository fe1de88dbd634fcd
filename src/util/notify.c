/* notify.c: sd_notify readiness and stopping messages; see notify.h. */
#include "util/notify.h"

#include <systemd/sd-daemon.h>

static void send_state(const char *state, const char *status)
{
    if (status)
        sd_notifyf(0, "%s\nSTATUS=%s", state, status);
    else
        sd_notify(0, state);
}

void notify_ready(const char *status) { send_state("READY=1", status); }

void notify_stopping(const char *status) { send_state("STOPPING=1", status); }
