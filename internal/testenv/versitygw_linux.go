package testenv

import (
	"os"
	"syscall"
)

// vgwProcAttr makes the kernel kill the gateway if the test binary dies without
// running its cleanups (a -timeout panic, a SIGKILL).
func vgwProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func lockFile(f *os.File) error   { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }
func unlockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
