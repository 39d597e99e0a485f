/*
 * YAML documents into jansson trees, typed as Kubernetes types them
 * (kube_yaml.h): snapshots and kubeconfig files.
 *
 * What kubectl accepts is the reference: sigs.k8s.io/yaml reads a document
 * with a YAML 1.1 resolver (its fork of go-yaml v2) into Go values and
 * marshals them to JSON, and the API types decode that JSON.  So the same
 * happens here: a plain scalar is resolved as go-yaml v2 resolves it, a
 * quoted or block scalar is a string, and a float that JSON marshalling
 * would print without a fraction (80.0, 1e3) is an integer.  A label value
 * written as plain `true` is therefore a boolean, and the decoders refuse
 * it as kubectl does ("expected a string"); `"true"` is a string.
 *
 * libyaml's parser keeps its own state on the heap and the tree is built
 * from events with an explicit stack, so no input recurses on the C stack.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "kube_yaml.h"
#include "vec.h"

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

/* A mapping or sequence being filled. */
struct frame {
	json_t *v; /* borrowed: owned by its parent or by the root */
	char *key; /* mapping: the key waiting for its value, or NULL */
	bool items; /* the root mapping's "items" sequence */
};

struct reader {
	const char *data, *what, *name;
	size_t len;
	struct frame st[KUBE_YAML_DEPTH_MAX];
	size_t depth;
	json_t *root;
	struct kube_yaml_mark root_mark;
	struct kube_yaml_mark *items;
	size_t n_items, cap_items;
};

static struct kube_yaml_mark mark_of(const yaml_mark_t *m)
{
	return (struct kube_yaml_mark){ .line = m->line + 1, .column = m->column + 1 };
}

static int fail_at(struct reader *rd, const yaml_mark_t *m, struct bh_err *reterr, const char *fmt,
		   ...) BH_PRINTF(4, 5);

static int fail_at(struct reader *rd, const yaml_mark_t *m, struct bh_err *reterr, const char *fmt,
		   ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	(void) vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bh_err_set(reterr, BH_ERR_INPUT, -EBADMSG, "%s '%s': line %zu, column %zu: %s",
			  rd->what, rd->name, m->line + 1, m->column + 1, msg);
}

/* A libyaml error, with its context ("while parsing a block mapping"). */
static int parser_fail(struct reader *rd, const yaml_parser_t *p, struct bh_err *reterr)
{
	yaml_mark_t m = p->problem_mark;
	char ctx[128] = "";

	if (p->error == YAML_MEMORY_ERROR)
		return bh_err_oom(reterr);
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors (bad UTF-8, control characters) carry a byte
		 * offset instead of a mark. */
		size_t off = p->problem_offset < rd->len ? p->problem_offset : rd->len;

		m = (yaml_mark_t){ 0 };
		for (size_t i = 0; i < off; i++) {
			if (rd->data[i] == '\n') {
				m.line++;
				m.column = 0;
			} else {
				m.column++;
			}
		}
	}
	if (p->context)
		(void) snprintf(ctx, sizeof(ctx), " (%s at line %zu, column %zu)", p->context,
				p->context_mark.line + 1, p->context_mark.column + 1);
	return bh_err_set(reterr, BH_ERR_INPUT, -EBADMSG,
			  "%s '%s': line %zu, column %zu: invalid YAML: %s%s", rd->what, rd->name,
			  m.line + 1, m.column + 1, p->problem ? p->problem : "syntax error", ctx);
}

/* ---- scalars ---- */

static bool one_of(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return true;
	return false;
}

/* go-yaml v2's resolve table. */
static const char *const yaml_true[] = { "y",	 "Y",	 "yes", "Yes", "YES", "true",
					 "True", "TRUE", "on",	"On",  "ON",  NULL };
static const char *const yaml_false[] = { "n",	   "N",	    "no",  "No",  "NO",	 "false",
					  "False", "FALSE", "off", "Off", "OFF", NULL };
static const char *const yaml_null[] = { "", "~", "null", "Null", "NULL", NULL };
static const char *const yaml_nonfinite[] = { ".nan",  ".NaN",	".NAN",	 ".inf",  ".Inf",
					      ".INF",  "+.inf", "+.Inf", "+.INF", "-.inf",
					      "-.Inf", "-.INF", NULL };

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

/* Go's strconv.ParseInt(s, 0, 64): sign, then 0x, 0o, 0b or a leading 0
 * (octal) or decimal digits. */
