/*
 * The environment of a spawned program (websocketd's CGI-style one, or
 * CGI/1.1), built from plain facts about the request: the connection
 * side fills struct proc_request (TLS facts as strings), so neither this
 * module nor the process backend looks into a connection.
 */
#ifndef PROC_ENV_H
#define PROC_ENV_H

#include <stdbool.h>

struct hs_request;
struct route;
struct strlist;

struct proc_request {
	const struct hs_request	*req;		/* method, URL, headers */
	const char		*peer_ip;
	int			 peer_port;
	const char		*local_ip;
	int			 local_port;
	const char		*path;		/* decoded request path */
	const char		*query;		/* NULL: none */
	const char		*script_name;	/* NULL: the path */
	const char		*path_info;	/* NULL: "" */
	const char		*program;	/* dir routes, CGI: its file */
	const char		*remote_user;	/* NULL: not authenticated */
	const char		*remote_host;	/* NULL: the address */
	bool			 tls;
	const char		*tls_protocol;	/* "TLSv1.3" */
	const char		*tls_verify;	/* "SUCCESS", "NONE", ... */
	const char		*tls_client_dn;	/* NULL: no certificate */
};

/*
 * Fill env for route r (NULL: a CGI program) and return its vector,
 * NULL-terminated; strlist_free(env) after the spawn. NULL when out of
 * memory (env is then empty).
 */
char	**proc_env_build(const struct route *, const struct proc_request *,
	    struct strlist *env);

#endif
