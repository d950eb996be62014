/*
 * Privilege drop: supplementary groups, gid, then uid, and a check that
 * root cannot be regained.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "privs.h"

static int
privs_error(char *err, size_t errsz, const char *what)
{
	snprintf(err, errsz, "%s: %s", what, strerror(errno));
	return -1;
}

int
privs_drop(const char *user, const char *group, char *err, size_t errsz)
{
	struct passwd	*pw = NULL;
	struct group	*gr;
	gid_t		 gid;

	if (user != NULL && (pw = getpwnam(user)) == NULL) {
		snprintf(err, errsz, "unknown user \"%s\"", user);
		return -1;
	}
	gid = pw != NULL ? pw->pw_gid : getgid();
	if (group != NULL) {
		if ((gr = getgrnam(group)) == NULL) {
			snprintf(err, errsz, "unknown group \"%s\"", group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (pw != NULL ? initgroups(pw->pw_name, gid) == -1 :
	    setgroups(1, &gid) == -1)
		return privs_error(err, errsz, "setgroups");
	if (setresgid(gid, gid, gid) == -1)
		return privs_error(err, errsz, "setgid");
	if (pw != NULL && setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		return privs_error(err, errsz, "setuid");
	if (pw != NULL && pw->pw_uid != 0 && setuid(0) != -1) {
		snprintf(err, errsz, "could regain root after dropping it");
		return -1;
	}
	return 0;
}
