package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// toolBinary returns the binary the environment variable env names, else
// <module root>/bin/name, installing it first from pkg@version when
// missing. A lock file under bin/ makes test packages running in parallel
// wait for one build instead of each starting its own.
func toolBinary(env, name, pkg, version string) (string, error) {
	if p := os.Getenv(env); p != "" {
		return p, nil
	}
	root, err := moduleRoot()
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
	if isExecutable(bin) {
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
	if err := lockFile(lock); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer unlockFile(lock)
	if isExecutable(bin) { // built by another package while we waited
		return bin, nil
	}
	tmp, err := os.MkdirTemp(binDir, "."+name+"-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
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

// installTimeout bounds one go install of a tool.
const installTimeout = 15 * time.Minute

// moduleRoot returns the directory holding go.mod, walking up from the
// working directory (a test's working directory is its package directory).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// isExecutable reports whether p is a regular file someone may run.
func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
