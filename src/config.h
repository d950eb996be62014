/*
 * Configuration: the [server], [tls] and [route PATH] model, its defaults,
 * the INI loader (inih) with FILE:LINE errors, checks and route lookup.
 * Pure: no libev, no sockets other than address parsing/resolution.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* Defaults, each also a config key (documented in conf/wsbridge.ini). */
#define CONFIG_DEFAULT_PORT		8080
#define CONFIG_MAX_CONNECTIONS		10000
#define CONFIG_HANDSHAKE_TIMEOUT_MS	10000
#define CONFIG_CGI_TIMEOUT_MS		30000
#define CONFIG_CGI_MAX_BODY		(10LL * 1024 * 1024)
#define CONFIG_CLOSE_TIMEOUT_MS		5000
#define CONFIG_SHUTDOWN_TIMEOUT_MS	10000
#define CONFIG_MAX_HEADER_SIZE		(16 * 1024)
#define CONFIG_MAX_MESSAGE_SIZE		(1024 * 1024)
#define CONFIG_BUFFER_SIZE		(256 * 1024)
#define CONFIG_PING_INTERVAL_MS		30000
#define CONFIG_PING_TIMEOUT_MS		30000
#define CONFIG_IDLE_TIMEOUT_MS		0
#define CONFIG_SEND_TIMEOUT_MS		30000
#define CONFIG_CLOSE_GRACE_MS		500
#define CONFIG_CONNECT_TIMEOUT_MS	5000
#define CONFIG_POLL_TIMEOUT_MS		25000
#define CONFIG_SESSION_TIMEOUT_MS	60000
#define CONFIG_MAX_LINE			199	/* inih's line limit */
/* Used when neither the file nor the flags name a listener. */
#define CONFIG_DEFAULT_LISTEN		"127.0.0.1:8080"
/* TLS protocol versions as on the wire (OpenSSL's TLS1_2_VERSION...). */
#define CONFIG_TLS_1_2			0x0303
#define CONFIG_TLS_1_3			0x0304
#define CONFIG_AUTH_REALM		"wsbridge"

enum backend_kind {
	BACKEND_NONE,
	BACKEND_EXEC,		/* exec = command line */
	BACKEND_DIR,		/* dir = directory of executables */
	BACKEND_CONNECT,	/* connect = host:port | unix:/path */
	BACKEND_ECHO,		/* echo = yes */
	BACKEND_TARGETS,	/* targets = token file, connect-style */
	BACKEND_VIEW,		/* view = /route: read-only, joins its sessions */
};

/* Which clients share one session (one backend). */
enum route_share {
	SHARE_NO,		/* one per connection */
	SHARE_ROUTE,		/* one per route */
	SHARE_ID,		/* ?session=ID */
	SHARE_USER,		/* one per authenticated user */
};

/* A shared session's client that cannot keep up. */
enum slow_client {
	SLOW_CLOSE,		/* 1008 "too slow" */
	SLOW_SKIP,		/* skip to the live output */
};

#define SESSION_ID_MAX	64	/* ?session=: 1-64 of [A-Za-z0-9_-] */

enum route_auth {
	AUTH_NONE,
	AUTH_BASIC,		/* auth_file, an htpasswd file */
};

/* PROXY protocol header sent to connect and targets backends. */
enum send_proxy {
	SEND_PROXY_NO,
	SEND_PROXY_V1,
	SEND_PROXY_V2,
};

/* How clients reach a route (transports = websocket, sse): a bit each. */
#define ROUTE_TRANSPORT_WS	0x1
#define ROUTE_TRANSPORT_SSE	0x2
#define ROUTE_TRANSPORT_POLL	0x4

enum access_log_format {
	ACCESS_LOG_TEXT,
	ACCESS_LOG_JSON,
};

enum route_mode {
	MODE_DEFAULT,		/* text for processes, binary for sockets */
	MODE_TEXT,
	MODE_BINARY,
	MODE_PTY,
};

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_ACCESS,
	LOG_LEVEL_DEBUG,
};

/* A NULL-terminated growable list of strings. */
struct strlist {
	char	**v;		/* v[n] == NULL */
	size_t	  n;
};

/* A network, as in trusted_proxies: 10.0.0.0/8, ::1 (= ::1/128). */
struct cidr {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];	/* network order, host bits zero */
	int		 prefix;	/* 0-32 or 0-128 */
};

/* A [tls NAME] section: the certificate offered for SNI NAME. */
struct tls_cert_spec {
	char		*name;		/* lower case; may be "*.example.com" */
	char		*cert, *key;
	int		 line;		/* section line */
	int		 cert_line, key_line;
};

struct listen_spec {
	char			*spec;		/* as written */
	struct sockaddr_storage	 addr;		/* AF_INET, AF_INET6 or AF_UNIX */
	socklen_t		 addrlen;
	bool			 tls;
	bool			 proxy_protocol;	/* PROXY header first */
	int			 redirect_port;	/* --redirport: 301 to this port */
	bool			 redirect_tls;	/* ... with https:// */
	int			 line;		/* 0 when from the command line */
};

