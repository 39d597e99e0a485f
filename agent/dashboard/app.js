/* Bulkhead policy preview dashboard.
 *
 * Reads a report (docs/report.schema.json, version 1) from ?report=URL,
 * from the agent's /report when served over HTTP, or from a file chosen
 * on disk.  No library, no build step, no inline script (it runs under
 * "default-src 'none'; script-src 'self'; style-src 'self';
 * img-src 'self' data:; connect-src 'self'").
 *
 * Every string from the report reaches the page through text nodes
 * (el() / textContent) or canvas fillText, never through innerHTML, and
 * never into a URL or an attribute that is interpreted.
 *
 * document.body.dataset.state is "loading", "ready" or "error" (the
 * browser tests and the benchmark wait on it).
 */
'use strict';

const SCHEMA_VERSION = 1;
const STATES = ['alerted', 'uncovered', 'allowed-by-proposal', 'allowed-by-existing-policy', 'enforced'];
const STATE_RANK = { alerted: 0, uncovered: 1, 'allowed-by-proposal': 2, 'allowed-by-existing-policy': 3, enforced: 4 };
const STATE_WORD = {
	alerted: 'alerted in preview', uncovered: 'not covered yet', 'allowed-by-proposal': 'allowed by the proposal',
	'allowed-by-existing-policy': 'allowed by an existing policy', enforced: 'enforced'
};
const COLOR = {
	alerted: '#d32f2f', uncovered: '#ef8f00', 'allowed-by-proposal': '#2e7d32',
	'allowed-by-existing-policy': '#1565c0', enforced: '#6a1b9a', external: '#78909c', none: '#b0bec5'
};
const ROWS = 300; // rows of a long list rendered at a time
const EDGE_MAX = 3000; // single edges on screen before the map bundles them

let R = null; // the report
let IX = null; // indexes over it
const $ = (id) => document.getElementById(id);

/* ---------- DOM helpers: text only ---------- */

function el(tag, props, ...kids) {
	const e = document.createElement(tag);
	if (props) {
		for (const k of Object.keys(props)) {
			if (k === 'class') e.className = props[k];
			else if (k === 'data') Object.assign(e.dataset, props[k]);
			else if (k === 'on') for (const ev of Object.keys(props[k])) e.addEventListener(ev, props[k][ev]);
			else if (k === 'title') e.title = String(props[k]);
			else e[k] = props[k];
		}
	}
	for (const c of kids.flat(Infinity)) {
		if (c === null || c === undefined || c === false) continue;
		e.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
	}
	return e;
}

function clear(node) {
	while (node.firstChild) node.removeChild(node.firstChild);
	return node;
}

function str(x) {
	return x === null || x === undefined ? '-' : String(x);
}

function plural(n, one, many) {
	return n.toLocaleString('en-US') + ' ' + (n === 1 ? one : (many || one + 's'));
}

function fmtTime(t) {
	if (typeof t !== 'string') return '-';
	return t.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');
}

function fmtDur(s) {
	s = Math.max(0, Math.round(s || 0));
	const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
	if (d) return d + 'd ' + h + 'h';
	if (h) return h + 'h ' + m + 'm';
	return m + 'm';
}

function peerText(p) {
	if (!p || typeof p !== 'object') return '-';
	if (p.cidr) return p.cidr;
	const w = IX.wl.get(p.workload);
	const base = w ? w.namespace + '/' + w.name : str(p.workload);
	return p.pod ? base + ' (' + p.pod + ')' : base;
}

function peerNode(p) {
	if (p && p.workload && IX.wl.has(p.workload)) {
		return el('a', { class: 'wl', data: { wl: p.workload }, on: { click: () => showWorkload(p.workload) } }, peerText(p));
	}
	return document.createTextNode(peerText(p));
}

function stateNode(s) {
	return el('span', { class: 'st st-' + String(s).replace(/[^a-z-]/g, '') }, str(s));
}

/* ---------- messages ---------- */

function message(text, isError) {
	const m = $('msg');
	m.hidden = !text;
	m.className = isError ? 'error' : '';
	m.textContent = text || '';
}

function fail(text) {
	R = null;
	IX = null;
	message(text, true);
	for (const v of document.querySelectorAll('.view')) v.hidden = true;
	clear($('meta'));
	document.body.dataset.state = 'error';
}

/* ---------- loading ---------- */

function notJson(source, e) {
	fail('The report from ' + source + ' is not valid JSON (' + e.message + '). Nothing is shown. ' +
		'Export it again with `bulkhead export -o report.json`.');
}

function acceptText(text, source) {
	window.__bhTimes = { received: performance.now() };
	let r;
	try {
		r = JSON.parse(text);
	} catch (e) {
		return notJson(source, e);
	}
	accept(r, source);
}

function accept(r, source) {
	const T = window.__bhTimes = window.__bhTimes || {};
	if (!r || typeof r !== 'object' || Array.isArray(r)) {
		return fail('The report from ' + source + ' is not a JSON object. Nothing is shown.');
	}
	if (r.schemaVersion !== SCHEMA_VERSION) {
		const v = r.schemaVersion === undefined ? (r.version !== undefined ? 'an old format (version ' + JSON.stringify(r.version) + ', no schemaVersion)' : 'no schemaVersion')
			: 'schema version ' + JSON.stringify(r.schemaVersion);
		return fail('The report from ' + source + ' has ' + v + '; this dashboard reads schema version ' +
			SCHEMA_VERSION + '. Export it again with a bulkhead of the same version as this dashboard.');
	}
	const arrays = ['namespaces', 'workloads', 'flows', 'alerts', 'proposals', 'existingPolicies'];
	const bad = arrays.filter((k) => !Array.isArray(r[k]));
	if (bad.length) {
		return fail('The report from ' + source + ' is malformed: ' + bad.map((k) => '"' + k + '"').join(', ') +
			(bad.length === 1 ? ' is' : ' are') + ' missing or not a list. Nothing is shown.');
	}
	for (const k of arrays) {
		const i = r[k].findIndex((x) => !x || typeof x !== 'object');
		if (i >= 0) return fail('The report from ' + source + ' is malformed: ' + k + '[' + i + '] is not an object.');
	}
	T.parsed = performance.now();
	R = r;
	index();
	T.indexed = performance.now();
	message(r.namespaces.length || r.workloads.length ? '' :
		'This report is empty: the agent has learned no workloads or namespaces yet. Let it learn, then export again.', false);
	renderAll();
	T.rendered = performance.now();
	// ready (and the benchmark's time to interactive) once the frame with
	// the report is painted and the page takes input again
	requestAnimationFrame(() => setTimeout(() => {
		window.__bhReadyMs = performance.now();
		document.body.dataset.state = 'ready';
	}, 0));
}

