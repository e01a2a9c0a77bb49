#!/usr/bin/env python3
"""Extracts the OpenAPI v3 schemas of the built-in kinds kube-sim serves (and of their lists
and the meta types its paths use) from Kubernetes' published specs (api/openapi-spec/v3 of the
k8s.io/kubernetes module), with every schema they reference. kube-sim builds the paths itself
(src/openapi.rs), for built-ins and CRDs alike.

    python3 crates/kube-sim/openapi/extract.py "$(go env GOMODCACHE)/k8s.io/kubernetes@v1.36.3"

A test in src/openapi.rs checks every served built-in kind has its schema here.
"""
import json
import os
import sys

# group/version -> served kinds (src/resources.rs BUILTINS).
SERVED = {
    "api/v1": ["Namespace", "Pod", "Event", "Secret", "ConfigMap", "Service", "ServiceAccount"],
    "apis/apps/v1": ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"],
    "apis/batch/v1": ["Job"],
    "apis/rbac.authorization.k8s.io/v1": ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"],
    "apis/apiextensions.k8s.io/v1": ["CustomResourceDefinition"],
    "apis/authentication.k8s.io/v1": ["TokenReview", "SelfSubjectReview"],
    "apis/authorization.k8s.io/v1": ["SubjectAccessReview", "SelfSubjectAccessReview", "LocalSubjectAccessReview"],
}

# What the generated paths refer to.
META = ["Status", "DeleteOptions", "Patch", "WatchEvent", "APIResourceList"]


def refs(value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "$ref" and isinstance(v, str):
                out.add(v.rsplit("/", 1)[-1])
            else:
                refs(v, out)
    elif isinstance(value, list):
        for v in value:
            refs(v, out)


def main():
    root = os.path.join(sys.argv[1], "api/openapi-spec/v3")
    here = os.path.dirname(os.path.abspath(__file__))
    for gv, plurals in SERVED.items():
        name = gv.replace("/", "__") + "_openapi.json"
        doc = json.load(open(os.path.join(root, name)))
        schemas = doc["components"]["schemas"]
        kinds = set(plurals) | {k + "List" for k in plurals}
        wanted = {"io.k8s.apimachinery.pkg.apis.meta.v1." + m for m in META}
        for key, schema in schemas.items():
            for gvk in schema.get("x-kubernetes-group-version-kind", []):
                if gv.endswith("/" + gvk["group"] + "/" + gvk["version"]) or (gvk["group"] == "" and gv == "api/v1"):
                    if gvk["kind"] in kinds:
                        wanted.add(key)
        todo = list(wanted)
        while todo:
            found = set()
            refs(schemas.get(todo.pop(), {}), found)
            for f in found - wanted:
                wanted.add(f)
                todo.append(f)
        out = {k: schemas[k] for k in sorted(wanted) if k in schemas}
        target = os.path.join(here, name.replace("_openapi.json", ".schemas.json"))
        with open(target, "w") as f:
            json.dump(out, f, separators=(",", ":"), sort_keys=True)
        print(f"{target}: {len(out)} schemas")


main()