/*
 * Per-route limits. In [server] they are the defaults; a route's value
 * of -1 (or NULL list) means "inherit" until config_finish() fills it.
 */
struct route_limits {
	int64_t		max_message_size;
	int64_t		buffer_size;
	int64_t		ping_interval_ms;
	int64_t		ping_timeout_ms;
	int64_t		idle_timeout_ms;
	int64_t		send_timeout_ms;	/* output stalled */
	int64_t		close_grace_ms;
	int64_t		connect_timeout_ms;
	int64_t		poll_timeout_ms;	/* a poll waits this long */
	int64_t		session_timeout_ms;	/* no poll: the session ends */
};

struct route {
	char			*path;		/* "/echo"; "/scripts" for a prefix route */
	char			*label;		/* as declared, with any trailing slash-star */
	bool			 prefix;	/* declared with a trailing slash-star */
	enum backend_kind	 kind;
	struct strlist		 argv;		/* exec, split like a shell */
	char			*dir;
	char			*connect;	/* as written */
	struct sockaddr_storage	 addr;		/* resolved connect target */
	socklen_t		 addrlen;
	enum route_mode		 mode;		/* never MODE_DEFAULT after finish */
	struct strlist		 origins;	/* empty: any origin */
	bool			 same_origin;
	struct strlist		 protocols;	/* subprotocols accepted */
	bool			 require_protocol;
	int			 max_connections;	/* 0 = unlimited */
	struct strlist		 pass_env;
	struct strlist		 env;		/* NAME=value */
	char			*cwd;
	struct strlist		 headers;	/* "Name: value": all responses */
	struct strlist		 headers_ws;	/* only the 101 */
	struct strlist		 headers_http;	/* only plain HTTP responses */
	struct route_limits	 limits;
	bool			 compression;
	bool			 readonly;	/* pty: drop input */
	char			*term;		/* pty: TERM */
	int			 line;		/* section line, 0 from flags */
	int			 backend_line;	/* exec/dir/connect/echo line */
	int			 cwd_line;
	enum route_auth		 auth;
	char			*auth_file;	/* htpasswd */
	char			*auth_realm;	/* never NULL after finish */
	char			*auth_header;	/* e.g. X-Remote-User */
	enum send_proxy		 send_proxy;
	char			*targets;	/* token file */
	char			*credential;	/* --credential USER:PASSWORD */
	int			 auth_line, auth_file_line, auth_header_line;
	int			 send_proxy_line;
	unsigned		 transports;	/* ROUTE_TRANSPORT_* */
	int			 transports_line;
	/* Shared sessions. */
	enum route_share	 share;
	int			 share_line;
	char			*view;		/* view = /route, as written */
	struct route		*view_of;	/* its route, after finish */
	int64_t			 persist_ms;	/* kept after the last client */
	int64_t			 replay;	/* bytes a joining client gets */
	enum slow_client	 slow_client;
	char			*record_dir;	/* one recording per session */
	bool			 record_input;
	int64_t			 record_max;	/* bytes per recording, 0: no cap */
	int			 record_line;
	int			 active;	/* runtime: open connections */
};

struct config_msgs;

struct config {
	char			*path;		/* config file, NULL without -c */
	struct config_msgs	*msgs;		/* errors until config_report */
	struct listen_spec	*listens;
	size_t			 nlistens;
	int			 workers;	/* 0 = auto (cores) */
	int			 workers_line;
	bool			 shares;	/* a route shares sessions */
	int			 max_connections;
	int64_t			 handshake_timeout_ms;
	int64_t			 close_timeout_ms;
	int64_t			 shutdown_timeout_ms;
	int64_t			 max_header_size;
	char			*static_dir;
	char			*cgi_dir;	/* websocketd --cgidir, or NULL */
	int64_t			 cgi_timeout_ms;
	int64_t			 cgi_max_body;	/* request body, bytes */
	bool			 devconsole;
	bool			 reverse_lookup;	/* REMOTE_HOST by DNS */
	char			*user;
	char			*group;
	enum log_level		 log_level;
	char			*access_log;	/* NULL = stderr */
	enum access_log_format	 access_log_format;
	struct cidr		*trusted_proxies;
	size_t			 ntrusted_proxies;
	int			 max_connections_per_ip; /* 0: no limit */
	bool			 allow_root;	/* spawn processes as root */
	int			 allow_root_line; /* 0: not set (warn only) */
	char			*metrics_path;	/* NULL = no metrics */
	char			*assets_dir;	/* xterm.js for pty pages, or NULL */
	char			*record;	/* traffic recording file, or NULL */
	char			*metrics_listen; /* NULL: on listeners */
	struct sockaddr_storage	 metrics_addr;	/* resolved metrics_listen */
	socklen_t		 metrics_addrlen;
	struct route_limits	 limits;	/* server-wide route defaults */
	struct strlist		 headers, headers_ws, headers_http;
	/* [tls] */
	char			*tls_cert;
	char			*tls_key;
	char			*tls_client_ca;
	int			 tls_min_version; /* CONFIG_TLS_1_2, _1_3 */
	struct tls_cert_spec	*tls_certs;	/* [tls NAME] sections */
	size_t			 ntls_certs;
	/* lines of keys checked by config_finish(), 0 from flags */
	int			 static_dir_line, user_line, group_line;
	int			 cgi_dir_line;
	int			 access_log_line;
	int			 tls_cert_line, tls_key_line, tls_client_ca_line;
	int			 metrics_path_line, metrics_listen_line;
	struct route		**routes;
	size_t			 nroutes;
};