static bool parse_int(const char *s, long long *ret)
{
	unsigned long long v = 0, limit;
	unsigned base = 10;
	bool neg = false;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, s += 2;
	else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		base = 8, s += 2;
	else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
		base = 2, s += 2;
	else if (s[0] == '0' && s[1])
		base = 8, s += 1;
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned d = (unsigned) digit_value(*s);

		if (d >= base || v > (ULLONG_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	limit = neg ? (unsigned long long) LLONG_MAX + 1 : (unsigned long long) LLONG_MAX;
	if (v > limit)
		return false;
	*ret = neg ? (v == limit ? LLONG_MIN : -(long long) v) : (long long) v;
	return true;
}

static bool digits(const char **s)
{
	const char *p = *s;

	while (**s >= '0' && **s <= '9')
		(*s)++;
	return *s > p;
}

/* go-yaml v2's float syntax: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool float_syntax(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	if (*s == '.') {
		s++;
		if (!digits(&s))
			return false;
	} else {
		if (!digits(&s))
			return false;
		if (*s == '.') {
			s++;
			(void) digits(&s);
		}
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!digits(&s))
			return false;
	}
	return *s == '\0';
}

/* A float as encoding/json writes it: integral values as integers. */
static json_t *json_number(double d)
{
	if (d == floor(d) && fabs(d) <= 9007199254740992.0)
		return json_integer((json_int_t) d);
	return json_real(d);
}

enum scalar_type { SCALAR_ANY, SCALAR_STR, SCALAR_INT, SCALAR_FLOAT, SCALAR_BOOL, SCALAR_NULL };

/*
 * The value of a scalar resolved as @type (SCALAR_ANY: by its text) in
 * *@ret, or NULL with *@why set when the text does not fit the type (or
 * is a number JSON cannot hold).  -ENOMEM.
 */
static int resolve(const char *s, size_t n, enum scalar_type type, json_t **ret, const char **why)
{
	char plain[128];
	size_t k = 0;
	long long i;

	*ret = NULL;
	*why = NULL;
	if (type == SCALAR_STR)
		goto string;
	if (one_of(s, yaml_null) && (type == SCALAR_ANY || type == SCALAR_NULL))
		goto null;
	if (type == SCALAR_ANY || type == SCALAR_BOOL) {
		if (one_of(s, yaml_true)) {
			*ret = json_true();
			return 0;
		}
		if (one_of(s, yaml_false)) {
			*ret = json_false();
			return 0;
		}
	}
	if (one_of(s, yaml_nonfinite) && (type == SCALAR_ANY || type == SCALAR_FLOAT)) {
		*why = "not a number JSON can hold";
		return 0;
	}
	/* go-yaml tries numbers only for these first characters, and
	 * ignores underscores in them. */
	if ((type == SCALAR_ANY || type == SCALAR_INT || type == SCALAR_FLOAT) && n > 0 &&
	    n < sizeof(plain) && strchr("+-.0123456789", s[0])) {
		for (size_t j = 0; j < n; j++)
			if (s[j] != '_')
				plain[k++] = s[j];
		plain[k] = '\0';
		if (type != SCALAR_FLOAT && parse_int(plain, &i)) {
			*ret = json_integer(i);
			return *ret ? 0 : -ENOMEM;
		}
		if (float_syntax(plain)) {
			double d = strtod(plain, NULL);

			if (!isfinite(d)) {
				*why = "a number too large for JSON";
				return 0;
			}
			*ret = json_number(d);
			return *ret ? 0 : -ENOMEM;
		}
	}
	if (type == SCALAR_ANY)
		goto string;
	*why = type == SCALAR_INT   ? "not an integer (!!int)" :
	       type == SCALAR_FLOAT ? "not a number (!!float)" :
	       type == SCALAR_BOOL  ? "not a boolean (!!bool)" :
				      "not null (!!null)";
	return 0;
null:
	*ret = json_null();
	return 0;
string:
	if (memchr(s, '\0', n)) {
		*why = "NUL character in a string";
		return 0;
	}
	*ret = json_stringn(s, n);
	if (!*ret)
		*why = "not UTF-8 text";
	return 0;
}

/* The type a scalar's tag asks for; -EINVAL for a tag we do not read. */
static int tag_type(const yaml_event_t *ev, enum scalar_type *ret)
{
	static const struct {
		const char *name;
		enum scalar_type type;
	} tags[] = {
		{ "str", SCALAR_STR },	 { "int", SCALAR_INT },	  { "float", SCALAR_FLOAT },
		{ "bool", SCALAR_BOOL }, { "null", SCALAR_NULL },
	};
	const char *tag = (const char *) ev->data.scalar.tag;

	if (!tag) {
		/* Untagged: plain scalars are resolved, quoted and block ones
		 * are strings. */
		*ret = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? SCALAR_ANY : SCALAR_STR;
		return 0;
	}
	if (strcmp(tag, "!") == 0) { /* the non-specific tag: a string */
		*ret = SCALAR_STR;
		return 0;
	}
	if (strncmp(tag, YAML_TAG_PREFIX, strlen(YAML_TAG_PREFIX)) == 0)
		for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
			if (strcmp(tag + strlen(YAML_TAG_PREFIX), tags[i].name) == 0) {
				*ret = tags[i].type;
				return 0;
			}
	return -EINVAL;
}

static bool container_tag_ok(const yaml_char_t *tag, const char *want)
{
	const char *t = (const char *) tag;

	return !t || strcmp(t, "!") == 0 ||
	       (strncmp(t, YAML_TAG_PREFIX, strlen(YAML_TAG_PREFIX)) == 0 &&
		strcmp(t + strlen(YAML_TAG_PREFIX), want) == 0);
}

static int scalar(struct reader *rd, const yaml_event_t *ev, json_t **ret, struct bh_err *reterr)
{
	const char *s = (const char *) ev->data.scalar.value;
	enum scalar_type type;
	const char *why;
	int r;

	if (tag_type(ev, &type) < 0)
		return fail_at(rd, &ev->start_mark, reterr, "unsupported YAML tag '%s'",
			       (const char *) ev->data.scalar.tag);
	r = resolve(s, ev->data.scalar.length, type, ret, &why);
	if (r < 0)
		return bh_err_oom(reterr);
	if (!*ret)
		return fail_at(rd, &ev->start_mark, reterr, "%s", why);
	return 0;
}

/* A mapping key as sigs.k8s.io/yaml turns it into a JSON member name. */
static int key_text(struct reader *rd, const yaml_event_t *ev, json_t *k, char **ret,
		    struct bh_err *reterr)
{
	char num[32];
	const char *s;

	switch (json_typeof(k)) {
	case JSON_STRING:
		s = json_string_value(k);
		break;
	case JSON_INTEGER:
		(void) snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(k));
		s = num;
		break;
	case JSON_TRUE:
		s = "true";
		break;
	case JSON_FALSE:
		s = "false";
		break;
	case JSON_REAL:
		s = (const char *) ev->data.scalar.value;
		break;
	default:
		return fail_at(rd, &ev->start_mark, reterr,
			       "mapping key: expected a string, got null");
	}
	*ret = strdup(s);
	return *ret ? 0 : bh_err_oom(reterr);
}

/* ---- the tree ---- */

static void reader_reset(struct reader *rd)
{
	while (rd->depth > 0) {
		free(rd->st[rd->depth - 1].key);
		rd->depth--;
	}
	json_decref(rd->root);
	rd->root = NULL;
	rd->n_items = 0;
}

/* Adds a new value @v (reference taken over) where the stack says: the
 * root, the next element of a sequence, or a mapping's key or value.  A
 * container becomes the top of the stack. */
static int add(struct reader *rd, json_t *v, const yaml_event_t *ev, struct bh_err *reterr)
{
	bool container = json_is_object(v) || json_is_array(v);
	struct frame *top = rd->depth ? &rd->st[rd->depth - 1] : NULL;
	bool items = false;
	int r = 0;

	if (container && rd->depth >= KUBE_YAML_DEPTH_MAX) {
		json_decref(v);
		return fail_at(rd, &ev->start_mark, reterr, "nested more than %d levels deep",
			       KUBE_YAML_DEPTH_MAX);
	}
	if (!top) {
		rd->root = v;
		rd->root_mark = mark_of(&ev->start_mark);
		goto push;
	}
	if (json_is_array(top->v)) {
		if (top->items) {
			if (rd->n_items == rd->cap_items) {
				void *n = vec_grow(rd->items, &rd->cap_items, rd->n_items + 1,
						   sizeof(*rd->items));

				if (!n) {
					json_decref(v);
					return bh_err_oom(reterr);
				}
				rd->items = n;
			}
			rd->items[rd->n_items++] = mark_of(&ev->start_mark);
		}
		r = json_array_append(top->v, v);
	} else if (!top->key) {
		if (container) {
			json_decref(v);
			return fail_at(rd, &ev->start_mark, reterr,
				       "mapping keys must be strings, not mappings or sequences");
		}
		if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag &&
		    strcmp((const char *) ev->data.scalar.value, "<<") == 0) {
			json_decref(v);
			return fail_at(
				rd, &ev->start_mark, reterr,
				"YAML merge keys ('<<') are not supported: write the keys out");
		}
		r = key_text(rd, ev, v, &top->key, reterr);
		json_decref(v);
		if (r < 0)
			return r;
		if (json_object_get(top->v, top->key))
			return fail_at(rd, &ev->start_mark, reterr, "duplicate mapping key '%s'",
				       top->key);
		return 0;
	} else {
		items = rd->depth == 1 && strcmp(top->key, "items") == 0;
		r = json_object_set(top->v, top->key, v);
		free(top->key);
		top->key = NULL;
	}
	json_decref(v); /* the parent holds it */
	if (r < 0)
		return bh_err_oom(reterr);
push:
	if (container)
		rd->st[rd->depth++] = (struct frame){ .v = v, .items = items && json_is_array(v) };
	return 0;
}