function load(url) {
	document.body.dataset.state = 'loading';
	message('Loading ' + url + ' …', false);
	fetch(url, { cache: 'no-store' }).then((resp) => {
		if (!resp.ok) throw new Error('HTTP ' + resp.status + ' ' + resp.statusText);
		window.__bhTimes = { headers: performance.now() };
		return resp.json().then((r) => accept(r, url), (e) => notJson(url, e));
	}).catch((e) => fail('Could not load the report from ' + url + ': ' + e.message +
		'. Choose a report file with "Open report…".'));
}

function start() {
	$('file').addEventListener('change', (ev) => {
		const f = ev.target.files[0];
		if (!f) return;
		document.body.dataset.state = 'loading';
		const rd = new FileReader();
		rd.onload = () => acceptText(String(rd.result), f.name);
		rd.onerror = () => fail('Could not read ' + f.name + '.');
		rd.readAsText(f);
	});
	$('nsFilter').addEventListener('change', () => { if (R) renderAll(); });
	window.addEventListener('hashchange', route);
	setupMap();
	setupAlerts();
	setupProposals();
	$('wlSearch').addEventListener('focus', fillNames);
	$('wlSearch').addEventListener('change', () => {
		const v = $('wlSearch').value.trim();
		if (!IX) return;
		const id = IX.wl.has(v) ? v : (IX.workloads.find((w) => w.name === v || w.namespace + '/' + w.name === v) || {}).id;
		if (id) showWorkload(id);
	});
	const q = new URLSearchParams(location.search).get('report');
	if (q) load(q);
	else if (location.protocol === 'http:' || location.protocol === 'https:') load('report');
	else {
		document.body.dataset.state = 'empty';
		message('Choose a report with "Open report…" (written by `bulkhead export -o report.json`), or open this page as index.html?report=URL.', false);
	}
	route();
}

/* ---------- indexes ---------- */

// The namespace of a workload id (NAMESPACE/KIND/NAME), through the
// workload when the report has it (String.split on 50,000 ids is slow).
function nsOfId(id) {
	const w = IX && IX.wl.get(id);
	if (w) return w.namespace;
	const s = String(id), i = s.indexOf('/');
	return i < 0 ? s : s.slice(0, i);
}

function home(x) {
	const p = x.dst && x.dst.workload ? x.dst : x.src;
	return p && p.workload ? nsOfId(p.workload) : null;
}

function index() {
	const wl = new Map();
	const workloads = R.workloads.filter((w) => typeof w.id === 'string');
	for (const w of workloads) wl.set(w.id, w);
	const ns = new Map();
	for (const n of R.namespaces) {
		ns.set(n.name, { ns: n, workloads: 0, flows: 0, uncovered: 0, alerts: 0, open: 0 });
	}
	const nsOf = (name) => {
		if (!ns.has(name)) ns.set(name, { ns: { name: name, mode: 'unknown' }, workloads: 0, flows: 0, uncovered: 0, alerts: 0, open: 0 });
		return ns.get(name);
	};
	for (const w of workloads) nsOf(w.namespace).workloads++;
	const inFlows = new Map(), outFlows = new Map(), flowById = new Map();
	IX = { wl: wl, workloads: workloads, ns: ns, inFlows: inFlows, outFlows: outFlows, flowById: flowById, selects: null, map: null, names: false };
	const push = (m, k, v) => { let a = m.get(k); if (!a) m.set(k, a = []); a.push(v); };
	for (const f of R.flows) {
		flowById.set(f.id, f);
		if (f.dst && f.dst.workload) push(inFlows, f.dst.workload, f);
		if (f.src && f.src.workload) push(outFlows, f.src.workload, f);
		const h = home(f);
		if (h !== null) {
			const c = nsOf(h);
			c.flows++;
			if (f.state === 'uncovered') c.uncovered++;
		}
	}
	for (const a of R.alerts) {
		const h = home(a);
		if (h !== null) {
			const c = nsOf(h);
			c.alerts++;
			if (a.state === 'open') c.open++;
		}
	}
	const selects = new Map();
	for (const [kind, list] of [['proposal', R.proposals], ['existing', R.existingPolicies]]) {
		for (const p of list) for (const id of (Array.isArray(p.selects) ? p.selects : [])) push(selects, id, { kind: kind, p: p });
	}
	IX.selects = selects;
	const sel = $('nsFilter'), keep = sel.value;
	clear(sel).appendChild(el('option', { value: '' }, 'all namespaces'));
	for (const name of [...ns.keys()].sort()) sel.appendChild(el('option', { value: name }, name));
	sel.value = ns.has(keep) ? keep : '';
	clear($('wlNames'));
}

function fillNames() { // the workload search's suggestions, on first use
	if (!IX || IX.names) return;
	IX.names = true;
	const dl = $('wlNames');
	for (const w of IX.workloads.slice(0, 5000)) dl.appendChild(el('option', { value: w.id }));
}

function nsFilter() {
	return $('nsFilter').value;
}

function inNs(x) {
	const f = nsFilter();
	if (!f) return true;
	const a = x.src && x.src.workload && nsOfId(x.src.workload) === f;
	const b = x.dst && x.dst.workload && nsOfId(x.dst.workload) === f;
	return a || b;
}

/* ---------- routing ---------- */

let current = 'summary';
const dirty = new Set();

