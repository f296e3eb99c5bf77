package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// toolBinary returns the binary the environment variable env names, else
// <module root>/bin/name, installing it first from pkg@version when
// missing. A lock file under bin/ makes test packages running in parallel
// wait for one build instead of each starting its own.
func toolBinary(env, name, pkg, version string) (string, error) {
	if p := os.Getenv(env); p != "" {
		return p, nil
	}
	root, err := vgwModuleRoot()
	if err != nil {
		return "", err
	}
	bin, err := installTool(filepath.Join(root, "bin"), name, pkg, version)
	if err != nil {
		return "", fmt.Errorf("%w (or set %s to a prebuilt binary)", err, env)
	}
	return bin, nil
}

// installTool returns binDir/name, building it first with go install
// pkg@version if needed. The build goes to a temporary directory and is
// renamed into place, so no process ever runs a half-written binary.
func installTool(binDir, name, pkg, version string) (string, error) {
	bin := filepath.Join(binDir, name)
	if vgwIsExecutable(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(binDir, "."+name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := vgwLock(lock); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer vgwUnlock(lock)
	if vgwIsExecutable(bin) { // built by another package while we waited
		return bin, nil
	}
	tmp, err := os.MkdirTemp(binDir, "."+name+"-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), vgwInstallTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, GoTool(), "install", pkg+"@"+version)
	cmd.Dir = binDir
	cmd.Env = append(os.Environ(), "GOBIN="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", pkg, version, err, out)
	}
	if err := os.Rename(filepath.Join(tmp, name), bin); err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	return bin, nil
}
