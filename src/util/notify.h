/* notify.h: tells the service manager how `silo serve` is doing.
 *
 * Under systemd with Type=notify (packaging/silo.service) the manager
 * counts the service as started only when it gets READY=1, which serve
 * sends once the database is migrated, the stores are open and both
 * listeners accept; STOPPING=1 goes out when SIGTERM starts the drain.
 * Messages go through libsystemd's sd_notify to $NOTIFY_SOCKET; without
 * that variable (not under systemd) every call does nothing. */
#ifndef SILO_UTIL_NOTIFY_H
#define SILO_UTIL_NOTIFY_H

/* Each sends its state with status (borrowed, may be NULL) as STATUS=,
 * the line `systemctl status` shows. Failures to send are ignored: the
 * server runs the same with or without a manager listening. */
void notify_ready(const char *status);
void notify_stopping(const char *status);

#endif
