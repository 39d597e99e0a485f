/* Project-wide definitions: attributes, exit codes, modes. */
#ifndef BH_BH_H
#define BH_BH_H

#define BH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define BH_MUST_CHECK __attribute__((warn_unused_result))
#define BH_NORETURN __attribute__((noreturn))

#define BH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Exit status contract of the `bulkhead` binary (shared/design.md). */
enum bh_exit {
	BH_EXIT_OK = 0, /* success; for check: every connection allowed */
	BH_EXIT_DENY = 1, /* check: a verdict of deny */
	BH_EXIT_INPUT = 2, /* bad usage or bad input */
	BH_EXIT_SYSTEM = 3, /* netlink, permission, API */
	BH_EXIT_TIMEOUT = 4, /* a cluster switch: not every agent reported in time */
};

enum bh_mode {
	BH_MODE_PREVIEW, /* would-deny is logged to NFLOG and accepted */
	BH_MODE_ENFORCE, /* would-deny is dropped */
	_BH_MODE_MAX,
};

/* "preview" / "enforce"; NULL for an out-of-range value. */
const char *bh_mode_name(enum bh_mode m);
/* Parses exactly "preview" or "enforce"; -EINVAL otherwise. */
int bh_mode_parse(const char *s, enum bh_mode *ret);

#endif
