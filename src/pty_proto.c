/*
 * JSON messages of ttyd's terminal protocol, parsed with json-c.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "pty_proto.h"

static struct json_object *
pty_parse_object(const char *p, size_t n, const char **why)
{
	struct json_tokener	*tok;
	struct json_object	*obj;

	if (n > PTY_MAX_CONTROL) {
		*why = "terminal control message too long";
		return NULL;
	}
	if ((tok = json_tokener_new()) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	obj = json_tokener_parse_ex(tok, p, (int)n);
	if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    tok->char_offset != (int)n ||
	    !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		obj = NULL;
		*why = "malformed terminal JSON";
	}
	json_tokener_free(tok);
	return obj;
}

/* An integer member within 1..PTY_MAX_DIM; -1 if absent or invalid. */
static int
pty_dimension(struct json_object *obj, const char *key, bool *present)
{
	struct json_object	*v;
	int64_t			 n;

	*present = json_object_object_get_ex(obj, key, &v);
	if (!*present || !json_object_is_type(v, json_type_int))
		return -1;
	n = json_object_get_int64(v);
	return n >= 1 && n <= PTY_MAX_DIM ? (int)n : -1;
}

static int
pty_size_from(struct json_object *obj, struct pty_size *sz, bool required,
    const char **why)
{
	bool	 has_c, has_r;
	int	 c = pty_dimension(obj, "columns", &has_c);
	int	 r = pty_dimension(obj, "rows", &has_r);

	if ((has_c && c == -1) || (has_r && r == -1) ||
	    (required && (!has_c || !has_r))) {
		*why = "bad terminal size";
		return -1;
	}
	sz->cols = has_c ? (unsigned short)c : PTY_DEFAULT_COLS;
	sz->rows = has_r ? (unsigned short)r : PTY_DEFAULT_ROWS;
	return 0;
}

int
pty_parse_init(const char *p, size_t n, struct pty_size *sz, char *token,
    size_t tokensz, const char **why)
{
	struct json_object	*obj, *v;
	int			 rv;

	if ((obj = pty_parse_object(p, n, why)) == NULL)
		return -1;
	rv = pty_size_from(obj, sz, false, why);
	if (tokensz > 0)
		token[0] = '\0';
	if (rv == 0 && json_object_object_get_ex(obj, "AuthToken", &v) &&
	    json_object_is_type(v, json_type_string) && tokensz > 0)
		snprintf(token, tokensz, "%s", json_object_get_string(v));
	json_object_put(obj);
	return rv;
}

int
pty_parse_resize(const char *p, size_t n, struct pty_size *sz,
    const char **why)
{
	struct json_object	*obj;
	int			 rv;

	if ((obj = pty_parse_object(p, n, why)) == NULL)
		return -1;
	rv = pty_size_from(obj, sz, true, why);
	json_object_put(obj);
	return rv;
}