function route() {
	const h = decodeURIComponent(location.hash.slice(1));
	let view = h.split('/')[0] || 'summary';
	if (!$('view-' + view)) view = 'summary';
	current = view;
	for (const a of document.querySelectorAll('#tabs a')) a.classList.toggle('active', a.dataset.view === view);
	document.body.dataset.view = view;
	if (!R) return;
	for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== 'view-' + view;
	if (view === 'workload' && h.length > 9) renderWorkload(h.slice(9));
	if (dirty.has(view)) {
		dirty.delete(view);
		RENDER[view]();
	}
	if (view === 'map') drawMapSoon();
	if (view === 'preview') renderTimeline();
}

const RENDER = {
	summary: renderSummary, map: renderMap, preview: renderPreview,
	alerts: renderAlerts, proposals: renderProposals, workload: () => renderWorkload(null)
};

function renderAll() {
	renderMeta();
	for (const k of Object.keys(RENDER)) dirty.add(k);
	route();
}

function renderMeta() {
	const c = R.cluster || {}, n = R.node || {}, a = R.agent || {};
	clear($('meta')).append(
		'cluster ' + str(c.name) + ' · node ' + str(n.name) + ' · agent ' + str(a.version) +
		' · report of ' + fmtTime(R.generatedAt));
}

/* ---------- summary ---------- */

function safety(c) {
	const n = c.ns;
	const left = n.preview && typeof n.preview.secondsLeft === 'number' ? n.preview.secondsLeft : null;
	const parts = [plural(c.open, 'open alert'),
		n.mode === 'preview' ? (left ? fmtDur(left) + ' of preview left' : 'preview window over') : null,
		plural(c.uncovered, 'flow') + ' not yet covered'].filter(Boolean);
	if (n.mode === 'enforce') return { cls: 'done', line: n.name + ': enforced', why: parts };
	if (n.mode === 'learning') {
		const l = n.learning && n.learning.secondsLeft ? ', ' + fmtDur(n.learning.secondsLeft) + ' of learning left' : '';
		return { cls: 'wait', line: n.name + ': not ready: still learning' + l, why: parts };
	}
	if (n.mode === 'proposed') return { cls: 'wait', line: n.name + ': not ready: the proposal is not previewed yet (bulkhead preview --namespace ' + n.name + ')', why: parts };
	if (n.mode !== 'preview') return { cls: 'wait', line: n.name + ': unknown mode ' + str(n.mode), why: parts };
	const safe = c.open === 0 && c.uncovered === 0 && !left;
	return { cls: safe ? 'safe' : 'unsafe', line: n.name + (safe ? ': safe to enforce' : ': not safe to enforce yet'), why: parts };
}

function renderSummary() {
	let open = 0;
	for (const a of R.alerts) if (a.state === 'open') open++;
	clear($('totals')).append(
		el('div', null, el('b', null, R.namespaces.length.toLocaleString('en-US')), 'namespaces'),
		el('div', null, el('b', null, R.workloads.length.toLocaleString('en-US')), 'workloads'),
		el('div', null, el('b', null, R.flows.length.toLocaleString('en-US')), 'flows'),
		el('div', null, el('b', null, R.alerts.length.toLocaleString('en-US')), 'alerts'),
		el('div', null, el('b', null, open.toLocaleString('en-US')), 'open alerts'),
		el('div', null, el('b', null, R.proposals.length.toLocaleString('en-US')), 'proposed policies'));
	const box = clear($('safety'));
	const f = nsFilter();
	const list = [...IX.ns.values()].filter((c) => !f || c.ns.name === f).sort((a, b) => String(a.ns.name).localeCompare(String(b.ns.name)));
	if (!list.length) box.append(el('p', { class: 'hint' }, 'No namespaces in this report yet.'));
	for (const c of list) {
		const s = safety(c);
		const n = c.ns;
		box.append(el('div', { class: 'ns ' + s.cls, data: { ns: String(n.name) } },
			el('div', { class: 'line' }, s.line + ' — ' + s.why.join(', ')),
			el('div', null, 'mode ' + str(n.mode) + ' · ' + plural(c.workloads, 'workload') + ' · ' + plural(c.flows, 'flow') +
				(n.preview ? ' · preview ' + fmtTime(n.preview.start) + ' to ' + fmtTime(n.preview.end) : '')),
			n.mode === 'enforce' ? null : el('code', { class: 'cmd' }, str(n.enforceCommand || 'bulkhead enforce --namespace ' + n.name))));
	}
	const e = R.enforcement || {};
	clear($('enforcement')).append(el('h3', null, 'Enforcement on this node'),
		el('div', null, 'ruleset ' + str(e.rulesetDigest) + ' · last programmed ' + fmtTime(e.lastProgrammed)),
		Array.isArray(e.errors) && e.errors.length ? el('ul', null, e.errors.map((x) => el('li', { class: 'st-open' }, x))) : el('div', { class: 'hint' }, 'no programming errors'));
}

/* ---------- map ---------- */

const view = { s: 1, x: 0, y: 0 };
let mapQueued = false;

