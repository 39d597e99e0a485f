/*
 * unit.log: a log line is one write(2).  stderr is pointed at a
 * SOCK_SEQPACKET socket for the call, where every write is one record:
 * the records counted are the system calls made.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "log.h"

struct capture {
	size_t records;
	size_t len; /* of the first record */
	char first[8192];
};

/* Runs @fn with stderr on a seqpacket socket; counts what it wrote. */
static void capture(void (*fn)(void), struct capture *c)
{
	int sv[2], saved;
	char rec[8192];
	ssize_t n;

	memset(c, 0, sizeof(*c));
	/* Non-blocking: a logger writing byte by byte fills the socket, and
	 * its writes must fail (and be counted short) rather than hang. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(sv[0], STDERR_FILENO) >= 0);
	fn();
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	close(sv[0]);
	while ((n = recv(sv[1], rec, sizeof(rec), MSG_DONTWAIT)) > 0) {
		if (c->records++ == 0) {
			memcpy(c->first, rec, (size_t) n);
			c->len = (size_t) n;
		}
	}
	close(sv[1]);
}

static void emit_logfmt(void)
{
	log_set_json(false);
	log_emit(LOG_WARNING, "pod '%s' said \"hi\"\tand %d", "x/a", 42);
}

static void emit_json(void)
{
	log_set_json(true);
	(void) log_errno_emit(LOG_ERR, -ENOBUFS, "conntrack: %s", "lost events");
	log_set_json(false);
}

static char big[3000];

/* Control characters escape to six bytes each: 18,000 bytes escaped. */
static void emit_big(void)
{
	memset(big, '\x01', sizeof(big) - 1);
	log_emit(LOG_NOTICE, "%s", big);
}

/* Valid UTF-8 kept, a byte that is not UTF-8 replaced by U+FFFD: the JSON
 * line stays valid JSON (the old escaper copied the bytes as they were). */
static void emit_utf8(void)
{
	log_set_json(true);
	log_emit(LOG_NOTICE, "pod caf\xc3\xa9 bad \xff\xfe end");
	log_set_json(false);
}

static char wide[4000];

/* 1,333 three-byte characters (U+20AC), longer than a line once behind
 * the line's head: the line is cut, between two of them. */
static void emit_wide(void)
{
	for (size_t i = 0; i + 3 < sizeof(wide); i += 3)
		memcpy(wide + i, "\xe2\x82\xac", 3);
	log_set_json(true);
	log_emit(LOG_NOTICE, "xy%s", wide);
	log_set_json(false);
}

static json_t *line_json(struct capture *c)
{
	json_error_t err;
	json_t *j;

	assert_int_equal(c->records, 1);
	assert_int_equal(c->first[c->len - 1], '\n');
	j = json_loadb(c->first, c->len - 1, 0, &err);
	if (!j)
		fail_msg("not JSON: %s: %.*s", err.text, (int) c->len, c->first);
	return j;
}

static void json_line_is_utf8(void **state)
{
	struct capture c;
	json_t *j;

	(void) state;
	capture(emit_utf8, &c);
	j = line_json(&c);
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
			    "pod caf\xc3\xa9 bad \xef\xbf\xbd\xef\xbf\xbd end");
	json_decref(j);
}

static void json_line_cut_between_characters(void **state)
{
	struct capture c;
	const char *m;
	json_t *j;

	(void) state;
	capture(emit_wide, &c);
	assert_true(c.len <= 4096);
	j = line_json(&c);
	m = json_string_value(json_object_get(j, "msg"));
	assert_non_null(m);
	assert_true(strlen(m) > 1000);
	assert_string_equal(m + strlen(m) - 3, "...");
	assert_true(strlen(m) < sizeof(wide));
	assert_true(strlen(m) % 3 == 2); /* "xy", whole characters, "..." */
	json_decref(j);
}

static void logfmt_line_is_one_write(void **state)
{
	struct capture c;
	const char *msg;

	(void) state;
	capture(emit_logfmt, &c);
	assert_int_equal(c.records, 1);
	c.first[c.len] = '\0';
	assert_true(strncmp(c.first, "ts=", 3) == 0);
	msg = strstr(c.first, " level=warning comp=bulkhead msg=");
	assert_non_null(msg);
	assert_string_equal(strchr(msg, '"'), "\"pod 'x/a' said \\\"hi\\\"\\tand 42\"\n");
}

static void json_line_is_one_write(void **state)
{
	struct capture c;

	(void) state;
	capture(emit_json, &c);
	assert_int_equal(c.records, 1);
	c.first[c.len] = '\0';
	assert_true(strncmp(c.first, "{\"ts\":\"", 7) == 0);
	assert_non_null(strstr(c.first,
			       "\"level\":\"err\",\"comp\":\"bulkhead\","
			       "\"msg\":\"conntrack: lost events\",\"err\":\"ENOBUFS\"}\n"));
}

/* A message longer than a line: cut, still one write ending the line
 * (quote closed, newline), at most PIPE_BUF bytes (atomic on a pipe). */
static void long_line_is_cut(void **state)
{
	struct capture c;

	(void) state;
	capture(emit_big, &c);
	assert_int_equal(c.records, 1);
	assert_true(c.len <= 4096);
	assert_true(c.len > 1000);
	assert_int_equal(c.first[c.len - 1], '\n');
	assert_int_equal(c.first[c.len - 2], '"');
	assert_memory_equal(&c.first[c.len - 5], "...", 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(logfmt_line_is_one_write),
		cmocka_unit_test(json_line_is_one_write),
		cmocka_unit_test(long_line_is_cut),
		cmocka_unit_test(json_line_is_utf8),
		cmocka_unit_test(json_line_cut_between_characters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
