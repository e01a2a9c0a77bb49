//go:build tools

// Package tools pins the upstream main packages that build.sh builds.
package tools

import (
	_ "github.com/fluxcd/kustomize-controller"
)