function renderMap() {
	const f = nsFilter();
	const nodes = []; // {id, label, ns, x, y, state, ext}
	const pos = new Map();
	// with a namespace filter: its workloads, and the peers of its flows
	const touching = f ? R.flows.filter(inNs) : R.flows;
	const peers = new Set();
	if (f) for (const fl of touching) for (const p of [fl.src, fl.dst]) if (p && p.workload) peers.add(p.workload);
	const groups = new Map();
	for (const w of IX.workloads) {
		if (f && w.namespace !== f && !peers.has(w.id)) continue;
		let g = groups.get(w.namespace);
		if (!g) groups.set(w.namespace, g = []);
		g.push(w);
	}
	const ext = new Map();
	for (const fl of touching) for (const p of [fl.src, fl.dst]) if (p && p.cidr && !ext.has(p.cidr)) ext.set(p.cidr, 0);
	const names = [...groups.keys()].sort();
	const boxes = [];
	const cell = 64;
	const layout = (title, items, mk) => {
		const cols = Math.max(1, Math.ceil(Math.sqrt(items.length * 1.6)));
		const rows = Math.ceil(items.length / cols);
		boxes.push({ title: title, w: cols * cell + 20, h: rows * cell + 36, items: items, cols: cols, mk: mk });
	};
	for (const name of names) layout(name, groups.get(name), (w) => ({ id: w.id, label: w.name, ns: w.namespace }));
	if (ext.size) layout('outside the cluster', [...ext.keys()].sort(), (c) => ({ id: 'cidr:' + c, label: c, ns: null, ext: true }));
	let area = 0;
	for (const b of boxes) area += b.w * b.h;
	const maxW = Math.max(600, Math.sqrt(area) * 1.5);
	let x = 0, y = 0, rowH = 0;
	boxes.forEach((b, bi) => {
		if (x > 0 && x + b.w > maxW) { x = 0; y += rowH + 30; rowH = 0; }
		b.x = x; b.y = y;
		b.items.forEach((it, i) => {
			const n = b.mk(it);
			n.box = bi;
			n.x = x + 10 + (i % b.cols) * cell + cell / 2;
			n.y = y + 30 + Math.floor(i / b.cols) * cell + cell / 2;
			n.rank = 9;
			pos.set(n.id, nodes.length);
			nodes.push(n);
		});
		x += b.w + 30;
		rowH = Math.max(rowH, b.h);
	});
	const edges = new Map();
	const key = (p) => p && (p.workload || (p.cidr ? 'cidr:' + p.cidr : null));
	for (const fl of R.flows) {
		const a = pos.get(key(fl.src)), b = pos.get(key(fl.dst));
		if (a === undefined || b === undefined) continue;
		const rank = STATE_RANK[fl.state] === undefined ? 9 : STATE_RANK[fl.state];
		const k = a * 65536 + b;
		let e = edges.get(k);
		if (!e) edges.set(k, e = { a: a, b: b, rank: 9, ports: [] });
		if (rank < e.rank) e.rank = rank;
		if (e.ports.length < 4) e.ports.push(fl.port + '/' + fl.protocol);
		else if (e.ports.length === 4) e.ports.push('…');
		if (rank < nodes[b].rank) nodes[b].rank = rank;
	}
	// Namespace to namespace bundles, drawn instead of the single edges
	// when too many of those would be on screen (a software rasterizer
	// takes seconds over 50,000 anti-aliased lines; a hairball says nothing).
	const bundles = new Map();
	for (const e of edges.values()) {
		const ba = nodes[e.a].box, bb = nodes[e.b].box;
		if (ba === bb) continue;
		const k = ba * 4096 + bb;
		let u = bundles.get(k);
		if (!u) bundles.set(k, u = { a: ba, b: bb, rank: 9, n: 0 });
		u.n++;
		if (e.rank < u.rank) u.rank = e.rank;
	}
	IX.map = { nodes: nodes, edges: [...edges.values()], bundles: [...bundles.values()], boxes: boxes, match: null, hover: -1 };
	$('mapInfo').textContent = plural(nodes.length, 'node') + ', ' + plural(IX.map.edges.length, 'edge') +
		' (' + plural(R.flows.length, 'flow') + ')' + (f ? ' in ' + f : '');
	applySearch();
	fit();
}

function canvasSize(c) {
	const r = c.getBoundingClientRect(), d = window.devicePixelRatio || 1;
	const w = Math.max(1, Math.round(r.width * d)), h = Math.max(1, Math.round(r.height * d));
	if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
	return { w: r.width, h: r.height, d: d };
}

function fit() {
	const m = IX && IX.map;
	if (!m) return;
	const c = $('mapCanvas'), sz = canvasSize(c);
	let w = 1, h = 1;
	for (const b of m.boxes) { w = Math.max(w, b.x + b.w); h = Math.max(h, b.y + b.h); }
	view.s = Math.min(2, Math.max(0.02, Math.min(sz.w / (w + 40), sz.h / (h + 40))));
	view.x = (sz.w - w * view.s) / 2;
	view.y = 10;
	drawMapSoon();
}

function drawMapSoon() {
	if (mapQueued) return;
	mapQueued = true;
	requestAnimationFrame(() => { mapQueued = false; drawMap(); });
}

