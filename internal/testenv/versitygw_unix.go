//go:build unix && !linux

package testenv

import (
	"os"
	"syscall"
)

func vgwProcAttr() *syscall.SysProcAttr { return nil }

func lockFile(f *os.File) error   { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }
func unlockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
