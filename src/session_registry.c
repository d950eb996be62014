/*
 * Shared sessions by route and key (share = route: "", id: the client's
 * ?session=, user: the user name), so that a client can join one; and
 * members by their secret name (an event stream's or a poll session's
 * id), so that POST input and polls find theirs. A
 * chained hash: the count is bounded by the server's connection limit
 * (session_new refuses more), so a fixed table keeps chains short.
 */
#include <stdlib.h>
#include <string.h>

#include "session_int.h"

#define REGISTRY_BUCKETS	1024

LIST_HEAD(registry_bucket, session);
static struct registry_bucket	registry[REGISTRY_BUCKETS];
LIST_HEAD(member_bucket, session_member);
static struct member_bucket	named[REGISTRY_BUCKETS];

/* FNV-1a over the route's path, a NUL, the key. */
static unsigned
registry_hash(const char *route, const char *key)
{
	uint32_t	 h = 2166136261u;
	const char	*p;

	for (p = route; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h *= 16777619u;
	for (p = key; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h % REGISTRY_BUCKETS;
}

void
registry_add(struct session *s)
{
	if (s->registered || s->key == NULL)
		return;
	LIST_INSERT_HEAD(&registry[registry_hash(s->route->path, s->key)], s,
	    reg);
	s->registered = true;
}

void
registry_remove(struct session *s)
{
	if (!s->registered)
		return;
	LIST_REMOVE(s, reg);
	s->registered = false;
}

struct session *
registry_find(const char *route, const char *key)
{
	struct session	*s;

	LIST_FOREACH(s, &registry[registry_hash(route, key)], reg)
		if (strcmp(s->key, key) == 0 &&
		    strcmp(s->route->path, route) == 0)
			return s;
	return NULL;
}

void
registry_add_member(struct session_member *m)
{
	LIST_INSERT_HEAD(&named[registry_hash(m->name_route->path, m->name)],
	    m, named);
}

void
registry_remove_member(struct session_member *m)
{
	if (m->name == NULL)
		return;
	LIST_REMOVE(m, named);
	free(m->name);
	m->name = NULL;
}

struct session_member *
registry_find_member(const char *route, const char *name)
{
	struct session_member	*m;

	LIST_FOREACH(m, &named[registry_hash(route, name)], named)
		if (strcmp(m->name, name) == 0 &&
		    strcmp(m->name_route->path, route) == 0)
			return m;
	return NULL;
}