function drawMap() {
	const m = IX && IX.map;
	const c = $('mapCanvas');
	if (!m || c.offsetParent === null) return;
	const sz = canvasSize(c), g = c.getContext('2d');
	g.setTransform(sz.d, 0, 0, sz.d, 0, 0);
	g.clearRect(0, 0, sz.w, sz.h);
	g.setTransform(sz.d * view.s, 0, 0, sz.d * view.s, sz.d * view.x, sz.d * view.y);
	const x0 = -view.x / view.s, y0 = -view.y / view.s, x1 = x0 + sz.w / view.s, y1 = y0 + sz.h / view.s;
	g.lineWidth = 1 / view.s;
	g.font = '13px "DejaVu Sans", sans-serif';
	for (const b of m.boxes) {
		if (b.x > x1 || b.y > y1 || b.x + b.w < x0 || b.y + b.h < y0) continue;
		g.fillStyle = '#f3f5f8';
		g.fillRect(b.x, b.y, b.w, b.h);
		g.strokeStyle = '#c5ccd5';
		g.strokeRect(b.x, b.y, b.w, b.h);
		if (view.s > 0.15) { g.fillStyle = '#37474f'; g.fillText(b.title.slice(0, 60), b.x + 6, b.y + 18, b.w - 12); }
	}
	const N = m.nodes;
	const off = (a, b) => (a.x < x0 && b.x < x0) || (a.x > x1 && b.x > x1) || (a.y < y0 && b.y < y0) || (a.y > y1 && b.y > y1);
	let visible = 0;
	for (const e of m.edges) if (!off(N[e.a], N[e.b]) && ++visible > EDGE_MAX) break;
	m.bundled = visible > EDGE_MAX;
	g.globalAlpha = m.match ? 0.2 : m.bundled ? 0.35 : 0.55;
	if (m.bundled) {
		const B = m.boxes, cx = (b) => b.x + b.w / 2, cy = (b) => b.y + b.h / 2;
		const bundles = m.bundles.slice().sort((p, q) => q.rank - p.rank);
		for (const u of bundles) {
			const a = B[u.a], b = B[u.b];
			g.strokeStyle = COLOR[STATES[u.rank]] || COLOR.none;
			g.lineWidth = (0.3 + Math.log2(1 + u.n) / 4) / view.s;
			g.beginPath();
			g.moveTo(cx(a), cy(a));
			g.quadraticCurveTo((cx(a) + cx(b)) / 2 - (cy(b) - cy(a)) * 0.2, (cy(a) + cy(b)) / 2 + (cx(b) - cx(a)) * 0.2, cx(b), cy(b));
			g.stroke();
		}
	}
	g.lineWidth = 1.2 / view.s;
	for (let r = STATES.length - 1; r >= 0 && !m.bundled; r--) {
		g.strokeStyle = COLOR[STATES[r]];
		g.beginPath();
		for (const e of m.edges) {
			if (e.rank !== r) continue;
			const a = N[e.a], b = N[e.b];
			if (off(a, b)) continue;
			// a bend to the right of the direction of travel: a->b and
			// b->a stay apart, and edges along a row do not run through nodes
			g.moveTo(a.x, a.y);
			g.quadraticCurveTo((a.x + b.x) / 2 - (b.y - a.y) * 0.2, (a.y + b.y) / 2 + (b.x - a.x) * 0.2, b.x, b.y);
		}
		g.stroke();
	}
	g.globalAlpha = 1;
	const rad = 9;
	const buckets = new Map();
	for (let i = 0; i < N.length; i++) {
		const n = N[i];
		if (n.x < x0 - rad || n.x > x1 + rad || n.y < y0 - rad || n.y > y1 + rad) continue;
		const col = n.ext ? COLOR.external : COLOR[STATES[n.rank]] || COLOR.none;
		let arr = buckets.get(col);
		if (!arr) buckets.set(col, arr = []);
		arr.push(n);
	}
	for (const [col, arr] of buckets) {
		g.fillStyle = col;
		g.beginPath();
		for (const n of arr) { g.moveTo(n.x + rad, n.y); g.arc(n.x, n.y, rad, 0, 2 * Math.PI); }
		g.fill();
	}
	if (m.match) {
		g.strokeStyle = '#000';
		g.lineWidth = 3 / view.s;
		g.beginPath();
		for (const i of m.match) { const n = N[i]; g.moveTo(n.x + rad + 4, n.y); g.arc(n.x, n.y, rad + 4, 0, 2 * Math.PI); }
		g.stroke();
	}
	$('mapHint').textContent = m.bundled ? 'Too many flows on screen: edges drawn between namespaces, thickness by number of workload edges; zoom in or choose a namespace to see each flow.' : '';
	if (view.s > 0.7) {
		g.fillStyle = '#1d232b';
		g.font = '10px "DejaVu Sans", sans-serif';
		g.textAlign = 'center';
		for (const arr of buckets.values()) for (const n of arr) g.fillText(n.label.length > 16 ? n.label.slice(0, 15) + '…' : n.label, n.x, n.y + rad + 10);
		g.textAlign = 'start';
		let shown = 0;
		g.fillStyle = '#37474f';
		g.font = '9px "DejaVu Sans Mono", monospace';
		for (const e of m.edges) {
			const a = N[e.a], b = N[e.b];
			const mx = (a.x + b.x) / 2 - (b.y - a.y) * 0.1, my = (a.y + b.y) / 2 + (b.x - a.x) * 0.1;
			if (m.bundled || mx < x0 || mx > x1 || my < y0 || my > y1) continue;
			if (++shown > 600) break;
			g.fillText(e.ports.join(' '), mx + 2, my - 2);
		}
	}
	if (m.hover >= 0) {
		const n = N[m.hover];
		g.strokeStyle = '#000';
		g.lineWidth = 2 / view.s;
		g.beginPath();
		g.arc(n.x, n.y, rad + 2, 0, 2 * Math.PI);
		g.stroke();
	}
}

function hit(ev) {
	const m = IX && IX.map;
	if (!m) return -1;
	const r = $('mapCanvas').getBoundingClientRect();
	const x = (ev.clientX - r.left - view.x) / view.s, y = (ev.clientY - r.top - view.y) / view.s;
	for (let i = 0; i < m.nodes.length; i++) {
		const n = m.nodes[i];
		if ((n.x - x) * (n.x - x) + (n.y - y) * (n.y - y) <= 100) return i;
	}
	return -1;
}

function zoomAt(f, cx, cy) {
	const s = Math.min(8, Math.max(0.02, view.s * f));
	view.x = cx - (cx - view.x) * s / view.s;
	view.y = cy - (cy - view.y) * s / view.s;
	view.s = s;
	drawMapSoon();
}

function applySearch() {
	const m = IX && IX.map;
	if (!m) return;
	const q = $('mapSearch').value.trim().toLowerCase();
	if (!q) { m.match = null; return; }
	m.match = [];
	m.nodes.forEach((n, i) => {
		let hay = n.id.toLowerCase();
		const w = IX.wl.get(n.id);
		if (w) {
			for (const k of Object.keys(w.labels || {})) hay += ' ' + k.toLowerCase() + '=' + String(w.labels[k]).toLowerCase();
			for (const p of (w.pods || [])) hay += ' ' + String(p.name).toLowerCase() + ' ' + str(p.ip);
		}
		if (hay.includes(q)) m.match.push(i);
	});
	$('mapInfo').textContent = plural(m.match.length, 'match', 'matches') + ' for the search';
}

