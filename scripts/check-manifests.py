#!/usr/bin/python3
"""style.manifests: manifests/ renders with `kubectl kustomize` and is right.

1. Every object validates against the Kubernetes OpenAPI v3 documents of
   tests/data/openapi/ (components.schemas, found by the
   x-kubernetes-group-version-kind of each kind), unknown fields rejected
   as kubectl's strict validation does, required fields and enums checked.
2. The CRDs' openAPIV3Schema are structural (a type at every node, except
   int-or-string and preserve-unknown-fields ones), their printer columns
   point at fields of the schema, and examples/cluster/*.yaml validate
   against them (unknown fields rejected).
3. The objects hang together and grant least privilege: the DaemonSet runs
   as the ServiceAccount with --cluster, host network, capabilities exactly
   NET_ADMIN and NET_RAW with ALL dropped, a read-only root, no privilege
   escalation, probes, requests and limits, tolerations for every node,
   NODE_NAME and POD_NAMESPACE from the downward API; the ClusterRole bound
   to it grants every verb the agent uses (docs/cluster.md) and nothing
   else; no rule anywhere names secrets or a wildcard; the Lease Role is in
   the agent's namespace with resourceNames where the verb allows.

Usage: check-manifests.py TOP [MANIFESTS_DIR [EXAMPLES_DIR]]  (other copies,
for tests/style/test_manifests.py).  Exit 77 (skip) when kubectl is missing.
"""
import copy
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import jsonschema
import yaml

top = sys.argv[1]
mdir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(top, "manifests")
exdir = sys.argv[3] if len(sys.argv) > 3 else os.path.join(top, "examples/cluster")
kubectl = shutil.which("kubectl")
if not kubectl:
    print("manifests: kubectl is not installed, skipping")
    sys.exit(77)
out = subprocess.run([kubectl, "kustomize", mdir], check=True,
                     capture_output=True, text=True).stdout
docs = [d for d in yaml.safe_load_all(out) if d]
errors = []
by_kind = {}
for d in docs:
    for f in ("apiVersion", "kind", "metadata"):
        if f not in d:
            errors.append(f"object without {f}: {d}")
    by_kind.setdefault(d.get("kind"), []).append(d)

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
formats = jsonschema.FormatChecker()
formats.checks("date-time")(lambda v: not isinstance(v, str) or bool(RFC3339.match(v)))


