//go:build tools

// Package tools pins the upstream main packages that build.sh builds.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