/* A config with every default set and no routes or listeners. */
struct config	*config_new(void);
void		 config_free(struct config *);

/*
 * Load an INI file into cfg (created by config_new). Every error is
 * reported to errfp as "FILE:LINE: message"; returns the number of
 * errors (0 = success), or -1 when the file cannot be read at all
 * (reported as "wsbridge: FILE: why"). Does not run config_finish().
 */
int		 config_load(struct config *, const char *path, FILE *errfp);

/*
 * After the file and the command-line flags: inherit limits into routes,
 * default listen address, resolve connect targets and listen addresses,
 * check commands are executable and directories exist, no duplicate
 * routes. Errors as in config_load (FILE:LINE where known); returns the
 * error count.
 */
int		 config_finish(struct config *, FILE *errfp);

/*
 * Print the errors config_load and config_finish found (config_finish
 * does it itself) in file order: by line, one line's in the order
 * found, those without a line last. Each goes to the errfp it came with.
 */
void		 config_report(const struct config *);

/*
 * Is the peer in trusted_proxies? IPv4-mapped IPv6 peers (::ffff:a.b.c.d)
 * match IPv4 networks; other families (unix sockets) never match.
 */
bool		 config_cidr_match(const struct config *,
		    const struct sockaddr *);
bool		 config_cidr_contains(const struct cidr *, size_t n,
		    const struct sockaddr *);
/* "10.0.0.0/8", "::1/128", or an address alone (all bits). 0 or -1. */
int		 config_parse_cidr(const char *, struct cidr *,
		    const char **why);

/* Print the routes, one per line (for --check). */
void		 config_print(const struct config *, FILE *);

/*
 * Longest-match route for a decoded path: exact routes match exactly, a
 * prefix route "/p/ *" (no space) matches "/p" and "/p/...". *rest gets the part of
 * the path after the route's own path (for dir routes). NULL: no route.
 */
struct route	*config_match(const struct config *, const char *path,
		    const char **rest);

/* Strict value parsers, shared with the command line. 0 or -1. */
int		 config_parse_duration(const char *, int64_t *ms);
int		 config_parse_size(const char *, int64_t *bytes);
int		 config_parse_bool(const char *, bool *);
int		 config_parse_int(const char *, int64_t min, int64_t max,
		    int64_t *);
/* Split a command line like a shell would (quotes, backslash), no shell. */
int		 config_split_argv(const char *, struct strlist *,
		    const char **why);
/* Parse "host:port", "[v6]:port", ":port", "port" or "unix:/path". */
int		 config_parse_addr(const char *, int default_port,
		    struct sockaddr_storage *, socklen_t *, const char **why);

/*
 * Set one key as a line of the file would: route NULL for a [server] key.
 * Lists ("origins") are replaced, repeatable keys ("header") appended.
 * On error, err gets the reason without the key ("invalid size \"1X\"").
 */
int		 config_set(struct config *, struct route *, const char *key,
		    const char *value, int line, char *err, size_t errlen);

void		 strlist_add(struct strlist *, const char *);
/* Per request: -1 when out of memory (strlist_add aborts: config only). */
int		 strlist_try_add(struct strlist *, const char *);
void		 strlist_free(struct strlist *);
/* path as written: "/echo", or "/x" plus slash-star for a prefix route. */
struct route	*route_new(const char *path);
void		 route_free(struct route *);
void		 config_add_route(struct config *, struct route *);
void		 config_add_listen(struct config *, const char *spec, bool tls,
		    int line);
void		 config_clear_listens(struct config *);
/*
 * Give every TCP listener PORT, keeping its address, TLS and
 * proxy_protocol (--port with -c). Returns how many there were.
 */
size_t		 config_listens_set_port(struct config *, const char *port);
/*
 * Routes that spawn programs for anyone who can reach a listener that is
 * not loopback (nor a unix socket), with neither auth nor a TLS client_ca
 * in the way: one message each, naming the route and the addresses, for
 * warn(). Needs config_finish() first. Returns how many.
 */
size_t		 config_exposed(const struct config *,
		    void (*warn)(const char *, void *), void *arg);

/* A configuration shared by connections and sessions, freed with its last user. */
struct config_ref {
	struct config	*cfg;
	int		 refs;
};

struct config_ref *config_ref_new(struct config *);
void		 config_ref_put(struct config_ref *);

#endif