# --- 1. the Kubernetes OpenAPI documents ---
def k8s_to_jsonschema(node):
    """An OpenAPI v3 schema of components.schemas as JSON Schema: refs into
    definitions, unknown fields rejected, int-or-string as the API server
    takes it."""
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k == "properties":
            out[k] = {name: k8s_to_jsonschema(sub) for name, sub in v.items()}
        elif k in ("items", "additionalProperties"):
            out[k] = k8s_to_jsonschema(v)
        elif k == "allOf":
            out[k] = [k8s_to_jsonschema(sub) for sub in v]
        elif k == "$ref":
            out[k] = v.replace("#/components/schemas/", "#/definitions/")
        elif not k.startswith("x-kubernetes-"):
            out[k] = v
    if out.get("format") == "int-or-string":
        return {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    if out.get("format") == "int32" and out.get("type") == "integer":
        out.update(minimum=-2**31, maximum=2**31 - 1)
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


openapi = {}   # (group, version, kind) -> JSON Schema with definitions
for path in sorted(glob.glob(os.path.join(top, "tests/data/openapi/*_openapi.json"))):
    with open(path) as f:
        oa = json.load(f)
    placeholders = set(oa.get("x-bulkhead-placeholders", []))
    defs = {}
    for name, s in oa["components"]["schemas"].items():
        if name in placeholders:
            defs[name] = {"not": {}, "description": f"{name}: a placeholder, not transcribed"}
        elif name == "io.k8s.apimachinery.pkg.api.resource.Quantity":
            defs[name] = {"anyOf": [{"type": "string"}, {"type": "number"}]}
        else:
            defs[name] = k8s_to_jsonschema(s)
    for name, s in oa["components"]["schemas"].items():
        for gvk in s.get("x-kubernetes-group-version-kind", []):
            root = {"$ref": "#/definitions/" + name, "definitions": defs}
            openapi[(gvk["group"], gvk["version"], gvk["kind"])] = root


def gvk_of(obj):
    gv = obj.get("apiVersion", "")
    group, _, version = gv.rpartition("/")
    return (group, version, obj.get("kind"))


def validate(obj, schema, what):
    v = jsonschema.Draft7Validator(schema, format_checker=formats)
    for e in sorted(v.iter_errors(obj), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        errors.append(f"{what}: {where}: {e.message[:300]}")


for d in docs:
    what = f"{d.get('kind')} {d.get('metadata', {}).get('name')}"
    schema = openapi.get(gvk_of(d))
    if schema is None:
        errors.append(f"{what}: no OpenAPI schema of {d.get('apiVersion')} {d.get('kind')}"
                      " in tests/data/openapi")
        continue
    validate(d, schema, what)


# --- 2. the CRDs and the examples ---
def structural(node, path, crd):
    """A structural schema: a type everywhere but where int-or-string or
    preserve-unknown-fields stands for it."""
    if not isinstance(node, dict):
        return
    if "type" not in node and not node.get("x-kubernetes-int-or-string") \
            and not node.get("x-kubernetes-preserve-unknown-fields"):
        errors.append(f"CRD {crd}: {path or '(root)'} has no type (not structural)")
    for k, sub in node.get("properties", {}).items():
        structural(sub, f"{path}.{k}", crd)
    if isinstance(node.get("items"), dict):
        structural(node["items"], path + "[]", crd)
    if isinstance(node.get("additionalProperties"), dict):
        structural(node["additionalProperties"], path + "{}", crd)


def crd_to_jsonschema(node):
    """A CRD's openAPIV3Schema as JSON Schema, unknown fields rejected."""
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k == "properties":
            out[k] = {name: crd_to_jsonschema(sub) for name, sub in v.items()}
        elif k in ("items", "additionalProperties", "not"):
            out[k] = crd_to_jsonschema(v)
        elif k in ("allOf", "anyOf", "oneOf"):
            out[k] = [crd_to_jsonschema(sub) for sub in v]
        elif not k.startswith("x-kubernetes-") and k != "nullable":
            out[k] = v
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if node.get("x-kubernetes-int-or-string"):
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.get("type") == "object" and "additionalProperties" not in out \
            and not node.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("properties", {})
        out["additionalProperties"] = False
    if out.get("format") == "int32":
        out.update(minimum=-2**31, maximum=2**31 - 1)
    return out


def has_path(schema, json_path):
    node = schema
    for part in json_path.lstrip(".").split("."):
        node = node.get("properties", {}).get(part)
        if node is None:
            return part in ("metadata",) or False
    return True


crd_schemas = {}
for crd in by_kind.get("CustomResourceDefinition", []):
    spec = crd["spec"]
    name = crd["metadata"]["name"]
    if name != f"{spec['names']['plural']}.{spec['group']}":
        errors.append(f"CRD {name}: the name must be PLURAL.GROUP")
    if spec["group"] != "bulkhead.io":
        errors.append(f"CRD {name}: group {spec['group']}, want bulkhead.io")
    for ver in spec["versions"]:
        schema = ver["schema"]["openAPIV3Schema"]
        structural(schema, "", name)
        for col in ver.get("additionalPrinterColumns", []):
            if not col["jsonPath"].startswith(".metadata") and not has_path(schema, col["jsonPath"]):
                errors.append(f"CRD {name}: printer column {col['name']} points at"
                              f" {col['jsonPath']}, which the schema lacks")
        key = (spec["group"], ver["name"], spec["names"]["kind"])
        js = crd_to_jsonschema(schema)
        # metadata is the API server's ObjectMeta, not the CRD's to describe.
        js["properties"]["metadata"] = {"type": "object"}
        crd_schemas[key] = (js, spec["scope"], ver)

for path in sorted(glob.glob(os.path.join(exdir, "*.yaml"))):
    for ex in yaml.safe_load_all(open(path)):
        if not ex:
            continue
        what = f"examples/cluster/{os.path.basename(path)} ({ex.get('kind')})"
        found = crd_schemas.get(gvk_of(ex))
        if found is None:
            errors.append(f"{what}: no CRD in manifests/ defines {ex.get('apiVersion')}"
                          f" {ex.get('kind')}")
            continue
        schema, scope, _ = found
        if (scope == "Namespaced") != ("namespace" in ex.get("metadata", {})):
            errors.append(f"{what}: {scope} object with the wrong metadata.namespace")
        validate(ex, schema, what)
want_crds = {("bulkhead.io", "v1alpha1", k): s for k, s in (
    ("NodeFlows", "Cluster"), ("Proposal", "Namespaced"), ("PolicyMode", "Cluster"))}
for key, scope in want_crds.items():
    if key not in crd_schemas:
        errors.append(f"no CRD for {key[2]}")
    elif crd_schemas[key][1] != scope:
        errors.append(f"CRD {key[2]}: scope {crd_schemas[key][1]}, want {scope}")
    else:
        has_status = "status" in crd_schemas[key][2].get("subresources", {})
        # docs/cluster.md: NodeFlows is written in one merge patch, spec and
        # status together; the others have a status subresource.
        if has_status != (key[2] != "NodeFlows"):
            errors.append(f"CRD {key[2]}: status subresource {'on' if has_status else 'off'}"
                          f", the contract says {'off' if has_status else 'on'}")


# --- 3. how the objects hang together, and least privilege ---
# (Objects the schemas rejected may lack what this part reads: a KeyError
# is reported, not raised.)
def hang_together():
    global agent_ns
    def one(kind, pred=lambda o: True):
        objs = [o for o in by_kind.get(kind, []) if pred(o)]
        if len(objs) != 1:
            errors.append(f"expected one {kind}, found {len(objs)}")
            return None
        return objs[0]


    ds = one("DaemonSet")
    sa = one("ServiceAccount")
    ns = one("Namespace")
    agent_role = one("ClusterRole", lambda o: o["metadata"]["name"] == "bulkhead-agent")
    binding = one("ClusterRoleBinding")
    lease_role = one("Role")
    lease_binding = one("RoleBinding")
    agent_ns = sa["metadata"]["namespace"] if sa else None
    if ns and agent_ns and ns["metadata"]["name"] != agent_ns:
        errors.append("the ServiceAccount is not in the manifests' Namespace")

    if ds and sa:
        spec = ds["spec"]["template"]["spec"]
        if ds["metadata"].get("namespace") != agent_ns:
            errors.append("the DaemonSet is not in the agent's namespace")
        if spec.get("serviceAccountName") != sa["metadata"]["name"]:
            errors.append("DaemonSet does not run as the ServiceAccount")
        if ds["spec"]["selector"]["matchLabels"].items() - ds["spec"]["template"]["metadata"]["labels"].items():
            errors.append("DaemonSet selector does not match its template labels")
        if not spec.get("hostNetwork"):
            errors.append("agent must run in the host network namespace")
        if not any(t.get("operator") == "Exists" and not t.get("key") and not t.get("effect")
                   for t in spec.get("tolerations", [])):
            errors.append("DaemonSet does not tolerate every taint (operator Exists, no key)")
        if len(spec["containers"]) != 1:
            errors.append("DaemonSet: one container expected")
        c = spec["containers"][0]
        args = c.get("args", [])
        if "--cluster" not in args:
            errors.append("agent does not run with --cluster")
        sc = c.get("securityContext", {})
        caps = sc.get("capabilities", {})
        if sorted(caps.get("add", [])) != ["NET_ADMIN", "NET_RAW"]:
            errors.append(f"agent capabilities add {caps.get('add')}, want exactly NET_ADMIN, NET_RAW")
        if caps.get("drop") != ["ALL"]:
            errors.append("agent does not drop ALL other capabilities")
        if sc.get("privileged"):
            errors.append("agent must not be privileged")
        if sc.get("readOnlyRootFilesystem") is not True:
            errors.append("agent root filesystem is not read-only")
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append("agent allows privilege escalation")
        for p in ("livenessProbe", "readinessProbe"):
            if p not in c:
                errors.append(f"agent has no {p}")
        res = c.get("resources", {})
        for k in ("cpu", "memory"):
            if k not in res.get("requests", {}):
                errors.append(f"agent has no {k} request")
        if "memory" not in res.get("limits", {}):
            errors.append("agent has no memory limit")
        env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
               for e in c.get("env", [])}
        if env.get("NODE_NAME") != "spec.nodeName":
            errors.append("NODE_NAME is not the downward API's spec.nodeName")
        if env.get("POD_NAMESPACE") != "metadata.namespace":
            errors.append("POD_NAMESPACE is not the downward API's metadata.namespace")
        if not any(p.get("name") == "metrics" for p in c.get("ports", [])):
            errors.append("agent has no metrics port")
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        state = [a.split("=", 1)[1] for a in args if a.startswith("--state-dir=")]
        if not state or "hostPath" not in vols.get(mounts.get(state[0]), {}):
            errors.append("the state directory is not on a hostPath")
        if "/tmp" not in mounts:
            errors.append("no writable /tmp under the read-only root (SQLite's temporary files)")

    SECRETLIKE = ("secrets", "*", "serviceaccounts/token", "tokenreviews", "certificatesigningrequests")
    for kind in ("ClusterRole", "Role"):
        for r in by_kind.get(kind, []):
            for rule in r.get("rules", []):
                for res in rule.get("resources", []):
                    if res in SECRETLIKE:
                        errors.append(f"{kind} {r['metadata']['name']} grants {res}")
                for v in rule.get("verbs", []):
                    if v in ("*", "escalate", "bind", "impersonate"):
                        errors.append(f"{kind} {r['metadata']['name']} grants verb {v}")
                if "*" in rule.get("apiGroups", []) or rule.get("nonResourceURLs"):
                    errors.append(f"{kind} {r['metadata']['name']} grants a wildcard group or a URL")


    def grants(role):
        out = set()
        for rule in role.get("rules", []):
            for g in rule["apiGroups"]:
                for r in rule["resources"]:
                    for v in rule["verbs"]:
                        out.add((g, r, v, tuple(rule.get("resourceNames", []))))
        return out


    # What the agent does (docs/cluster.md): (group, resource, verb).
    AGENT_NEEDS = set()
    for res in (("", "pods"), ("", "namespaces"), ("", "nodes"),
                ("networking.k8s.io", "networkpolicies")):
        AGENT_NEEDS |= {res + (v,) for v in ("get", "list", "watch")}
    AGENT_NEEDS |= {("bulkhead.io", "nodeflows", v)
                    for v in ("get", "list", "watch", "create", "patch", "update")}
    AGENT_NEEDS |= {("bulkhead.io", "proposals", v)
                    for v in ("get", "list", "watch", "create", "update", "patch", "delete")}
    AGENT_NEEDS |= {("bulkhead.io", "proposals/status", v) for v in ("get", "update", "patch")}
    # get/list/watch: the agents; create/update/patch: the verbs run in the
    # agent's pod (bulkhead enforce|preview|relearn, rbac.yaml says why).
    AGENT_NEEDS |= {("bulkhead.io", "policymodes", v)
                    for v in ("get", "list", "watch", "create", "update", "patch")}
    LEASE_NEEDS = {("coordination.k8s.io", "leases", v) for v in ("get", "create", "update")}

    if agent_role and binding and sa:
        if binding["roleRef"] != {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": agent_role["metadata"]["name"]}:
            errors.append("ClusterRoleBinding refers to another role")
        if [(s["kind"], s["name"], s.get("namespace")) for s in binding["subjects"]] != \
                [("ServiceAccount", sa["metadata"]["name"], agent_ns)]:
            errors.append("ClusterRoleBinding binds another subject")
        have = {g[:3] for g in grants(agent_role)}
        for need in sorted(AGENT_NEEDS - have):
            errors.append(f"ClusterRole {agent_role['metadata']['name']} cannot {need[2]}"
                          f" {need[1]} ({need[0] or 'core'})")
        for extra in sorted(have - AGENT_NEEDS):
            errors.append(f"ClusterRole {agent_role['metadata']['name']} grants {extra[2]}"
                          f" {extra[1]} ({extra[0] or 'core'}), which the agent does not use")
        for crd_key in want_crds:
            plural = crd_key[2].lower() + ("s" if crd_key[2] != "NodeFlows" else "")
            if ("bulkhead.io", plural, "watch") not in have:
                errors.append(f"ClusterRole cannot watch {plural}")
    if lease_role and lease_binding and sa:
        if lease_role["metadata"].get("namespace") != agent_ns:
            errors.append("the Lease Role is not in the agent's namespace")
        if lease_binding["roleRef"]["name"] != lease_role["metadata"]["name"] or \
                lease_binding["roleRef"]["kind"] != "Role":
            errors.append("the RoleBinding does not bind the Lease Role")
        if [(s["kind"], s["name"], s.get("namespace")) for s in lease_binding["subjects"]] != \
                [("ServiceAccount", sa["metadata"]["name"], agent_ns)]:
            errors.append("the Lease RoleBinding binds another subject")
        lg = grants(lease_role)
        if {g[:3] for g in lg} != LEASE_NEEDS:
            errors.append(f"the Lease Role grants {sorted({g[:3] for g in lg})},"
                          f" want exactly {sorted(LEASE_NEEDS)}")
        for g in lg:
            # create cannot be limited by name; get and update can.
            if g[2] != "create" and g[3] != ("bulkhead-proposer",):
                errors.append(f"the Lease Role grants {g[2]} on leases other than bulkhead-proposer")
    for r in by_kind.get("ClusterRoleBinding", []) + by_kind.get("RoleBinding", []):
        if r["roleRef"]["name"] not in ("bulkhead-agent", "bulkhead-agent-lease"):
            errors.append(f"{r['kind']} {r['metadata']['name']} binds {r['roleRef']['name']}")


try:
    hang_together()
except (KeyError, TypeError, IndexError) as e:
    errors.append(f"cannot check how the objects hang together: {e!r} is missing"
                  " (see the schema problems above)")

for e in errors:
    print("manifests:", e)
print(f"manifests: {len(docs)} objects, {len(openapi)} kinds in tests/data/openapi,"
      f" {len(crd_schemas)} CRDs, {len(errors)} problems")
sys.exit(1 if errors else 0)