function setupMap() {
	const c = $('mapCanvas'), tip = $('mapTip');
	const leg = $('legend');
	for (const [cls, s] of [['proposal', 'allowed-by-proposal'], ['existing', 'allowed-by-existing-policy'], ['alerted', 'alerted'], ['enforced', 'enforced'], ['uncovered', 'uncovered']]) {
		leg.append(el('span', { class: 'sw-' + cls }, STATE_WORD[s]));
	}
	leg.append(el('span', { class: 'sw-external' }, 'outside the cluster'),
		el('span', { class: 'hint' }, 'a workload takes the colour of its worst inbound flow; drag to pan, wheel to zoom, click for its page'));
	let drag = null;
	c.addEventListener('wheel', (ev) => {
		ev.preventDefault();
		const r = c.getBoundingClientRect();
		zoomAt(Math.exp(-ev.deltaY * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
	}, { passive: false });
	c.addEventListener('mousedown', (ev) => { drag = { x: ev.clientX, y: ev.clientY, vx: view.x, vy: view.y, moved: false }; });
	window.addEventListener('mouseup', (ev) => {
		if (drag && !drag.moved) {
			const i = hit(ev);
			if (i >= 0 && !IX.map.nodes[i].ext) showWorkload(IX.map.nodes[i].id);
		}
		drag = null;
	});
	c.addEventListener('mousemove', (ev) => {
		if (drag) {
			const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
			if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
			view.x = drag.vx + dx; view.y = drag.vy + dy;
			drawMapSoon();
			return;
		}
		const i = hit(ev);
		if (!IX || !IX.map || i === IX.map.hover) return;
		IX.map.hover = i;
		tip.hidden = i < 0;
		if (i >= 0) {
			const n = IX.map.nodes[i];
			const r = c.getBoundingClientRect();
			tip.textContent = n.ext ? n.label + ' (outside the cluster)' : n.id + '\n' + (n.rank < 9 ? STATE_WORD[STATES[n.rank]] : 'no inbound flow') +
				' · ' + plural((IX.inFlows.get(n.id) || []).length, 'inbound flow') + ', ' + plural((IX.outFlows.get(n.id) || []).length, 'outbound flow');
			tip.style.left = (ev.clientX - r.left + 14) + 'px';
			tip.style.top = (ev.clientY - r.top + 14) + 'px';
		}
		drawMapSoon();
	});
	$('zoomIn').addEventListener('click', () => { const r = c.getBoundingClientRect(); zoomAt(1.5, r.width / 2, r.height / 2); });
	$('zoomOut').addEventListener('click', () => { const r = c.getBoundingClientRect(); zoomAt(1 / 1.5, r.width / 2, r.height / 2); });
	$('zoomFit').addEventListener('click', fit);
	$('mapSearch').addEventListener('input', () => { applySearch(); drawMapSoon(); });
	$('mapSearch').addEventListener('keydown', (ev) => {
		const m = IX && IX.map;
		if (ev.key !== 'Enter' || !m || !m.match || !m.match.length) return;
		const n = m.nodes[m.match[0]], r = c.getBoundingClientRect();
		view.s = 1.5;
		view.x = r.width / 2 - n.x * view.s;
		view.y = r.height / 2 - n.y * view.s;
		drawMapSoon();
	});
	window.addEventListener('resize', () => { drawMapSoon(); if (current === 'preview') renderTimeline(); });
}

/* ---------- preview timeline ---------- */

function parseT(t) {
	const v = Date.parse(t);
	return isNaN(v) ? null : v;
}

function renderPreview() {
	const t = clear($('windows'));
	t.append(el('tr', null, ['namespace', 'mode', 'learning', 'preview start', 'preview end', 'time left', 'open alerts', 'alerts'].map((h) => el('th', null, h))));
	const f = nsFilter();
	const list = [...IX.ns.values()].filter((c) => !f || c.ns.name === f).sort((a, b) => String(a.ns.name).localeCompare(String(b.ns.name)));
	for (const c of list) {
		const n = c.ns, p = n.preview;
		t.append(el('tr', { data: { ns: String(n.name) } }, el('td', null, str(n.name)), el('td', null, str(n.mode)),
			el('td', null, n.learning ? fmtTime(n.learning.start) + ' to ' + fmtTime(n.learning.end) : '-'),
			el('td', null, p ? fmtTime(p.start) : '-'), el('td', null, p ? fmtTime(p.end) : '-'),
			el('td', null, p ? (p.secondsLeft ? fmtDur(p.secondsLeft) : 'over') : '-'),
			el('td', { class: 'num' }, c.open), el('td', { class: 'num' }, c.alerts)));
	}
	renderTimeline();
}

function renderTimeline() {
	const c = $('timeline');
	if (!R || c.offsetParent === null) return;
	const sz = canvasSize(c), g = c.getContext('2d');
	g.setTransform(sz.d, 0, 0, sz.d, 0, 0);
	g.clearRect(0, 0, sz.w, sz.h);
	const f = nsFilter();
	const now = parseT(R.generatedAt) || Date.now();
	let lo = Infinity, hi = now;
	const wins = [];
	for (const cc of IX.ns.values()) {
		const p = cc.ns.preview;
		if ((f && cc.ns.name !== f) || !p) continue;
		const a = parseT(p.start), b = parseT(p.end);
		if (a === null || b === null) continue;
		wins.push({ name: String(cc.ns.name), a: a, b: b });
		lo = Math.min(lo, a); hi = Math.max(hi, b);
	}
	const alerts = R.alerts.filter(inNs);
	for (const a of alerts) { const t = parseT(a.firstSeen); if (t !== null) lo = Math.min(lo, t); }
	g.font = '12px "DejaVu Sans", sans-serif';
	if (!isFinite(lo)) {
		g.fillStyle = '#5b6572';
		g.fillText('No preview window and no alert in this report' + (f ? ' for ' + f : '') + '.', 20, 30);
		return;
	}
	if (hi - lo < 3600e3) hi = lo + 3600e3;
	const L = 50, Rr = sz.w - 20, top = 20, H = sz.h - 110;
	const X = (t) => L + (t - lo) / (hi - lo) * (Rr - L);
	const nb = Math.max(10, Math.min(120, Math.floor((Rr - L) / 8)));
	const bins = { open: new Array(nb).fill(0), allowed: new Array(nb).fill(0), dismissed: new Array(nb).fill(0) };
	for (const a of alerts) {
		const t = parseT(a.firstSeen);
		if (t === null || !bins[a.state]) continue;
		bins[a.state][Math.min(nb - 1, Math.floor((t - lo) / (hi - lo) * nb))]++;
	}
	let max = 1;
	for (let i = 0; i < nb; i++) max = Math.max(max, bins.open[i] + bins.allowed[i] + bins.dismissed[i]);
	const bw = (Rr - L) / nb;
	for (let i = 0; i < nb; i++) {
		let y = top + H;
		for (const [s, col] of [['open', COLOR.alerted], ['allowed', COLOR['allowed-by-proposal']], ['dismissed', '#90a4ae']]) {
			const h = bins[s][i] / max * H;
			g.fillStyle = col;
			g.fillRect(L + i * bw + 1, y - h, Math.max(1, bw - 2), h);
			y -= h;
		}
	}
	g.fillStyle = '#5b6572';
	g.fillText(String(max), 8, top + 10);
	g.fillText('0', 30, top + H);
	g.fillText('alerts first seen (red open, green allowed, grey dismissed)', L + 4, top + 10);
	for (let k = 0; k <= 4; k++) {
		const t = lo + (hi - lo) * k / 4;
		g.fillText(new Date(t).toISOString().slice(5, 16).replace('T', ' '), Math.min(X(t), Rr - 80), top + H + 16);
	}
	let y = top + H + 26;
	const rows = Math.max(1, Math.floor((sz.h - y - 4) / 14));
	for (const w of wins.slice(0, rows)) {
		g.fillStyle = '#90caf9';
		g.fillRect(X(w.a), y, Math.max(2, X(w.b) - X(w.a)), 10);
		g.fillStyle = '#1d232b';
		g.fillText(w.name.slice(0, 40) + ' preview', X(w.a) + 3, y + 9);
		y += 14;
	}
	g.strokeStyle = '#000';
	g.beginPath();
	g.moveTo(X(now), top);
	g.lineTo(X(now), sz.h - 4);
	g.stroke();
	g.fillText('report time', Math.min(X(now) + 3, Rr - 70), sz.h - 6);
}

/* ---------- alerts ---------- */

const asort = { key: 'lastSeen', dir: -1 };
let alertLimit = ROWS;
const ACOLS = [['state', 'state'], ['src', 'from'], ['dst', 'to'], ['port', 'port'], ['policy', 'deciding policy'],
	['explanation', 'explanation'], ['count', 'count'], ['firstSeen', 'first seen'], ['lastSeen', 'last seen'], ['id', 'id']];

function setupAlerts() {
	const again = () => { alertLimit = ROWS; if (R) renderAlerts(); };
	$('alertState').addEventListener('change', again);
	$('alertPort').addEventListener('input', again);
	$('alertSearch').addEventListener('input', again);
	$('alertMore').addEventListener('click', () => { alertLimit += ROWS * 3; renderAlerts(); });
}

function alertSortKey(a, k) {
	if (k === 'src' || k === 'dst') return peerText(a[k]);
	if (k === 'port') return (Number(a.port) || 0) * 10 + ({ TCP: 0, UDP: 1, SCTP: 2 }[a.protocol] || 3);
	const v = a[k];
	return typeof v === 'number' ? v : str(v);
}

function renderAlerts() {
	const st = $('alertState').value, port = $('alertPort').value.trim(), q = $('alertSearch').value.trim().toLowerCase();
	let list = R.alerts.filter((a) => inNs(a) && (!st || a.state === st) && (!port || String(a.port) === port) &&
		(!q || [peerText(a.src), peerText(a.dst), a.policy, a.explanation, a.id].some((s) => String(s).toLowerCase().includes(q))));
	const k = asort.key, d = asort.dir;
	const keyed = list.map((a) => [alertSortKey(a, k), a]);
	keyed.sort((x, y) => (x[0] < y[0] ? -d : x[0] > y[0] ? d : 0));
	list = keyed.map((x) => x[1]);
	$('alertCount').textContent = plural(list.length, 'alert') + ' of ' + R.alerts.length.toLocaleString('en-US') +
		(list.length > alertLimit ? ' (first ' + alertLimit + ' shown)' : '');
	const t = clear($('alertTable'));
	t.append(el('tr', null, ACOLS.map(([key, label]) => el('th', {
		class: key === asort.key ? (asort.dir > 0 ? 'asc' : 'desc') : '', data: { key: key },
		on: { click: () => { asort.dir = asort.key === key ? -asort.dir : (key === 'count' || key.endsWith('Seen') ? -1 : 1); asort.key = key; renderAlerts(); } }
	}, label))));
	const frag = document.createDocumentFragment();
	for (const a of list.slice(0, alertLimit)) {
		frag.append(el('tr', { data: { id: str(a.id) } }, el('td', null, stateNode(a.state)), el('td', null, peerNode(a.src)),
			el('td', null, peerNode(a.dst)), el('td', null, str(a.port) + '/' + str(a.protocol)),
			el('td', null, (a.policy === null ? 'a deleted policy' : str(a.policy)) + ' (' + str(a.direction) + ')'), el('td', null, str(a.explanation)),
			el('td', { class: 'num' }, str(a.count)), el('td', null, fmtTime(a.firstSeen)), el('td', null, fmtTime(a.lastSeen)),
			el('td', null, el('code', null, str(a.id)))));
	}
	t.append(frag);
	if (!list.length) t.append(el('tr', null, el('td', { colSpan: ACOLS.length, class: 'hint' }, R.alerts.length ? 'No alert matches the filters.' : 'No alerts: nothing the proposal would deny has been seen.')));
	$('alertMore').hidden = list.length <= alertLimit;
}

/* ---------- proposals ---------- */

let propSel = null;

function setupProposals() {
	$('propSearch').addEventListener('input', () => { if (R) renderProposals(); });
}

function policies() {
	const f = nsFilter(), q = $('propSearch').value.trim().toLowerCase();
	return R.proposals.filter((p) => (!f || p.namespace === f) && (!q || (p.namespace + '/' + p.name).toLowerCase().includes(q)));
}

function renderProposals() {
	const list = policies();
	$('propCount').textContent = plural(list.length, 'proposed policy', 'proposed policies') + (list.length > ROWS * 3 ? ' (first ' + ROWS * 3 + ' listed; filter to find others)' : '');
	const ul = clear($('propList'));
	for (const p of list.slice(0, ROWS * 3)) {
		const li = el('li', { data: { policy: p.namespace + '/' + p.name }, on: { click: () => { propSel = p; renderProposals(); } } }, p.namespace + '/' + p.name);
		if (p === propSel) li.className = 'sel';
		ul.append(li);
	}
	if (!list.includes(propSel)) propSel = list[0] || null;
	if (propSel && ul.firstChild && !ul.querySelector('.sel')) {
		for (const li of ul.children) if (li.dataset.policy === propSel.namespace + '/' + propSel.name) li.className = 'sel';
	}
	const d = clear($('propDetail'));
	if (!propSel) {
		d.append(el('p', { class: 'hint' }, R.proposals.length ? 'No policy matches.' : 'No proposed policies yet: the agent proposes once learning is over.'));
		return;
	}
	const p = propSel;
	d.append(el('h2', null, 'NetworkPolicy ' + p.namespace + '/' + p.name),
		el('div', null, 'selects: ', (p.selects || []).map((id, i) => [i ? ', ' : '', peerNode({ workload: id })])),
		el('pre', { class: 'yaml' }, str(p.yaml)), el('h3', null, 'Rules and the flows that justify them'));
	for (const r of (Array.isArray(p.rules) ? p.rules : [])) {
		const flows = (r.flows || []).map((id) => IX.flowById.get(id)).filter(Boolean);
		const box = el('div', { class: 'rule', data: { rule: str(r.direction) + '-' + str(r.index) } },
			el('b', null, str(r.direction) + ' rule ' + str(r.index) + ': '),
			(r.direction === 'egress' ? 'to ' : 'from ') + (r.peers || []).join('; ') + ' on ' + (r.ports || []).map((x) => x.port + '/' + x.protocol).join(', ') +
			' — justified by ' + plural(flows.length, 'flow'));
		const t = el('table', { class: 'grid' }, el('tr', null, ['from', 'to', 'port', 'count', 'first seen', 'last seen', 'state'].map((h) => el('th', null, h))));
		for (const f of flows.slice(0, 200)) {
			t.append(el('tr', null, el('td', null, peerNode(f.src)), el('td', null, peerNode(f.dst)), el('td', null, f.port + '/' + f.protocol),
				el('td', { class: 'num' }, str(f.count)), el('td', null, fmtTime(f.firstSeen)), el('td', null, fmtTime(f.lastSeen)), el('td', null, stateNode(f.state))));
		}
		if (flows.length > 200) t.append(el('tr', null, el('td', { colSpan: 7, class: 'hint' }, 'and ' + (flows.length - 200) + ' more flows')));
		box.append(t);
		d.append(box);
	}
}

/* ---------- workload page ---------- */

let wlCurrent = null;

function showWorkload(id) {
	wlCurrent = id;
	location.hash = '#workload/' + encodeURIComponent(id);
}

function flowTable(list, other) {
	const t = el('table', { class: 'grid' }, el('tr', null, [other, 'port', 'count', 'first seen', 'last seen', 'state', 'allowed by'].map((h) => el('th', null, h))));
	for (const f of list.slice(0, 500)) {
		const a = f.allowedBy;
		t.append(el('tr', null, el('td', null, peerNode(other === 'from' ? f.src : f.dst)), el('td', null, f.port + '/' + f.protocol),
			el('td', { class: 'num' }, str(f.count)), el('td', null, fmtTime(f.firstSeen)), el('td', null, fmtTime(f.lastSeen)),
			el('td', null, stateNode(f.state)), el('td', null, a ? str(a.policy) + ' (' + str(a.origin) + ', ' + str(a.direction) + ' rule ' + str(a.rule) + ')' : '-')));
	}
	if (list.length > 500) t.append(el('tr', null, el('td', { colSpan: 7, class: 'hint' }, 'and ' + (list.length - 500) + ' more')));
	if (!list.length) t.append(el('tr', null, el('td', { colSpan: 7, class: 'hint' }, 'none learned')));
	return t;
}

function renderWorkload(id) {
	if (id) wlCurrent = id;
	const d = clear($('wlDetail'));
	const w = wlCurrent && IX.wl.get(wlCurrent);
	if (!w) {
		d.append(el('p', { class: 'hint' }, IX.workloads.length ? (wlCurrent ? 'No workload ' + wlCurrent + ' in this report. ' : '') +
			'Pick a workload on the map, in an alert, or with the search above.' : 'No workloads in this report yet.'));
		return;
	}
	$('wlSearch').value = w.id;
	const labels = w.labels && typeof w.labels === 'object' ? Object.keys(w.labels).sort() : [];
	const pods = Array.isArray(w.pods) ? w.pods : [];
	const pols = IX.selects.get(w.id) || [];
	d.append(el('h2', null, w.kind + ' ' + w.namespace + '/' + w.name),
		el('div', { class: 'labels' }, labels.length ? labels.map((k) => el('span', { data: { label: k } }, k + '=' + w.labels[k])) : el('span', null, 'no labels')),
		el('h3', null, plural(pods.length, 'pod')),
		el('table', { class: 'grid' }, el('tr', null, el('th', null, 'pod'), el('th', null, 'IP'), el('th', null, 'node')),
			pods.map((p) => el('tr', null, el('td', null, str(p.name)), el('td', null, str(p.ip)), el('td', null, str(p.node))))),
		el('h3', null, 'Policies that select it'),
		pols.length ? el('ul', null, pols.map((x) => el('li', null, (x.kind === 'proposal' ? 'proposed: ' : 'existing: ') + x.p.namespace + '/' + x.p.name, ' ',
			x.kind === 'proposal' ? el('a', { class: 'wl', on: { click: () => { propSel = x.p; dirty.add('proposals'); location.hash = '#proposals'; } } }, 'show') : null)))
			: el('p', { class: 'hint' }, 'none: every connection to and from it is allowed until a policy selects it'),
		el('h3', null, 'Inbound flows (' + (IX.inFlows.get(w.id) || []).length + ')'), flowTable(IX.inFlows.get(w.id) || [], 'from'),
		el('h3', null, 'Outbound flows (' + (IX.outFlows.get(w.id) || []).length + ')'), flowTable(IX.outFlows.get(w.id) || [], 'to'));
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
