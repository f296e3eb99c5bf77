package testenv

import "testing"

// HelmVersion is the Helm release the chart tests render with (the one
// `make tools` installs into bin/).
const HelmVersion = "v3.22.0"

// HelmBinEnv names a prebuilt helm binary to use instead of bin/helm.
const HelmBinEnv = "FLOWLAKE_HELM"

// Helm returns the helm binary, installing it into <module root>/bin
// when missing (a few minutes on a new machine).
func Helm(tb testing.TB) string {
	tb.Helper()
	bin, err := toolBinary(HelmBinEnv, "helm", "helm.sh/helm/v3/cmd/helm", HelmVersion)
	if err != nil {
		tb.Fatalf("helm: %v", err)
	}
	return bin
}