int kube_yaml_read(const char *data, size_t len, const char *what, const char *name,
		   kube_yaml_doc_fn *fn, void *ud, struct bh_err *reterr)
{
	struct reader rd = { .data = data, .what = what, .name = name, .len = len };
	unsigned index = 0;
	yaml_parser_t p;
	yaml_event_t ev;
	bool done = false;
	int r = 0, docs = 0;

	if (!yaml_parser_initialize(&p))
		return bh_err_oom(reterr);
	yaml_parser_set_input_string(&p, (const unsigned char *) data, len);
	while (!done && r == 0) {
		json_t *v = NULL;

		if (!yaml_parser_parse(&p, &ev)) {
			r = parser_fail(&rd, &p, reterr);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			index++;
			reader_reset(&rd);
			break;
		case YAML_DOCUMENT_END_EVENT:
			if (rd.root && !json_is_null(rd.root)) {
				struct kube_yaml_doc d = { .root = rd.root,
							   .index = index,
							   .start = rd.root_mark,
							   .items = rd.items,
							   .n_items = rd.n_items };

				r = fn(ud, &d, reterr);
				docs++;
			}
			reader_reset(&rd);
			break;
		case YAML_ALIAS_EVENT:
			/* Expanding aliases is how a few hundred bytes become
			 * gigabytes ("billion laughs"); kubectl never writes them. */
			r = fail_at(&rd, &ev.start_mark, reterr,
				    "YAML aliases (*%s) are not supported: write the value out",
				    (const char *) ev.data.alias.anchor);
			break;
		case YAML_SCALAR_EVENT:
			r = scalar(&rd, &ev, &v, reterr);
			if (r == 0)
				r = add(&rd, v, &ev, reterr);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (!container_tag_ok(ev.type == YAML_MAPPING_START_EVENT ?
						      ev.data.mapping_start.tag :
						      ev.data.sequence_start.tag,
					      ev.type == YAML_MAPPING_START_EVENT ? "map" :
										    "seq")) {
				r = fail_at(&rd, &ev.start_mark, reterr,
					    "unsupported YAML tag '%s'",
					    (const char *) (ev.type == YAML_MAPPING_START_EVENT ?
								    ev.data.mapping_start.tag :
								    ev.data.sequence_start.tag));
				break;
			}
			v = ev.type == YAML_MAPPING_START_EVENT ? json_object() : json_array();
			r = v ? add(&rd, v, &ev, reterr) : bh_err_oom(reterr);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (rd.depth > 0) {
				free(rd.st[rd.depth - 1].key);
				rd.depth--;
			}
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	reader_reset(&rd);
	free(rd.items);
	yaml_parser_delete(&p);
	return r < 0 ? r : docs;
}

static int first_doc_cb(void *ud, const struct kube_yaml_doc *d, struct bh_err *reterr)
{
	json_t **first = ud;

	(void) reterr;
	if (!*first)
		*first = json_incref(d->root);
	return 0;
}

int kube_yaml_load(const char *data, size_t len, const char *what, const char *name, json_t **ret,
		   struct bh_err *reterr)
{
	json_t *first = NULL;
	int r;

	r = kube_yaml_read(data, len, what, name, first_doc_cb, &first, reterr);
	if (r < 0) {
		json_decref(first);
		return r;
	}
	if (!first && !(first = json_object()))
		return bh_err_oom(reterr);
	*ret = first;
	return 0;
}
