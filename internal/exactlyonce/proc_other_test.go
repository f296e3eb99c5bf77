//go:build !linux

package exactlyonce

import "syscall"

func procAttr() *syscall.SysProcAttr { return nil }

// procRSS is only implemented on Linux.
func procRSS(int) (int64, bool) { return 0, false }
