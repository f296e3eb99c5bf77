//go:build unix && !linux

package testenv

import (
	"os"
	"syscall"
)

func vgwProcAttr() *syscall.SysProcAttr { return nil }

func vgwLock(f *os.File) error   { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }
func vgwUnlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
