/*
 * A tiny unit-test helper in the spirit of redis's testhelp.h: CHECK
 * records a failure and goes on; the binary exits non-zero if any failed.
 */
#ifndef TEST_H
#define TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failed, test_checked;

#define CHECK(cond) do {						\
	test_checked++;							\
	if (!(cond)) {							\
		test_failed++;						\
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n",		\
		    __FILE__, __LINE__, #cond);				\
	}								\
} while (0)

#define CHECK_EQ(a, b) do {						\
	long long _a = (long long)(a), _b = (long long)(b);		\
	test_checked++;							\
	if (_a != _b) {							\
		test_failed++;						\
		fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n",	\
		    __FILE__, __LINE__, #a, _a, _b);			\
	}								\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *_a = (a), *_b = (b);				\
	test_checked++;							\
	if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0) {		\
		test_failed++;						\
		fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n",\
		    __FILE__, __LINE__, #a, _a ? _a : "(null)",		\
		    _b ? _b : "(null)");				\
	}								\
} while (0)

#define TEST_REPORT() do {						\
	printf("%s: %d checks, %d failed\n", __FILE__, test_checked,	\
	    test_failed);						\
	return test_failed ? 1 : 0;					\
} while (0)

#endif
