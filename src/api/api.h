/* api.h: the HTTP API listener: its route table and shared answers.
 *
 * Each domain has one file under src/api/ that exports its routes as an
 * array; api.c joins them into the table the router walks. Errors on this
 * listener are JSON: {"detail": "..."} as the FastAPI seeds answer, unless a
 * route family (OpenAI, seed 004) has its own shape. */
#ifndef SILO_API_API_H
#define SILO_API_API_H

#include "http/router.h"
#include "http/server.h"

/* The resolve and error callbacks of the API listener. */
const struct http_handler *api_resolve(struct http_request *req);
void api_respond_error(struct http_request *req, int status, const char *message);

/* Routes of the health file: /healthz, /readyz, /metrics. */
extern const struct route api_health_routes[];
extern const size_t api_health_route_count;

#endif
