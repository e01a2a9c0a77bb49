#!/usr/bin/env bash
# Builds the real cluster's binaries from the pinned upstream Go modules beside this script, once
# per machine: target/real-cluster/<key>/bin/, where <key> hashes every go.mod and go.sum here and
# this script. Also copies the Flux CRDs of the same modules (each controller's config/crd/bases,
# from the module cache) into target/real-cluster/<key>/crds/ and kwok's stages into
# target/real-cluster/<key>/kwok/, points target/real-cluster/current
# at the result and prints the bin dir last.
#
# Environment: REAL_CLUSTER_OUT (default <repo>/target/real-cluster). The Go module and build
# caches stay at Go's defaults so every checkout on the machine shares them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out_root=${REAL_CLUSTER_OUT:-$repo/target/real-cluster}

# name | module dir | package | extra ldflags
binaries=(
  "etcd|etcd|.|"
  "kube-apiserver|kubernetes|k8s.io/kubernetes/cmd/kube-apiserver|K8S"
  "kube-controller-manager|kubernetes|k8s.io/kubernetes/cmd/kube-controller-manager|K8S"
  "kube-scheduler|kubernetes|k8s.io/kubernetes/cmd/kube-scheduler|K8S"
  "kwok|kwok|sigs.k8s.io/kwok/cmd/kwok|"
  "source-controller|source-controller|github.com/fluxcd/source-controller|"
  "kustomize-controller|kustomize-controller|github.com/fluxcd/kustomize-controller|"
  "helm-controller|helm-controller|github.com/fluxcd/helm-controller|"
  "flux|flux|github.com/fluxcd/flux2/v2/cmd/flux|FLUX"
)
# module dir | upstream module whose config/crd/bases holds CRDs
crd_modules=(
  "source-controller|github.com/fluxcd/source-controller"
  "kustomize-controller|github.com/fluxcd/kustomize-controller"
  "helm-controller|github.com/fluxcd/helm-controller"
)

key=$(cd "$here" && cat build.sh */go.mod */go.sum | sha256sum | cut -c1-16)
out=$out_root/$key
mkdir -p "$out/bin" "$out/crds"

module_version() { # module dir, module path
  (cd "$here/$1" && go list -m -f '{{.Version}}' "$2")
}

for entry in "${crd_modules[@]}"; do
  IFS='|' read -r dir mod <<<"$entry"
  src=$(cd "$here/$dir" && go list -m -f '{{.Dir}}' "$mod")
  if [ -z "$src" ] || [ ! -d "$src/config/crd/bases" ]; then
    (cd "$here/$dir" && go mod download "$mod")
    src=$(cd "$here/$dir" && go list -m -f '{{.Dir}}' "$mod")
  fi
  for f in "$src"/config/crd/bases/*.yaml; do
    install -m 0644 "$f" "$out/crds/$(basename "$f")"
  done
done
echo "crds: $(ls "$out/crds" | wc -l) files in $out/crds"

# kwok's own stages, as kwokctl uses them: nodes become Ready and keep a heartbeat, pods become
# Running and Ready, finish and are deleted.
kwok_src=$(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
mkdir -p "$out/kwok"
for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml pod/fast/pod-ready.yaml \
  pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  install -m 0644 "$kwok_src/kustomize/stage/$f" "$out/kwok/$(basename "$f")"
done

total=${#binaries[@]}
i=0
for entry in "${binaries[@]}"; do
  IFS='|' read -r name dir pkg extra <<<"$entry"
  i=$((i + 1))
  if [ -x "$out/bin/$name" ]; then
    echo "[$i/$total] $name: present"
    continue
  fi
  ldflags="-s -w"
  case "$extra" in
    K8S)
      v=$(module_version "$dir" k8s.io/kubernetes)
      minor=$(echo "$v" | cut -d. -f2)
      for var in "gitVersion=$v" "gitMajor=1" "gitMinor=$minor" "gitTreeState=clean" \
        "buildDate=1970-01-01T00:00:00Z"; do
        ldflags="$ldflags -X k8s.io/component-base/version.$var"
      done
      ;;
    FLUX)
      v=$(module_version "$dir" github.com/fluxcd/flux2/v2)
      ldflags="$ldflags -X main.VERSION=${v#v}"
      ;;
  esac
  echo "[$i/$total] $name: building $pkg (module $dir)..."
  start=$(date +%s)
  build_dir=$here/$dir
  if [ "$extra" = FLUX ]; then
    # cmd/flux embeds manifests/*.yaml, which flux2's release process generates from downloaded
    # release assets and which its module does not ship: build a copy of the module (with its
    # own go.mod and go.sum, the versions flux2 pins) whose manifests are the CRDs above. They
    # only feed `flux install` and `flux bootstrap`, which nothing here uses.
    (cd "$here/$dir" && go mod download github.com/fluxcd/flux2/v2)
    src=$(cd "$here/$dir" && go list -m -f '{{.Dir}}' github.com/fluxcd/flux2/v2)
    build_dir=$out/src/flux2
    rm -rf "$build_dir"
    mkdir -p "$(dirname "$build_dir")"
    cp -r "$src" "$build_dir"
    chmod -R u+w "$build_dir"
    mkdir -p "$build_dir/cmd/flux/manifests"
    cp "$out"/crds/*.yaml "$build_dir/cmd/flux/manifests/"
    pkg=./cmd/flux
  fi
  (cd "$build_dir" && nice -n 10 go build -buildvcs=false -trimpath -ldflags "$ldflags" -o "$out/bin/$name.tmp" "$pkg")
  mv "$out/bin/$name.tmp" "$out/bin/$name"
  if [ "$extra" = FLUX ]; then
    rm -rf "$out/src"
  fi
  echo "[$i/$total] $name: built in $(($(date +%s) - start)) s"
done

ln -sfn "$key" "$out_root/current"
# Builds of other go.mod/go.sum versions are stale (the Go build cache keeps relinking cheap).
for old in "$out_root"/*; do
  if [ ! -L "$old" ] && [ -d "$old/bin" ] && [ "$(basename "$old")" != "$key" ]; then
    rm -rf "$old"
  fi
done
echo "bin: $out/bin"
