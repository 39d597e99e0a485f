/*
 * The effective stage of a namespace in cluster mode (include/cluster_stage.h,
 * docs/cluster.md "The effective stage of namespace NS").
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster_stage.h"
#include "rfc3339.h"

void cluster_stage_effective(const struct cluster_stage_input *in, struct cluster_stage *ret)
{
	const struct cluster_mode *m = NULL;
	struct cluster_stage st = { .mode = STATE_DB_MODE_PREVIEW };

	if (in->ns.present && (!in->all.present || in->ns.switched_at >= in->all.switched_at))
		m = &in->ns;
	else if (in->all.present)
		m = &in->all;
	if (m) {
		st.switched_at = m->switched_at;
		st.from_all = m == &in->all;
	}
	if (!in->has_proposals)
		st.mode = STATE_DB_MODE_LEARN;
	else if (!m)
		st.mode = STATE_DB_MODE_PREVIEW;
	else if (m->mode == STATE_DB_MODE_LEARN)
		st.mode = in->computed_at < m->switched_at ? STATE_DB_MODE_LEARN :
							     STATE_DB_MODE_PREVIEW;
	else
		st.mode = m->mode;
	*ret = st;
}

int cluster_time_parse_ms(const char *s, int64_t *ret)
{
	const char *dot;
	int64_t sec, ms = 0;
	int r;

	if (!s)
		return -EINVAL;
	r = rfc3339_parse(s, &sec);
	if (r < 0)
		return r;
	/* rfc3339_parse() checked the layout: a '.' after the seconds (at
	 * 19) starts the fraction, digits only. */
	dot = s + 19;
	if (*dot == '.') {
		int digits = 0;

		for (const char *p = dot + 1; *p >= '0' && *p <= '9'; p++)
			if (digits < 3) {
				ms = ms * 10 + (*p - '0');
				digits++;
			}
		for (; digits < 3; digits++)
			ms *= 10;
	}
	*ret = sec * 1000 + ms;
	return 0;
}

const char *cluster_time_format_ms(int64_t ms, char *buf, size_t len)
{
	/* Not rfc3339_format_ns(ms * 1000000): nanoseconds overflow after
	 * 2262, and a switchedAt read from the API may be any year. */
	int64_t sec = ms / 1000, frac = ms % 1000;
	time_t tt;
	struct tm tm;
	int n;

	if (frac < 0) /* floor: before 1970 the fraction counts up too */
		sec--, frac += 1000;
	tt = (time_t) sec;
	/* Only what cluster_time_parse_ms() reads back: years 0000 to 9999. */
	if ((int64_t) tt != sec || !gmtime_r(&tt, &tm) || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900)
		n = -1;
	else
		n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			     (int) frac);
	if ((n < 0 || (size_t) n >= len) && len)
		buf[0] = '\0';
	return buf;
}

static int mode_parse(const char *s, enum state_db_mode_kind *ret)
{
	static const enum state_db_mode_kind kinds[] = {
		STATE_DB_MODE_LEARN,
		STATE_DB_MODE_PREVIEW,
		STATE_DB_MODE_ENFORCE,
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(s, state_db_mode_name(kinds[i])) == 0) {
			*ret = kinds[i];
			return 0;
		}
	return -EINVAL;
}

int cluster_mode_parse(const json_t *obj, struct cluster_mode *ret, struct bh_err *reterr)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const json_t *spec = json_object_get(obj, "spec");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const json_t *mode = json_object_get(spec, "mode");
	const json_t *at = json_object_get(spec, "switchedAt");
	const json_t *force = json_object_get(spec, "force");
	struct cluster_mode m = { .present = true };

	if (!name)
		name = "?";
	if (!json_is_object(obj) || !json_is_object(spec))
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "PolicyMode '%s': spec: missing or not an object", name);
	if (!json_is_string(mode) || mode_parse(json_string_value(mode), &m.mode) < 0)
		return bh_err_set(
			reterr, BH_ERR_INPUT, -EINVAL,
			"PolicyMode '%s': spec.mode: '%s' is not learn, preview or enforce", name,
			json_is_string(mode) ? json_string_value(mode) : "");
	if (!json_is_string(at) || cluster_time_parse_ms(json_string_value(at), &m.switched_at) < 0)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "PolicyMode '%s': spec.switchedAt: '%s' is not an RFC 3339 time",
				  name, json_is_string(at) ? json_string_value(at) : "");
	if (force && !json_is_null(force)) {
		if (!json_is_boolean(force))
			return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
					  "PolicyMode '%s': spec.force: not a boolean", name);
		m.force = json_is_true(force);
	}
	*ret = m;
	return 0;
}
