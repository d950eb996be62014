/*
 * Per-address connection counters in a chained hash table; an entry
 * exists only while its address has open connections.
 */
#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iplimit.h"

#define IPLIMIT_BUCKETS	4096

struct ipcount {
	uint8_t		 addr[16];	/* IPv4 as v4-mapped IPv6 */
	int		 count;
	struct ipcount	*next;
};

static struct ipcount	*iplimit_table[IPLIMIT_BUCKETS];

static void
iplimit_key(const struct sockaddr *sa, uint8_t key[16])
{
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)sa;

	memset(key, 0, 16);
	if (sa->sa_family == AF_INET6)
		memcpy(key, &s6->sin6_addr, 16);
	else if (sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &s4->sin_addr, 4);
	}
}

static struct ipcount **
iplimit_slot(const uint8_t key[16])
{
	struct ipcount	**pp;
	uint32_t	  h = 2166136261u;
	int		  i;

	for (i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	for (pp = &iplimit_table[h % IPLIMIT_BUCKETS]; *pp != NULL;
	    pp = &(*pp)->next)
		if (memcmp((*pp)->addr, key, 16) == 0)
			break;
	return pp;
}

bool
iplimit_take(const struct sockaddr *sa, int max)
{
	uint8_t		  key[16];
	struct ipcount	**pp;

	iplimit_key(sa, key);
	pp = iplimit_slot(key);
	if (*pp == NULL) {
		if ((*pp = calloc(1, sizeof(**pp))) == NULL)
			return false;
		memcpy((*pp)->addr, key, 16);
	}
	if (max > 0 && (*pp)->count >= max)
		return false;
	(*pp)->count++;
	return true;
}

void
iplimit_release(const struct sockaddr *sa)
{
	uint8_t		  key[16];
	struct ipcount	**pp, *e;

	iplimit_key(sa, key);
	pp = iplimit_slot(key);
	if ((e = *pp) == NULL)
		return;
	if (--e->count <= 0) {
		*pp = e->next;
		free(e);
	}
}

int
iplimit_count(const struct sockaddr *sa)
{
	uint8_t		  key[16];
	struct ipcount	**pp;

	iplimit_key(sa, key);
	pp = iplimit_slot(key);
	return *pp != NULL ? (*pp)->count : 0;
}
